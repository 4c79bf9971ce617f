"""How `ImageRun` reads what an image printed: no container needed."""

from __future__ import annotations

import json
import subprocess

import pytest
from airbyte_cdk.models import FailureType, Type

from image_source import ImageRun

COMMAND = ["docker", "run", "--rm", "localhost/source-example:1.0.0", "check"]


def _run(stdout: str, returncode: int = 0, stderr: str = "") -> ImageRun:
    completed = subprocess.CompletedProcess(COMMAND, returncode, stdout=stdout, stderr=stderr)
    return ImageRun(COMMAND, completed)


def _line(message: dict) -> str:
    return json.dumps(message) + "\n"


LOG = {"type": "LOG", "log": {"level": "INFO", "message": "checking"}}
STATUS = {"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED"}}
TRACE = {
    "type": "TRACE",
    "trace": {
        "type": "ERROR",
        "emitted_at": 1718452800000.0,
        "error": {
            "message": "The API key was rejected.",
            "internal_message": "401 Unauthorized",
            "failure_type": "config_error",
        },
    },
}


def test_protocol_lines_become_messages_in_order() -> None:
    run = _run(_line(LOG) + "\n" + _line(STATUS))
    assert [m.type for m in run.messages] == [Type.LOG, Type.CONNECTION_STATUS]
    assert run.of_type(Type.CONNECTION_STATUS)[0].connectionStatus.status.value == "SUCCEEDED"
    assert run.error_traces() == []


@pytest.mark.parametrize(
    "line",
    ["Starting the connector...", "[1, 2]", '{"type": "NOT_A_TYPE"}', '{"type": "LOG"'],
)
def test_a_line_that_is_not_a_protocol_message_fails_the_run(line: str) -> None:
    with pytest.raises(AssertionError, match="stdout line 2"):
        _run(_line(LOG) + line + "\n")


def test_a_trace_error_keeps_its_message_and_failure_type() -> None:
    failure = _run(_line(LOG) + _line(TRACE), returncode=1).failure("check")
    assert failure.message == "The API key was rejected."
    assert failure.internal_message == "401 Unauthorized"
    assert failure.failure_type == FailureType.config_error


def test_a_failure_without_trace_names_the_exit_code_and_stderr() -> None:
    failure = _run("", returncode=125, stderr="Error: image not known").failure("discover")
    assert failure.failure_type == FailureType.system_error
    assert "during discover" in failure.message
    assert "exited 125" in failure.internal_message
    assert "image not known" in failure.internal_message
