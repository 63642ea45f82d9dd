"""One model for everything a checker reports, whichever tool and format it came from.

A :class:`Finding` keeps the tool's own rule id and severity, the place, and a fingerprint
that survives line moves (it hashes the rule, the file and the *content* of the line, not its
number), so a finding can be suppressed, tracked across runs and compared with a baseline.

A collector that cannot read (part of) a tool's output says so with a :class:`FindingsProblem`
instead of raising.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping


class Severity(str, Enum):
    """Ordered from least to most severe; ``UNKNOWN`` sorts with ``HIGH`` for the gates
    (a vulnerability without a rating is treated as high unless configured otherwise)."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.UNKNOWN: 3,
    Severity.CRITICAL: 4,
}


class Category(str, Enum):
    """Which gate a finding counts against."""

    FORMAT = "format"  # Black
    IMPORTS = "imports"  # isort
    STYLE = "style"  # flake8
    TYPES = "types"  # mypy
    CODE_SECURITY = "code-security"  # Bandit
    VULNERABILITY = "vulnerability"  # OSV, pip-audit, Safety
    SECRET = "secret"  # hardcoded credentials (a category name)  # nosec B105
    OTHER = "other"  # SARIF from any other tool


@dataclass(frozen=True)
class Finding:
    tool: str  # "flake8", "bandit", "osv", "secrets", ...
    rule: str  # "F401", "B602", "GHSA-xxxx", "aws-access-key", "would-reformat"
    severity: Severity
    category: Category
    message: str
    file: str | None = None  # POSIX path relative to the project root
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    fingerprint: str = ""
    aliases: tuple[str, ...] = ()  # vulnerability ids that mean the same (CVE-, PYSEC-, GHSA-)
    fix: str | None = None  # how to fix: "upgrade jinja2 to 3.1.5", "run black"
    extra: Mapping[str, object] = field(default_factory=dict)
    suppressed: bool = False  # kept in reports (SARIF ``suppressions``) but not gated
    suppress_reason: str = ""  # the justification: a policy entry, the tool's own ignore list

    @property
    def ids(self) -> tuple[str, ...]:
        """The rule and its aliases: what a suppression may name."""
        return (self.rule, *self.aliases)


def severity_from_name(value: object) -> Severity | None:
    """A tool's severity word as a :class:`Severity`; ``None`` when it is not one we know.

    Case and surrounding space do not matter. Besides our own names this accepts the words
    advisory databases use: ``moderate`` (GitHub, npm) is medium, ``important`` (Red Hat) is
    high, ``none``/``informational`` are info.
    """
    if isinstance(value, Severity):
        return value
    if not isinstance(value, str):
        return None
    return _SEVERITY_WORDS.get(value.strip().lower())


def severity_from_score(score: float) -> Severity:
    """A CVSS-like 0-10 score as GitHub code scanning reads ``security-severity``: 9.0 and
    over is critical, 7.0 to 8.9 high, 4.0 to 6.9 medium, anything lower low."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


_SEVERITY_WORDS = {
    **{member.value: member for member in Severity},
    "informational": Severity.INFO,
    "information": Severity.INFO,
    "none": Severity.INFO,
    "moderate": Severity.MEDIUM,
    "important": Severity.HIGH,
    "undefined": Severity.UNKNOWN,
}


@dataclass(frozen=True)
class FindingsProblem:
    """Output a collector could not read, or only in part: which format, and what was wrong."""

    source: str  # "flake8", "bandit JSON", "SARIF", ...
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


def fingerprint(tool: str, rule: str, file: str | None, line_text: str, extra: str = "") -> str:
    """A stable id: the same problem on a moved line keeps its fingerprint.

    Whitespace inside the line is normalised so re-indentation does not change it either.
    """
    normal = " ".join(line_text.split())
    data = "\x1f".join((tool, rule, file or "", normal, extra))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()[:32]


def with_fingerprint(finding: Finding, line_text: str, extra: str = "") -> Finding:
    """``finding`` with its fingerprint computed from the text of its line."""
    from dataclasses import replace

    return replace(
        finding,
        fingerprint=fingerprint(finding.tool, finding.rule, finding.file, line_text, extra),
    )
