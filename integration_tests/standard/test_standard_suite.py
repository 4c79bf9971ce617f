"""Airbyte's standard connector tests (`airbyte_cdk.test.standard_tests`) for our three images.

Each class below is the CDK's `SourceTestSuiteBase`, unchanged, pointed at one image:

- the image tests (`test_docker_image_*`, what `airbyte-cdk image test` runs) call the `docker`
  CLI with the image, as they would for any connector;
- the in-process tests (`test_spec`, `test_check`, `test_discover`, `test_basic_read`,
  `test_fail_read_with_bad_catalog`, `test_config_matches_spec`) run the CDK's entrypoint over
  `ImageSource`, which runs the same image for every command.

`scripts/test-images` builds the images and prepares everything this module reads:

- `STANDARD_SUITE_DIR`: one directory per connector, laid out as Airbyte's tooling expects a
  connector directory (`metadata.yaml`, `acceptance-test-config.yml`, `integration_tests/`),
  and `images.json`, the image to test for each connector;
- a `docker` on PATH that reaches the demo's sample API (podman in `scripts/test-images`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from image_source import ImageSource


def _suite_dir() -> Path:
    value = os.environ.get("STANDARD_SUITE_DIR")
    if not value:
        raise RuntimeError(
            "STANDARD_SUITE_DIR is not set: run these tests through `scripts/test-images`, "
            "which builds the images and prepares the connector directories"
        )
    return Path(value)


def _image(connector: str) -> str:
    images_file = _suite_dir() / "images.json"
    images = json.loads(images_file.read_text(encoding="utf-8"))
    if connector not in images:
        raise RuntimeError(f"{images_file} names no image for {connector}")
    return str(images[connector])


class ImageSuite(SourceTestSuiteBase):
    """The CDK's source suite for the image of `CONNECTOR`."""

    CONNECTOR = ""

    @classmethod
    def get_connector_root_dir(cls) -> Path:
        return _suite_dir() / cls.CONNECTOR

    @classmethod
    def create_connector(cls, scenario: ConnectorTestScenario | None) -> ImageSource:
        return ImageSource(_image(cls.CONNECTOR))

    @pytest.fixture
    def connector_image_override(self) -> str:
        """The image the `test_docker_image_*` tests run, instead of one they would build."""
        return _image(self.CONNECTOR)

    # The suite's in-process `test_config_matches_spec` passes the scenario's catalog to `spec`
    # (`spec --catalog ...`), which the CDK's own argument parser rejects with SystemExit before
    # any connector runs. The same assertion runs against the image in
    # `test_docker_image_build_and_config_matches_spec`. Strict: if the suite is fixed, this
    # fails, and the mark must go.
    @pytest.mark.xfail(
        raises=SystemExit,
        strict=True,
        reason="the suite passes --catalog to `spec` in-process; checked against the image instead",
    )
    def test_config_matches_spec(self, scenario: ConnectorTestScenario) -> None:
        super().test_config_matches_spec(scenario)


class TestSourceTiktokMarketing(ImageSuite):
    CONNECTOR = "source-tiktok-marketing"


class TestSourcePinterest(ImageSuite):
    CONNECTOR = "source-pinterest"


class TestSourceKlaviyo(ImageSuite):
    CONNECTOR = "source-klaviyo"
