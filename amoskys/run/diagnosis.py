"""Why a step failed, when its log says so plainly: for now, an unreachable network service.

Tools such as pip-audit and Safety need their online service; on a machine without the
network they fail with a connection error buried in a traceback. Saying so in the summary
is honest and saves the reader the search.
"""

from __future__ import annotations

import re
from typing import Iterable

_NETWORK = re.compile(
    r"temporary failure in name resolution|name or service not known|nodename nor servname"
    r"|failed to establish a new connection|connection refused|connection reset"
    r"|max retries exceeded|nameresolutionerror|network is unreachable|read timed out"
    r"|connecttimeout|connecterror|getaddrinfo failed|could not resolve host|proxyerror"
    r"|no route to host|unable to connect to|could not connect to|timed out while connecting",
    re.IGNORECASE,
)


def network_evidence(lines: Iterable[str]) -> str | None:
    """The first log line that shows a connection failure, or None."""
    for line in lines:
        if _NETWORK.search(line):
            return line.strip()[:200]
    return None


def failure_message(exit_code: int | None, lines: Iterable[str]) -> str:
    """GitHub's ``Process completed with exit code N.``, plus a network diagnosis if any."""
    message = f"Process completed with exit code {exit_code}."
    evidence = network_evidence(lines)
    if evidence is not None:
        message += (
            " The step could not reach a network service it needs (this machine may be "
            f"offline): {evidence}"
        )
    return message
