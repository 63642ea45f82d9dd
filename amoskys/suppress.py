"""Suppressions with a justification (the seed: "add suppressions with justification").

``[[tool.amoskys.suppress]]`` entries name a rule id (``B602``, ``F401``) or a vulnerability
id or alias, optionally a path glob, always a reason, and optionally a date after which the
suppression no longer applies (the gate then says that it expired). Suppressed findings stay
visible in every report; they just do not count against a gate.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterable, Sequence

from amoskys.errors import ConfigError, Location, Problem, ProblemsError
from amoskys.findings.model import Finding

KEYS = ("id", "path", "reason", "until")


@dataclass(frozen=True)
class Suppression:
    id: str
    reason: str
    path: str | None = None
    until: date | None = None

    def covers(self, finding: Finding) -> bool:
        """True when this entry names one of the finding's ids (and its file, if given)."""
        ids = {i.lower() for i in finding.ids}
        if self.id.lower() not in ids:
            return False
        if self.path is None:
            return True
        return finding.file is not None and fnmatch.fnmatchcase(finding.file, self.path)

    def expired(self, today: date) -> bool:
        return self.until is not None and today > self.until


@dataclass(frozen=True)
class Judged:
    """A finding and the suppression that covers it, if any (expired ones do not count)."""

    finding: Finding
    suppression: Suppression | None = None
    expired: Suppression | None = None  # matched, but past its date

    @property
    def suppressed(self) -> bool:
        return self.suppression is not None


def parse_suppressions(entries: Any, where: Location) -> tuple[Suppression, ...]:
    """Read the ``[[tool.amoskys.suppress]]`` array; every mistake reported at once."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ConfigError(
            "tool.amoskys.suppress must be an array of tables",
            location=where,
            hint='write [[tool.amoskys.suppress]] with id = "..." and reason = "..."',
        )
    problems: list[Problem] = []
    found: list[Suppression] = []
    for number, entry in enumerate(entries, 1):
        label = f"suppression #{number}"
        if not isinstance(entry, dict):
            problems.append(Problem(f"{label} is not a table", where))
            continue
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            problems.append(
                Problem(
                    f"{label} has unknown key(s) {', '.join(unknown)}",
                    where,
                    "keys: " + ", ".join(KEYS),
                )
            )
        rule = entry.get("id")
        reason = entry.get("reason")
        path = entry.get("path")
        until = entry.get("until")
        if not isinstance(rule, str) or not rule.strip():
            problems.append(Problem(f"{label} needs an id", where, 'e.g. id = "B602"'))
            continue
        if not isinstance(reason, str) or not reason.strip():
            problems.append(
                Problem(
                    f"{label} ({rule}) has no reason",
                    where,
                    'every suppression needs a justification: reason = "why this is safe"',
                )
            )
            continue
        if path is not None and not isinstance(path, str):
            problems.append(Problem(f"{label} ({rule}): path must be a glob string", where))
            continue
        if isinstance(until, str):
            try:
                until = date.fromisoformat(until)
            except ValueError:
                problems.append(
                    Problem(f"{label} ({rule}): until {until!r} is not a date", where, "YYYY-MM-DD")
                )
                continue
        if until is not None and not isinstance(until, date):
            problems.append(Problem(f"{label} ({rule}): until must be a date", where, "YYYY-MM-DD"))
            continue
        found.append(Suppression(rule.strip(), reason.strip(), path, until))
    if problems:
        raise ProblemsError(problems)
    return tuple(found)


def judge(
    findings: Iterable[Finding], suppressions: Sequence[Suppression], today: date
) -> list[Judged]:
    """Pair each finding with the first live suppression covering it."""
    judged: list[Judged] = []
    for finding in findings:
        live: Suppression | None = None
        expired: Suppression | None = None
        for entry in suppressions:
            if entry.covers(finding):
                if entry.expired(today):
                    expired = expired or entry
                else:
                    live = entry
                    break
        judged.append(Judged(finding, live, None if live else expired))
    return judged
