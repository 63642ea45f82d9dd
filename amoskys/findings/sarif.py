"""Findings out: SARIF 2.1.0 (for code-scanning services and editors) and JUnit XML (for CI
test views, ``--report junit``).

SARIF: one ``run`` per tool (also for a tool that ran and found nothing, when its version is
given), the tool's rules with ``shortDescription`` and ``helpUri`` where known, and per
finding a result with its ``level`` (critical/high/unknown ``error``, medium ``warning``,
low/info ``note``), message, location (a URI relative to ``%SRCROOT%``, which
``originalUriBaseIds`` ties to the project root), our fingerprint as the partial fingerprint
``amoskysFingerprint/v1``, and properties (``severity``, ``category``, ``aliases``, ``fix``,
and ``security-severity`` for vulnerability, code-security and secret findings, the CVSS-like
score GitHub code scanning reads). A suppressed finding is carried with a ``suppressions``
entry (kind ``external``, with the justification). Amoskys is named as the converter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import quote, urlsplit

from amoskys import __version__
from amoskys.findings.model import Category, Finding, Severity

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
FINGERPRINT_KEY = "amoskysFingerprint/v1"

LEVELS: Mapping[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.UNKNOWN: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}

SECURITY_SEVERITY: Mapping[Severity, str] = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "2.0",
}
"""A score inside each of GitHub's bands; unknown and info findings get none (their level
still says ``error`` / ``note``). A finding's own ``extra["security_severity"]`` wins."""

SECURITY_CATEGORIES = frozenset({Category.VULNERABILITY, Category.CODE_SECURITY, Category.SECRET})

TOOL_URIS: Mapping[str, str] = {
    "black": "https://black.readthedocs.io/",
    "isort": "https://pycqa.github.io/isort/",
    "flake8": "https://flake8.pycqa.org/",
    "mypy": "https://mypy.readthedocs.io/",
    "bandit": "https://bandit.readthedocs.io/",
    "pip-audit": "https://pypi.org/project/pip-audit/",
    "safety": "https://pypi.org/project/safety/",
}

_RULE_TEXT: Mapping[tuple[str, str], str] = {
    ("black", "would-reformat"): "The file is not formatted the way Black formats it.",
    ("black", "cannot-format"): "Black cannot parse the file.",
    ("isort", "incorrectly-sorted"): "The imports are not sorted the way isort sorts them.",
    ("mypy", "note"): "A note from mypy.",
}


def _help_uri(tool: str, rule: str) -> str | None:
    if tool == "black":
        return "https://black.readthedocs.io/en/stable/usage_and_configuration/the_basics.html"
    if tool == "isort":
        return "https://pycqa.github.io/isort/"
    if tool == "flake8":
        if rule.startswith("F"):
            return "https://flake8.pycqa.org/en/latest/user/error-codes.html"
        if rule.startswith(("E", "W")):
            return "https://pycodestyle.pycqa.org/en/latest/intro.html#error-codes"
        return None
    if tool == "mypy" and rule != "note":
        return "https://mypy.readthedocs.io/en/stable/error_code_list.html"
    return None


