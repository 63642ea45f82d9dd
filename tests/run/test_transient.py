"""Which failed step logs look transient (pure), and ``[tool.amoskys.retry]``."""

from __future__ import annotations

import pytest

from amoskys.errors import ConfigError, Location
from amoskys.run.transient import (
    RetryConfig,
    configured_indexes,
    delay,
    find_transient,
    parse_retry,
    retry_note,
)

WHERE = Location("pyproject.toml")


@pytest.mark.parametrize(
    "line, pattern",
    [
        ("curl: (56) Recv failure: Connection reset by peer", "connection reset"),
        ("ConnectionResetError: [Errno 104] Connection reset by peer", "connection reset"),
        (
            "pip._vendor.urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool("
            "host='files.pythonhosted.org', port=443): Read timed out.",
            "read timed out",
        ),
        (
            "Failed to establish a new connection: [Errno -3] Temporary failure in name "
            "resolution",
            "temporary failure in name resolution",
        ),
        (
            "fatal: unable to access 'https://x/': Could not resolve host: x",
            "could not resolve host",
        ),
        (
            "ERROR: HTTP error 503 while getting https://files.pythonhosted.org/packages/a.whl",
            "HTTP 503 from a package index",
        ),
        (
            "  Caused by: HTTP status server error (502 Bad Gateway) for url "
            "(https://pypi.org/simple/click/)",
            "HTTP 502 from a package index",
        ),
    ],
)
def test_transient_failures_are_recognised(line: str, pattern: str) -> None:
    found = find_transient(["Collecting click", line, "error: exit 1"])
    assert found is not None and found.pattern == pattern
    assert found.line == line.strip()[:200]


def test_a_5xx_counts_only_near_a_package_index() -> None:
    assert (
        find_transient(
            [
                "requests.exceptions.HTTPError: 500 Server Error: for url: "
                "http://localhost:8000/api"
            ]
        )
        is None
    )
    uv = [
        "error: Failed to fetch: `https://pypi.org/simple/click/`",
        "  Caused by: HTTP status server error (503 Service Unavailable)",
    ]
    assert find_transient(uv) is not None
    private = ["HTTP error 504 while getting https://pkgs.example.com/x.whl"]
    assert find_transient(private) is None
    found = find_transient(private, indexes=["https://pkgs.example.com/"])
    assert found is not None and found.pattern == "HTTP 504 from a package index"


@pytest.mark.parametrize(
    "lines",
    [
        ["FAILED tests/test_x.py::test_a - AssertionError: assert 1 == 2"],
        ["ERROR: No matching distribution found for nosuchpackage==9.9"],
        ["ConnectionRefusedError: [Errno 111] Connection refused"],
        ["OSError: [Errno 101] Network is unreachable"],
        ["ERROR: HTTP error 404 while getting https://files.pythonhosted.org/x.whl"],
        [],
    ],
)
def test_other_failures_are_not_transient(lines: list[str]) -> None:
    assert find_transient(lines) is None


@pytest.mark.parametrize(
    "last",
    [
        "FAILED tests/test_x.py::test_a - AssertionError: the handler swallowed the reset",
        "=================== 1 failed, 3 passed in 0.21s ===================",
        "1 failed in 0.21s",
        "ERROR tests/test_x.py::test_b - OSError: boom",
        "============ 2 passed, 1 error in 1.02s ============",
        "FAILED (failures=1, errors=1)",
    ],
)
def test_a_log_where_pytest_reports_failed_tests_is_not_transient(last: str) -> None:
    captured = [
        "----------------------------- Captured stdout call -----------------------------",
        "ConnectionResetError: [Errno 104] Connection reset by peer",
    ]
    assert find_transient(captured) is not None  # alone, the line looks transient
    assert find_transient([*captured, last]) is None


def test_configured_indexes_from_the_environment() -> None:
    env = {"PIP_INDEX_URL": "https://a/simple", "UV_EXTRA_INDEX_URL": "https://b https://c"}
    assert configured_indexes(env) == ["https://a/simple", "https://b", "https://c"]


def test_backoff_doubles_up_to_a_bound() -> None:
    config = RetryConfig(attempts=5, backoff=2.0)
    assert [delay(n, config) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert delay(20, config) == config.max_delay
    assert delay(3, RetryConfig(backoff=0)) == 0
    why = find_transient(["Connection reset by peer"])
    assert why is not None
    note = retry_note("install", 2, RetryConfig(attempts=2, backoff=2.0), why)
    assert note.startswith(
        "retrying step install (attempt 2 of 3) in 2s: matched 'connection reset'"
    )


def test_retry_config_values_and_errors() -> None:
    assert parse_retry(None, WHERE) == RetryConfig(attempts=2, backoff=2.0)
    assert parse_retry({"attempts": 0, "backoff": 1}, WHERE) == RetryConfig(0, 1.0)
    for section, words in [
        ({"attempts": -1}, "attempts must be a whole number from 0 to 10"),
        ({"attempts": 1.5}, "attempts must be a whole number"),
        ({"backoff": "2s"}, "backoff must be seconds from 0 to 600"),
        ({"delay": 1}, "unknown key(s) in tool.amoskys.retry: delay"),
        ([1], "tool.amoskys.retry must be a table"),
    ]:
        with pytest.raises(ConfigError) as caught:
            parse_retry(section, WHERE)
        assert words in caught.value.message and caught.value.location == WHERE
