"""Failure diagnosis from a step's log lines."""

from __future__ import annotations

import pytest

from amoskys.run.diagnosis import failure_message, network_evidence


@pytest.mark.parametrize(
    "line",
    [
        "httpx.ConnectError: [Errno -2] Name or service not known",
        "socket.gaierror: [Errno -3] Temporary failure in name resolution",
        "urllib3.exceptions.MaxRetryError: HTTPSConnectionPool(host='pypi.org'): Max retries "
        "exceeded with url: /pypi/click/json",
        "requests.exceptions.ConnectionError: Failed to establish a new connection",
        "curl: (6) Could not resolve host: example.com",
        "OSError: [Errno 101] Network is unreachable",
    ],
)
def test_connection_failures_are_recognised(line: str) -> None:
    assert network_evidence(["some output", line]) == line.strip()
    assert "could not reach a network service" in failure_message(1, [line])


def test_ordinary_failures_are_not_called_network_failures() -> None:
    lines = ["FAILED tests/test_x.py::test_y - AssertionError: assert 1 == 2", "1 failed"]
    assert network_evidence(lines) is None
    assert failure_message(1, lines) == "Process completed with exit code 1."
