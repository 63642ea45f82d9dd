"""Transient failures: which failed step is worth running again, and how long to wait first.

A ``run:`` step that failed because the network hiccuped (a connection reset by peer, a read
that timed out, a name that did not resolve for a moment, a package index answering 5xx) may
well pass a few seconds later; a step that failed for any other reason will fail again, and
running it twice only hides the failure for longer. So a failed step is retried only when its
log shows one of :data:`PATTERNS`, at most ``[tool.amoskys.retry] attempts`` times, waiting
``backoff`` seconds, then twice that, and so on.

An HTTP 5xx counts only when it comes from a package index: a line (or the lines around it)
naming pypi.org, files.pythonhosted.org, a ``/simple/`` index URL, or an index the step
configured (``--index-url``, ``PIP_INDEX_URL``, ``UV_INDEX_URL``...). A 500 from the project's
own server under test is a real failure.

"Connection refused" and "network is unreachable" are not transient: the service is not there
at all, or the machine is offline (:mod:`amoskys.run.diagnosis` says so in the summary).

A step whose log shows pytest (or unittest) reporting failed tests failed because of those
tests, whatever text they printed: a test that prints or asserts about a connection reset
and fails is a real failure, and a test that needs a re-run is pytest's business
(``[tool.amoskys.flaky] reruns``, recorded as flaky), not a silent re-run of the whole step.

Pure functions; :mod:`amoskys.run.job` does the waiting and the running.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from amoskys.config_section import section
from amoskys.errors import Location

PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("connection reset", re.compile(r"connection reset|ConnectionResetError|ECONNRESET", re.I)),
    (
        "read timed out",
        re.compile(r"read timed out|ReadTimeout(Error)?\b|timed out while reading", re.I),
    ),
    ("connection timed out", re.compile(r"connect(ion)? ?timed out|ConnectTimeout", re.I)),
    (
        "temporary failure in name resolution",
        re.compile(r"temporary failure in name resolution|EAI_AGAIN", re.I),
    ),
    ("could not resolve host", re.compile(r"could not resolve host", re.I)),
    (
        "connection aborted",
        re.compile(r"connection aborted|RemoteDisconnected|IncompleteRead", re.I),
    ),
)
"""(what to call it, how to find it) for failures that are worth a retry on their own."""

_HTTP_5XX = re.compile(
    r"\bHTTP(?: error| status| Error|/\d(?:\.\d)?)?\D{0,40}?\b(5\d\d)\b"
    r"|\b(5\d\d) (?:Server Error|Internal Server Error|Bad Gateway|Service Unavailable"
    r"|Gateway Time-?out)"
    r"|too many (5\d\d) error responses",
    re.I,
)
_INDEX = re.compile(
    r"pypi\.org|pythonhosted\.org|/simple/|/simple\b|--(?:extra-)?index-url"
    r"|(?:PIP|UV)_(?:EXTRA_)?INDEX_URL|package index",
    re.I,
)
NEARBY = 3
"""An HTTP 5xx line counts when an index is named this many lines before or after it."""
_PYTEST_FAILED = re.compile(
    r"^(?:FAILED|ERROR) \S+(?:::|\s+-\s)"  # the short test summary: FAILED tests/x.py::t - ...
    r"|\b\d+ (?:failed|errors?)\b.*\bin \d+(?:\.\d+)?s\b"  # the final line: 1 failed in 0.2s
    r"|^FAILED \((?:failures|errors)=\d+"  # unittest's last line: FAILED (failures=1)
)
"""pytest's (and unittest's) own report of failed tests (pytest's short summary, the last
line)."""


@dataclass(frozen=True)
class RetryConfig:
    """``[tool.amoskys.retry]``: how often a transient step failure is retried."""

    attempts: int = 2  # retries after the first attempt (so at most attempts + 1 runs)
    backoff: float = 2.0  # seconds before the first retry; doubled before each next one
    max_delay: float = 60.0


RETRY_KEYS = ("attempts", "backoff")


@dataclass(frozen=True)
class Transient:
    """Why a failure looks transient: the pattern's name and the log line that matched."""

    pattern: str
    line: str


def find_transient(lines: Sequence[str], *, indexes: Iterable[str] = ()) -> Transient | None:
    """The first sign in ``lines`` (a failed step's log) that the failure was transient;
    None when pytest reported failed tests in it.

    ``indexes`` are extra package index hosts or URLs (the step's own configuration).
    """
    extra = [value.strip() for value in indexes if value.strip()]
    if any(_PYTEST_FAILED.search(line.strip().strip("=").strip()) for line in lines):
        return None  # pytest says which tests failed: a test failure, not a network hiccup
    for position, line in enumerate(lines):
        for name, pattern in PATTERNS:
            if pattern.search(line):
                return Transient(name, line.strip()[:200])
        found = _HTTP_5XX.search(line)
        if found is None:
            continue
        window = lines[max(0, position - NEARBY) : position + NEARBY + 1]
        if any(_names_index(text, extra) for text in window):
            code = next(group for group in found.groups() if group)
            return Transient(f"HTTP {code} from a package index", line.strip()[:200])
    return None


def _names_index(text: str, extra: Sequence[str]) -> bool:
    return bool(_INDEX.search(text)) or any(value in text for value in extra)


def configured_indexes(env: Any) -> list[str]:
    """Package index URLs a step's environment configures (pip's and uv's variables)."""
    found: list[str] = []
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL"):
        value = env.get(name, "") if hasattr(env, "get") else ""
        found.extend(part for part in str(value).split() if part)
    return found


def delay(retry: int, config: RetryConfig) -> float:
    """Seconds to wait before retry number ``retry`` (1 for the first)."""
    return float(min(config.max_delay, config.backoff * 2 ** max(0, retry - 1)))


def retry_note(step: str, attempt: int, config: RetryConfig, why: Transient) -> str:
    """The log line that says a step runs again, and why."""
    return (
        f"retrying step {step} (attempt {attempt} of {config.attempts + 1}) in "
        f"{delay(attempt - 1, config):g}s: matched '{why.pattern}': {why.line}"
    )


def parse_retry(value: Any, where: Location) -> RetryConfig:
    """``[tool.amoskys.retry]`` into a :class:`RetryConfig`; a bad value is a ConfigError."""
    table = section(
        value,
        "retry",
        where,
        keys=RETRY_KEYS,
        hint="write [tool.amoskys.retry] with attempts = 2, backoff = 2.0",
    )
    defaults = RetryConfig()
    return RetryConfig(
        attempts=table.whole(
            "attempts",
            defaults.attempts,
            valid=lambda n: 0 <= n <= 10,
            what="a whole number from 0 to 10",
            hint="retries after the first attempt; 0 turns retrying off",
        ),
        backoff=table.number(
            "backoff",
            defaults.backoff,
            valid=lambda x: 0 <= x <= 600,
            what="seconds from 0 to 600",
            hint="the wait before the first retry, doubled before each next one, e.g. 2.0",
        ),
    )
