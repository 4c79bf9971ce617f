"""A connector image seen through the Python CDK's `Source` interface.

Airbyte's standard tests run half of their checks "in-process": they hand a Python `Source`
object to the CDK's `AirbyteEntrypoint`, which parses the arguments, validates the config
against the spec and frames the answers as protocol messages. Our connectors are Rust binaries,
so `ImageSource` is that object for an image: every call runs the image once through the
`docker` CLI (podman behind a shim in `scripts/test-images`), with the config, catalog and state
written to a private directory mounted read-only at `/secrets`, and turns the image's stdout
back into the CDK's message objects. Nothing is reimplemented here: the image answers every
question, the CDK only carries the answers.

The image's stdout must be Airbyte protocol messages only, one JSON object a line; anything
else fails the call, as it would fail a sync on the platform.
"""

from __future__ import annotations

import json
import logging
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
    ConnectorSpecification,
    FailureType,
    Level,
    TraceType,
    Type,
)
from airbyte_cdk.sources import Source
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

#: Where the image sees the files of one call.
CONTAINER_DIR = "/secrets"

#: How much of the image's stderr an error quotes.
STDERR_TAIL = 2000

_LOG_LEVELS = {
    Level.FATAL: logging.CRITICAL,
    Level.ERROR: logging.ERROR,
    Level.WARN: logging.WARNING,
    Level.INFO: logging.INFO,
    Level.DEBUG: logging.DEBUG,
    Level.TRACE: logging.DEBUG,
}

# `spec` does not depend on any input, and the CDK asks for it before every command and again
# for every secret-leak check: one run per image is enough.
_spec_cache: dict[str, ConnectorSpecification] = {}


class ImageRun:
    """What one run of the image printed, and how it exited."""

    def __init__(self, command: list[str], completed: subprocess.CompletedProcess[str]) -> None:
        self.command = command
        self.returncode = completed.returncode
        self.stderr = completed.stderr or ""
        self.messages: list[AirbyteMessage] = []
        for number, line in enumerate(completed.stdout.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                self.messages.append(AirbyteMessageSerializer.load(json.loads(line)))
            except Exception as error:  # not JSON, or not a protocol message
                raise AssertionError(
                    f"`{' '.join(command)}` printed a line that is not an Airbyte message "
                    f"(stdout line {number}): {error}: {line[:300]!r}"
                ) from None

    def of_type(self, kind: Type) -> list[AirbyteMessage]:
        return [message for message in self.messages if message.type == kind]

    def error_traces(self) -> list[AirbyteMessage]:
        return [
            message
            for message in self.of_type(Type.TRACE)
            if message.trace is not None and message.trace.type == TraceType.ERROR
        ]

    def failure(self, what: str) -> AirbyteTracedException:
        """The image's own error as the exception a Python source would have raised.

        A TRACE error keeps its message and failure type, so the CDK treats it exactly as it
        treats a Python connector's (a `config_error` during `check` becomes a FAILED status).
        Without one, the exit code and the end of stderr say what happened.
        """
        traces = self.error_traces()
        if traces and traces[-1].trace is not None and traces[-1].trace.error is not None:
            error = traces[-1].trace.error
            return AirbyteTracedException(
                message=error.message,
                internal_message=error.internal_message,
                failure_type=error.failure_type or FailureType.system_error,
            )
        return AirbyteTracedException(
            message=f"The connector image failed during {what}.",
            internal_message=(
                f"`{' '.join(self.command)}` exited {self.returncode} without a TRACE error; "
                f"stderr: {self.stderr[-STDERR_TAIL:]}"
            ),
            failure_type=FailureType.system_error,
        )

    def forward_logs(self, logger: logging.Logger) -> None:
        for message in self.of_type(Type.LOG):
            if message.log is not None:
                logger.log(_LOG_LEVELS.get(message.log.level, logging.INFO), message.log.message)


class ImageSource(Source):
    """The `Source` that runs one connector image for every command."""

    def __init__(self, image: str) -> None:
        self.image = image

    def _run(
        self,
        verb: str,
        *,
        config: Mapping[str, Any] | None = None,
        catalog: ConfiguredAirbyteCatalog | None = None,
        state: list[AirbyteStateMessage] | None = None,
    ) -> ImageRun:
        with tempfile.TemporaryDirectory(prefix="image-source-") as directory:
            files = Path(directory)
            # The image runs as an unprivileged user: it must be able to read what it is given.
            files.chmod(0o755)
            arguments: list[str] = []
            inputs: list[tuple[str, Any]] = []
            if config is not None:
                inputs.append(("config", dict(config)))
            if catalog is not None:
                inputs.append(("catalog", ConfiguredAirbyteCatalogSerializer.dump(catalog)))
            if state:
                inputs.append(("state", [AirbyteStateMessageSerializer.dump(s) for s in state]))
            for name, content in inputs:
                path = files / f"{name}.json"
                path.write_text(json.dumps(content), encoding="utf-8")
                path.chmod(0o644)
                arguments += [f"--{name}", f"{CONTAINER_DIR}/{name}.json"]
            command = ["docker", "run", "--rm"]
            if inputs:
                command += ["-v", f"{files}:{CONTAINER_DIR}:ro"]
            command += [self.image, verb, *arguments]
            completed = subprocess.run(
                command, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
            )
            return ImageRun(command, completed)

    def spec(self, logger: logging.Logger) -> ConnectorSpecification:
        cached = _spec_cache.get(self.image)
        if cached is not None:
            return cached
        run = self._run("spec")
        specs = run.of_type(Type.SPEC)
        if run.returncode != 0 or len(specs) != 1 or specs[0].spec is None:
            raise run.failure("spec")
        _spec_cache[self.image] = specs[0].spec
        return specs[0].spec

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        run = self._run("check", config=config)
        run.forward_logs(logger)
        statuses = run.of_type(Type.CONNECTION_STATUS)
        if run.returncode != 0 or not statuses or statuses[-1].connectionStatus is None:
            raise run.failure("check")
        return statuses[-1].connectionStatus

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        run = self._run("discover", config=config)
        run.forward_logs(logger)
        catalogs = run.of_type(Type.CATALOG)
        if run.returncode != 0 or len(catalogs) != 1 or catalogs[0].catalog is None:
            raise run.failure("discover")
        return catalogs[0].catalog

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: list[AirbyteStateMessage] | None = None,
    ) -> Iterator[AirbyteMessage]:
        run = self._run("read", config=config, catalog=catalog, state=state)
        # Every message, errors included, goes to the CDK as the image printed it; a failed
        # run then raises, as a Python source's read would.
        yield from run.messages
        if run.returncode != 0:
            raise run.failure("read")


__all__ = ["ImageRun", "ImageSource"]
