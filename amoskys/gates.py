"""Quality gates: thresholds from ``[tool.amoskys.gates]`` turned into pass or fail, with evidence.

Defaults are the seed's: formatting clean, imports sorted, flake8 clean, mypy clean, no Bandit
finding of medium or higher, no vulnerability of high or critical (a vulnerability without a
rating counts as high unless configured), no secrets, 100% of tests pass, coverage >= 80%.
Pure functions: findings and test numbers in, a :class:`Verdict` out.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

from amoskys.errors import ConfigError, Location
from amoskys.findings.model import Category, Finding, Severity
from amoskys.suppress import Judged

TOP = 5


@dataclass(frozen=True)
class GatesConfig:
    format: bool = True
    imports: bool = True
    style: bool = True
    types: bool = True
    code_security: Severity | None = Severity.MEDIUM  # None: the gate is off
    vulnerabilities: Severity | None = Severity.HIGH
    unknown_severity: Severity = Severity.HIGH
    secrets: bool = True
    tests_pass_rate: float = 100.0
    coverage: float | None = 80.0


_SEVERITIES = {s.value: s for s in Severity if s is not Severity.UNKNOWN}


def _severity_or_off(value: Any, key: str, where: Location) -> Severity | None:
    if value is False or value == "off":
        return None
    if isinstance(value, str) and value.lower() in _SEVERITIES:
        return _SEVERITIES[value.lower()]
    raise ConfigError(
        f"tool.amoskys.gates.{key} must be a severity or false, got {value!r}",
        location=where,
        hint="one of info, low, medium, high, critical, or false to turn the gate off",
    )


def _flag(value: Any, key: str, where: Location) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"tool.amoskys.gates.{key} must be true or false", location=where)


def _percent(value: Any, key: str, where: Location) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 100:
        return float(value)
    raise ConfigError(
        f"tool.amoskys.gates.{key} must be a percentage from 0 to 100, got {value!r}",
        location=where,
    )


def parse_gates(section: Any, where: Location) -> GatesConfig:
    """``[tool.amoskys.gates]`` into a :class:`GatesConfig` (unknown keys are errors)."""
    if section is None:
        return GatesConfig()
    if not isinstance(section, dict):
        raise ConfigError("tool.amoskys.gates must be a table", location=where)
    known = {
        "format",
        "imports",
        "style",
        "types",
        "code-security",
        "vulnerabilities",
        "unknown-severity",
        "secrets",
        "tests-pass-rate",
        "coverage",
    }
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(
            f"unknown key(s) in tool.amoskys.gates: {', '.join(unknown)}",
            location=where,
            hint="known: " + ", ".join(sorted(known)),
        )
    defaults = GatesConfig()
    coverage = section.get("coverage", defaults.coverage)
    unknown_sev = _severity_or_off(
        section.get("unknown-severity", "high"), "unknown-severity", where
    )
    return GatesConfig(
        format=_flag(section.get("format", True), "format", where),
        imports=_flag(section.get("imports", True), "imports", where),
        style=_flag(section.get("style", True), "style", where),
        types=_flag(section.get("types", True), "types", where),
        code_security=_severity_or_off(
            section.get("code-security", "medium"), "code-security", where
        ),
        vulnerabilities=_severity_or_off(
            section.get("vulnerabilities", "high"), "vulnerabilities", where
        ),
        unknown_severity=unknown_sev or Severity.HIGH,
        secrets=_flag(section.get("secrets", True), "secrets", where),
        tests_pass_rate=_percent(section.get("tests-pass-rate", 100), "tests-pass-rate", where),
        coverage=None if coverage is False else _percent(coverage, "coverage", where),
    )


@dataclass(frozen=True)
class TestSummary:
    """What the test gate looks at; ``None`` coverage means it was not measured."""

    __test__ = False

    total: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    coverage: float | None = None
    flaky: tuple[str, ...] = ()  # failed, then passed on a re-run: counted as passed, listed
    quarantined: tuple[tuple[str, str], ...] = ()  # (test id, outcome): out of the gate


@dataclass(frozen=True)
class GateResult:
    name: str  # "format", "imports", ..., "tests", "coverage"
    passed: bool
    evidence: str  # "3 files would be reformatted", "coverage 62.5% < 80%"
    counted: tuple[Finding, ...] = ()  # findings that failed the gate (top ones shown)
    suppressed: int = 0
    expired: tuple[str, ...] = ()  # suppressions past their date that no longer apply
    hint: str = ""
    ran: bool = True  # False: the tool did not run (missing or crashed)


@dataclass(frozen=True)
class Verdict:
    gates: tuple[GateResult, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)

    def gate(self, name: str) -> GateResult | None:
        return next((g for g in self.gates if g.name == name), None)


_FINDING_GATES: tuple[tuple[str, Category, str], ...] = (
    ("format", Category.FORMAT, "run black on these files"),
    ("imports", Category.IMPORTS, "run isort on these files"),
    ("style", Category.STYLE, "fix them, or suppress one with a reason"),
    ("types", Category.TYPES, "fix the types, or suppress one with a reason"),
    ("code-security", Category.CODE_SECURITY, "fix it, or suppress the rule with a reason"),
    ("vulnerabilities", Category.VULNERABILITY, "upgrade to a fixed version, or suppress the id"),
    ("secrets", Category.SECRET, "remove and rotate the credential; allow a false positive inline"),
)


def _fails(finding: Finding, name: str, config: GatesConfig) -> bool:
    if name == "code-security":
        return config.code_security is not None and finding.severity.at_least(config.code_security)
    if name == "vulnerabilities":
        if config.vulnerabilities is None:
            return False
        severity = (
            config.unknown_severity if finding.severity is Severity.UNKNOWN else finding.severity
        )
        return severity.at_least(config.vulnerabilities)
    return True


def _enabled(name: str, config: GatesConfig) -> bool:
    return {
        "format": config.format,
        "imports": config.imports,
        "style": config.style,
        "types": config.types,
        "code-security": config.code_security is not None,
        "vulnerabilities": config.vulnerabilities is not None,
        "secrets": config.secrets,
    }[name]


def evaluate(
    judged: Sequence[Judged],
    config: GatesConfig,
    *,
    ran: frozenset[str] | set[str],
    tests: TestSummary | None = None,
) -> Verdict:
    """Every enabled gate among those whose tools ``ran`` (by gate name), plus the tests.

    A gate whose tool did not run fails with that evidence: a missing tool is never clean.
    """
    results: list[GateResult] = []
    for name, category, hint in _FINDING_GATES:
        mine = [j for j in judged if j.finding.category is category]
        if not _enabled(name, config) or (name not in ran and not mine):
            continue  # off, or not a gate of this command
        counted = [j.finding for j in mine if not j.suppressed and _fails(j.finding, name, config)]
        suppressed = sum(1 for j in mine if j.suppressed)
        expired = tuple(sorted({j.expired.id for j in mine if j.expired is not None}))
        by_file = Counter(f.file or "-" for f in counted)
        evidence = (
            "clean" if not counted else f"{len(counted)} finding(s) in {len(by_file)} file(s)"
        )
        if suppressed:
            evidence += f"; {suppressed} suppressed"
        if expired:
            evidence += f"; expired suppression(s): {', '.join(expired)}"
        results.append(
            GateResult(
                name=name,
                passed=not counted,
                evidence=evidence,
                counted=tuple(counted),
                suppressed=suppressed,
                expired=expired,
                hint="" if not counted else hint,
            )
        )
    if tests is not None:
        results.extend(_test_gates(tests, config))
    return Verdict(tuple(results))


def _test_gates(tests: TestSummary, config: GatesConfig) -> list[GateResult]:
    gates: list[GateResult] = []
    out = Counter(outcome for _, outcome in tests.quarantined if outcome != "skipped")
    counted = tests.total - tests.skipped - sum(out.values())
    passed = tests.passed + len(tests.flaky) - out["passed"] - out["flaky"]
    failed, errors = tests.failed - out["failed"], tests.errors - out["error"]
    if counted <= 0:
        gates.append(GateResult("tests", False, "no test ran", hint="add tests, or check paths"))
    else:
        rate = 100.0 * passed / counted
        ok = rate >= config.tests_pass_rate
        evidence = (
            f"{passed} of {counted} passed ({rate:.1f}%, needs "
            f"{config.tests_pass_rate:g}%); {failed} failed, {errors} errors"
        )
        if tests.flaky:
            evidence += f"; {len(tests.flaky)} flaky (passed on a re-run)"
        if tests.quarantined:
            kept_out = out["failed"] + out["error"]
            evidence += (
                f"; {len(tests.quarantined)} quarantined, not counted"
                f" ({kept_out} of them failed)"
            )
        gates.append(GateResult("tests", ok, evidence, hint="" if ok else "fix the failing tests"))
    if config.coverage is not None:
        if tests.coverage is None:
            gates.append(
                GateResult("coverage", False, "coverage was not measured", hint="install coverage")
            )
        else:
            ok = tests.coverage >= config.coverage
            gates.append(
                GateResult(
                    "coverage",
                    ok,
                    f"coverage {tests.coverage:.1f}% ({'>=' if ok else '<'} {config.coverage:g}%)",
                    hint="" if ok else "add tests for the uncovered lines",
                )
            )
    return gates


def missing_tool(name: str, tool: str, why: str, hint: str | None = None) -> GateResult:
    """The gate of a tool that is missing or crashed: failed, never clean."""
    return GateResult(
        name, False, f"{tool} did not run: {why}", hint=hint or f"install {tool}", ran=False
    )