def to_sarif(
    findings: Iterable[Finding],
    *,
    tool_versions: Mapping[str, str] | None = None,
    root: Path,
    suppressed: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A SARIF 2.1.0 log of ``findings`` (see the module's documentation), ready for
    ``json.dumps``. ``tool_versions`` names each tool's version; a tool named there without
    findings still gets its (empty) run, which tells a code-scanning service that it ran.
    A finding is suppressed when its ``suppressed`` flag says so or when ``suppressed`` maps
    its fingerprint to a justification."""
    versions = dict(tool_versions or {})
    by_tool: dict[str, list[Finding]] = {tool: [] for tool in versions}
    for finding in findings:
        by_tool.setdefault(finding.tool, []).append(_judged(finding, suppressed))
    base = _root_uri(root)
    runs = [_run(tool, by_tool[tool], versions.get(tool), base) for tool in sorted(by_tool)]
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": runs}


def _judged(finding: Finding, suppressed: Mapping[str, str] | None) -> Finding:
    """``finding``, marked suppressed when ``suppressed`` names its fingerprint."""
    if finding.suppressed or not suppressed or finding.fingerprint not in suppressed:
        return finding
    return replace(finding, suppressed=True, suppress_reason=suppressed[finding.fingerprint])


def _root_uri(root: Path) -> str:
    uri = Path(root).resolve().as_uri()
    return uri if uri.endswith("/") else uri + "/"


def _run(tool: str, findings: list[Finding], version: str | None, base: str) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for finding in findings:
        if finding.rule not in index:
            index[finding.rule] = len(rules)
            rules.append(_rule(tool, finding.rule, [f for f in findings if f.rule == finding.rule]))
    driver: dict[str, Any] = {"name": _driver_name(tool, findings)}
    if version:
        driver["version"] = version
    if tool in TOOL_URIS:
        driver["informationUri"] = TOOL_URIS[tool]
    driver["rules"] = rules
    return {
        "tool": {"driver": driver},
        "conversion": {"tool": {"driver": {"name": "Amoskys", "version": __version__}}},
        "originalUriBaseIds": {SRCROOT: {"uri": base}},
        "columnKind": "unicodeCodePoints",
        "results": [_result(finding, index[finding.rule]) for finding in findings],
    }


def _driver_name(tool: str, findings: list[Finding]) -> str:
    for finding in findings:
        name = finding.extra.get("tool_name")
        if isinstance(name, str) and name.strip():
            return name
    return tool


def _rule(tool: str, rule: str, findings: list[Finding]) -> dict[str, Any]:
    first = findings[0]
    descriptor: dict[str, Any] = {"id": rule}
    name = first.extra.get("rule_name")
    if isinstance(name, str) and name.strip():
        descriptor["name"] = name
    descriptor["shortDescription"] = {"text": _rule_text(tool, rule, first)}
    help_uri = first.extra.get("help_uri")
    if not (isinstance(help_uri, str) and _absolute_uri(help_uri)):
        help_uri = _help_uri(tool, rule)
    if help_uri:
        descriptor["helpUri"] = help_uri
    properties: dict[str, Any] = {"tags": _tags(first.category)}
    scores = [s for s in (_security_severity(f) for f in findings) if s is not None]
    if scores:
        properties["security-severity"] = max(scores, key=float)
    descriptor["properties"] = properties
    return descriptor


def _rule_text(tool: str, rule: str, finding: Finding) -> str:
    given = finding.extra.get("rule_description")
    if isinstance(given, str) and given.strip():
        return given.strip()
    known = _RULE_TEXT.get((tool, rule))
    if known:
        return known
    package = finding.extra.get("package")
    if finding.category is Category.VULNERABILITY and isinstance(package, str):
        return f"Known vulnerability {rule} in {package}."
    return finding.message or rule


def _tags(category: Category) -> list[str]:
    tags = [category.value]
    if category in SECURITY_CATEGORIES:
        tags.insert(0, "security")
    return tags


def _security_severity(finding: Finding) -> str | None:
    if finding.category not in SECURITY_CATEGORIES:
        return None
    given = finding.extra.get("security_severity")
    if isinstance(given, (int, float)) and not isinstance(given, bool):
        return f"{float(given):.1f}"
    if isinstance(given, str):
        try:
            return f"{float(given):.1f}"
        except ValueError:
            pass
    return SECURITY_SEVERITY.get(finding.severity)


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message or finding.rule},
    }
    location = _location(finding)
    if location is not None:
        result["locations"] = [location]
    if finding.fingerprint:
        result["partialFingerprints"] = {FINGERPRINT_KEY: finding.fingerprint}
    properties: dict[str, Any] = {
        "severity": finding.severity.value,
        "category": finding.category.value,
    }
    if finding.aliases:
        properties["aliases"] = list(finding.aliases)
    if finding.fix:
        properties["fix"] = finding.fix
    score = _security_severity(finding)
    if score is not None:
        properties["security-severity"] = score
    result["properties"] = properties
    if finding.suppressed:
        suppression: dict[str, Any] = {"kind": "external", "status": "accepted"}
        if finding.suppress_reason:
            suppression["justification"] = finding.suppress_reason
        result["suppressions"] = [suppression]
    return result


def _location(finding: Finding) -> dict[str, Any] | None:
    if finding.file:
        artifact = _artifact_location(finding.file)
        physical: dict[str, Any] = {"artifactLocation": artifact}
        if finding.line is not None and finding.line > 0:
            region: dict[str, Any] = {"startLine": finding.line}
            if finding.column is not None and finding.column > 0:
                region["startColumn"] = finding.column
            physical["region"] = region
        return {"physicalLocation": physical}
    package = finding.extra.get("package")
    if isinstance(package, str) and package:
        version = finding.extra.get("version")
        logical: dict[str, Any] = {"name": package, "kind": "module"}
        if isinstance(version, str) and version:
            logical["fullyQualifiedName"] = f"{package}=={version}"
        return {"logicalLocations": [logical]}
    return None


def _artifact_location(file: str) -> dict[str, Any]:
    if _absolute_uri(file):
        return {"uri": file}
    if PureWindowsPath(file).is_absolute() and not PurePosixPath(file).is_absolute():
        return {"uri": PureWindowsPath(file).as_uri()}
    if PurePosixPath(file).is_absolute():
        return {"uri": PurePosixPath(file).as_uri()}
    return {"uri": quote(file, safe="/"), "uriBaseId": SRCROOT}


def _absolute_uri(text: str) -> bool:
    parts = urlsplit(text)
    return len(parts.scheme) > 1 and bool(parts.netloc or parts.path)


# --- JUnit XML ---------------------------------------------------------------------------


def to_junit_xml(
    findings: Iterable[Finding],
    *,
    tools: Iterable[str] = (),
    suppressed: Mapping[str, str] | None = None,
) -> str:
    """JUnit XML of ``findings``: one ``<testsuite>`` per tool (those in ``tools`` too, so a
    tool that ran clean shows), one failing ``<testcase>`` per finding, a skipped one per
    suppressed finding (flagged, or its fingerprint in ``suppressed``), and a passing
    ``no findings`` case for a tool with nothing active."""
    by_tool: dict[str, list[Finding]] = {tool: [] for tool in tools}
    for finding in findings:
        by_tool.setdefault(finding.tool, []).append(_judged(finding, suppressed))
    suites: list[str] = []
    totals = [0, 0, 0]  # tests, failures, skipped
    for tool in sorted(by_tool):
        cases: list[str] = []
        failures = skipped = 0
        for finding in by_tool[tool]:
            cases.append(_case(finding))
            if finding.suppressed:
                skipped += 1
            else:
                failures += 1
        if failures == 0:
            cases.append(f'    <testcase classname={_attr(tool)} name="no findings" time="0"/>')
        tests = len(cases)
        totals = [totals[0] + tests, totals[1] + failures, totals[2] + skipped]
        suites.append(
            f'  <testsuite name={_attr(tool)} tests="{tests}" failures="{failures}"'
            f' errors="0" skipped="{skipped}" time="0">\n' + "\n".join(cases) + "\n  </testsuite>"
        )
    head = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<testsuites name="amoskys findings" tests="{totals[0]}" failures="{totals[1]}"'
        f' errors="0" skipped="{totals[2]}">'
    )
    return "\n".join([head, *suites, "</testsuites>"]) + "\n"


def _where(finding: Finding) -> str:
    if finding.file:
        parts = [finding.file]
        if finding.line:
            parts.append(str(finding.line))
            if finding.column:
                parts.append(str(finding.column))
        return ":".join(parts)
    package = finding.extra.get("package")
    return package if isinstance(package, str) and package else "project"


def _case(finding: Finding) -> str:
    where = _where(finding)
    opening = (
        f"    <testcase classname={_attr(finding.tool)} name={_attr(f'{finding.rule} {where}')}"
        + (f" file={_attr(finding.file)}" if finding.file else "")
        + (f' line="{finding.line}"' if finding.file and finding.line else "")
        + ' time="0">'
    )
    if finding.suppressed:
        reason = finding.suppress_reason or "suppressed"
        body = f"      <skipped message={_attr(f'suppressed: {reason}')}/>"
    else:
        details = [
            f"{where}: {finding.message}",
            f"severity: {finding.severity.value}",
            f"category: {finding.category.value}",
        ]
        if finding.aliases:
            details.append(f"aliases: {', '.join(finding.aliases)}")
        if finding.fix:
            details.append(f"fix: {finding.fix}")
        if finding.fingerprint:
            details.append(f"fingerprint: {finding.fingerprint}")
        body = (
            f"      <failure message={_attr(finding.message)} type={_attr(finding.rule)}>"
            f"{_text(chr(10).join(details))}</failure>"
        )
    return f"{opening}\n{body}\n    </testcase>"


def _clean(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (they become U+FFFD)."""
    return "".join(
        (
            char
            if char in "\t\n\r"
            or "\x20" <= char <= "\ud7ff"
            or "\ue000" <= char <= "\ufffd"
            or char >= "\U00010000"
            else "\ufffd"
        )
        for char in text
    )


def _text(text: str) -> str:
    return _clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    escaped = (
        _text(text)
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )
    return f'"{escaped}"'
