"""Every collector by format name, and :func:`collect` to pick one.

================  =======================================================  ==============
format            reads                                                    category
================  =======================================================  ==============
``black``         ``black --check`` (and ``--diff``) output                format
``isort``         ``isort --check-only`` (and ``--diff``) output           imports
``flake8``        flake8's text format (JSON is recognised)                style
``flake8-json``   flake8-json's ``--format=json`` / ``json-pretty``        style
``mypy``          mypy's text output (``-O json`` is recognised)           types
``mypy-json``     ``mypy -O json``                                         types
``bandit``        ``bandit -f json``                                       code-security
``pip-audit``     ``pip-audit -f json``                                    vulnerability
``safety``        Safety 2.x ``check`` / 3.x ``scan`` JSON                 vulnerability
``sarif``         SARIF 2.1.0 from any tool                                by tool
================  =======================================================  ==============

Each is ``collector(output, root, *, lines=None) -> Collected``: a pure function of the
tool's output and the project root (it reads lines of files under the root for
fingerprints; share one :class:`LineCache` across the collectors of a run to read each file
once). None raises for bad input: what it could not read comes back as
:class:`~amoskys.findings.model.FindingsProblem`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from amoskys.findings.common import Collected, LineCache
from amoskys.findings.linters import (
    collect_black,
    collect_flake8,
    collect_flake8_json,
    collect_isort,
    collect_mypy,
    collect_mypy_json,
)
from amoskys.findings.model import FindingsProblem
from amoskys.findings.sarif_input import collect_sarif
from amoskys.findings.scanners import collect_bandit, collect_pip_audit, collect_safety

__all__ = [
    "COLLECTORS",
    "Collected",
    "Collector",
    "LineCache",
    "collect",
    "collect_bandit",
    "collect_black",
    "collect_flake8",
    "collect_flake8_json",
    "collect_isort",
    "collect_mypy",
    "collect_mypy_json",
    "collect_pip_audit",
    "collect_safety",
    "collect_sarif",
]


class Collector(Protocol):
    def __call__(self, output: str, root: Path, *, lines: LineCache | None = None) -> Collected: ...


COLLECTORS: Mapping[str, Collector] = {
    "black": collect_black,
    "isort": collect_isort,
    "flake8": collect_flake8,
    "flake8-json": collect_flake8_json,
    "mypy": collect_mypy,
    "mypy-json": collect_mypy_json,
    "bandit": collect_bandit,
    "pip-audit": collect_pip_audit,
    "safety": collect_safety,
    "sarif": collect_sarif,
}


def collect(
    format_name: str, output: str, root: Path, *, lines: LineCache | None = None
) -> Collected:
    """Read ``output`` with the collector for ``format_name`` (case does not matter); an
    unknown format is a problem, not an exception."""
    collector = COLLECTORS.get(format_name.strip().lower())
    if collector is None:
        known = ", ".join(sorted(COLLECTORS))
        problem = FindingsProblem(format_name, f"no collector for this format (known: {known})")
        return Collected([], [problem])
    return collector(output, root, lines=lines)
