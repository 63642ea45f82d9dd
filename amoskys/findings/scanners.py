"""Collectors for the security tools: Bandit (code), pip-audit and Safety (dependencies).

Vulnerability findings are per package and advisory: the rule is the advisory id, the
aliases its other ids (CVE-, GHSA-, PYSEC-), and the fingerprint hashes the package's
normalised name rather than a line, so the finding keeps its id when the version pin moves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from amoskys.findings.common import (
    Collected,
    LineCache,
    Pending,
    as_int,
    as_list,
    as_mapping,
    as_str,
    as_strings,
    clip,
    fingerprinted,
    first_line,
    load_json,
    never_raises,
    relative_path,
)
from amoskys.findings.model import (
    Category,
    Finding,
    FindingsProblem,
    Severity,
    severity_from_name,
    severity_from_score,
)

# --- Bandit ------------------------------------------------------------------------------

_SNIPPET_LINE = re.compile(r"^(?P<number>\d+) (?P<text>.*)$")


def _snippet_line(code: object, number: int | None) -> str | None:
    """The text of line ``number`` in Bandit's ``code`` excerpt (``"12 text\\n13 ..."``)."""
    if not isinstance(code, str) or number is None:
        return None
    for line in code.splitlines():
        match = _SNIPPET_LINE.match(line)
        if match and int(match.group("number")) == number:
            return match.group("text")
    return None


@never_raises("bandit")
def collect_bandit(output: str, root: Path, *, lines: LineCache | None = None) -> Collected:
    """Bandit's ``-f json`` report: each of ``results[]`` (``filename``, ``line_number``,
    ``col_offset`` (0-based), ``test_id``, ``issue_severity``, ``issue_confidence``,
    ``issue_text``, ``more_info``, ``issue_cwe``) is a code-security finding with Bandit's
    severity. A file Bandit could not scan (``errors[]``: a syntax error, a newer Python's
    grammar) is a high ``unscanned`` finding: Bandit exits 0 for it, and a gate passed over
    code nobody checked is a false green."""
    source = "bandit"
    data, problem = load_json(output, source)
    if problem is not None:
        return Collected([], [problem])
    if not isinstance(data, dict) or not isinstance(data.get("results", []), list):
        return Collected([], [FindingsProblem(source, "not a Bandit JSON report (no results)")])
    problems: list[FindingsProblem] = []
    pending: list[Pending] = []
    for item in as_list(data.get("errors")):
        entry = as_mapping(item)
        where = as_str(entry.get("filename"))
        why = as_str(entry.get("reason")) or "error"
        if where is None:
            problems.append(FindingsProblem(source, f"?: {why}"))
            continue
        unscanned = Finding(
            tool="bandit",
            rule="unscanned",
            severity=Severity.HIGH,
            category=Category.CODE_SECURITY,
            message=clip(f"Bandit could not scan this file: {why}"),
            file=relative_path(where, root),
            fix="make the file parse with the Python that runs Bandit, or exclude it from the scan",
        )
        pending.append(Pending(unscanned, None))
    skipped = 0
    for item in as_list(data.get("results")):
        entry = as_mapping(item)
        rule = as_str(entry.get("test_id"))
        file = as_str(entry.get("filename"))
        if rule is None or file is None:
            skipped += 1
            continue
        line = as_int(entry.get("line_number"))
        offset = entry.get("col_offset")
        column = offset + 1 if isinstance(offset, int) and not isinstance(offset, bool) else None
        cwe = as_mapping(entry.get("issue_cwe"))
        finding = Finding(
            tool="bandit",
            rule=rule,
            severity=severity_from_name(entry.get("issue_severity")) or Severity.UNKNOWN,
            category=Category.CODE_SECURITY,
            message=clip(as_str(entry.get("issue_text")) or rule),
            file=relative_path(file, root),
            line=line,
            column=column if column is not None and column > 0 else None,
            extra=_present(
                confidence=as_str(entry.get("issue_confidence")),
                rule_name=as_str(entry.get("test_name")),
                help_uri=as_str(entry.get("more_info")),
                cwe=as_int(cwe.get("id")),
            ),
        )
        pending.append(Pending(finding, _snippet_line(entry.get("code"), line)))
    if skipped:
        problems.append(FindingsProblem(source, f"{skipped} results without a test id or file"))
    cache = lines if lines is not None else LineCache(root)
    return Collected(fingerprinted(pending, cache), problems)


# --- pip-audit ---------------------------------------------------------------------------


def _fix_version(current: str | None, candidates: Iterable[str]) -> str | None:
    """The lowest candidate above ``current`` (the lowest of all when none is, or when the
    versions cannot be compared); ``None`` without candidates."""
    given = [c for c in candidates if c.strip()]
    if not given:
        return None
    parsed: list[tuple[Version, str]] = []
    for text in given:
        try:
            parsed.append((Version(text), text))
        except InvalidVersion:
            continue
    if not parsed:
        return given[0]
    parsed.sort()
    try:
        now = Version(current) if current else None
    except InvalidVersion:
        now = None
    if now is not None:
        for version, text in parsed:
            if version > now:
                return text
    return parsed[0][1]


def _osv_link(vuln_id: str) -> str | None:
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9-]+", vuln_id):
        return f"https://osv.dev/vulnerability/{vuln_id}"
    return None


def _vulnerability(
    *,
    tool: str,
    package: str,
    version: str | None,
    vuln_id: str,
    aliases: Iterable[str],
    summary: str | None,
    severity: Severity,
    fix_version: str | None,
    file: str | None = None,
    line: int | None = None,
    help_uri: str | None = None,
    suppressed: bool = False,
    suppress_reason: str = "",
    extra: Mapping[str, object] | None = None,
) -> Pending:
    name = canonicalize_name(package)
    where = f"{package} {version}" if version else package
    message = f"{where} has a known vulnerability {vuln_id}"
    if summary:
        message = f"{message}: {summary}"
    finding = Finding(
        tool=tool,
        rule=vuln_id,
        severity=severity,
        category=Category.VULNERABILITY,
        message=clip(message),
        file=file,
        line=line,
        aliases=tuple(dict.fromkeys(a for a in aliases if a != vuln_id)),
        fix=f"upgrade {package} to {fix_version}" if fix_version else None,
        extra=_present(
            package=package,
            version=version,
            fixed_in=fix_version,
            help_uri=help_uri,
            **(extra or {}),
        ),
        suppressed=suppressed,
        suppress_reason=suppress_reason,
    )
    return Pending(finding, name, use_line=False)


@never_raises("pip-audit")
def collect_pip_audit(output: str, root: Path, *, lines: LineCache | None = None) -> Collected:
    """pip-audit's ``-f json``: ``{"dependencies": [{"name", "version", "vulns": [{"id",
    "fix_versions", "aliases", "description"}]}]}``, and the older top-level list of
    dependencies. pip-audit rates nothing, so the severity is unknown unless a vulnerability
    carries a ``severity``. Skipped dependencies (``skip_reason``) are not findings."""
    source = "pip-audit"
    data, problem = load_json(output, source)
    if problem is not None:
        return Collected([], [problem])
    if isinstance(data, dict) and isinstance(data.get("dependencies"), list):
        dependencies = data["dependencies"]
    elif isinstance(data, list):
        dependencies = data
    else:
        return Collected([], [FindingsProblem(source, "not a pip-audit JSON report")])
    pending: list[Pending] = []
    skipped = 0
    for item in dependencies:
        dependency = as_mapping(item)
        package = as_str(dependency.get("name"))
        version = as_str(dependency.get("version"))
        vulns = dependency.get("vulns", [])
        if package is None or not isinstance(vulns, list):
            skipped += 1
            continue
        for raw in vulns:
            vuln = as_mapping(raw)
            vuln_id = as_str(vuln.get("id"))
            if vuln_id is None:
                skipped += 1
                continue
            fixes = as_strings(vuln.get("fix_versions"))
            description = as_str(vuln.get("description"))
            pending.append(
                _vulnerability(
                    tool="pip-audit",
                    package=package,
                    version=version,
                    vuln_id=vuln_id,
                    aliases=as_strings(vuln.get("aliases")),
                    summary=first_line(description) if description else None,
                    severity=_rated(vuln.get("severity")),
                    fix_version=_fix_version(version, fixes),
                    help_uri=_osv_link(vuln_id),
                    extra={"fix_versions": fixes, "description": description},
                )
            )
    problems = []
    if skipped:
        problems.append(FindingsProblem(source, f"{skipped} entries without a name or id"))
    return Collected(_fingerprinted(pending, root, lines), problems)


def _rated(value: object) -> Severity:
    """A severity given as a word, a number (CVSS-like score) or a Safety/OSV-style object."""
    named = severity_from_name(value)
    if named is not None:
        return named
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return severity_from_score(float(value))
    if isinstance(value, str):
        try:
            return severity_from_score(float(value))
        except ValueError:
            return Severity.UNKNOWN
    if isinstance(value, dict):
        for key in ("cvssv3", "cvssv2"):
            cvss = as_mapping(value.get(key))
            named = severity_from_name(cvss.get("base_severity"))
            if named is not None:
                return named
            score = cvss.get("base_score")
            if isinstance(score, (int, float)) and not isinstance(score, bool):
                return severity_from_score(float(score))
        for key in ("severity", "level", "base_severity"):
            if key in value:
                return _rated(value[key])
    return Severity.UNKNOWN


# --- Safety ------------------------------------------------------------------------------


@never_raises("safety")
def collect_safety(output: str, root: Path, *, lines: LineCache | None = None) -> Collected:
    """Safety's JSON: 2.x ``check --output json`` (``vulnerabilities[]`` and
    ``ignored_vulnerabilities[]`` with ``package_name``, ``analyzed_version``,
    ``vulnerability_id``, ``CVE``, ``advisory``, ``severity`` (may be null: unknown),
    ``fixed_versions``, ``more_info_url``); 3.x ``scan --output json`` (report schema 3.0:
    ``scan_results.files[]`` and ``scan_results.projects[].files[]``, each with
    ``results.dependencies[].specifications[].vulnerabilities.known_vulnerabilities[]``);
    and 1.x's list of ``[name, spec, version, advisory, id]``. A banner printed before the
    JSON is skipped. Vulnerabilities Safety was told to ignore are kept, suppressed."""
    source = "safety"
    data, problem = load_json(output, source)
    if problem is not None:
        return Collected([], [problem])
    if isinstance(data, dict) and isinstance(data.get("scan_results"), dict):
        pending, skipped = _safety_scan(data["scan_results"], root, lines)
    elif isinstance(data, dict) and isinstance(data.get("vulnerabilities"), list):
        pending, skipped = _safety_check(data)
    elif isinstance(data, list):
        pending, skipped = _safety_legacy(data)
    else:
        return Collected([], [FindingsProblem(source, "not a Safety JSON report")])
    problems = []
    if skipped:
        problems.append(FindingsProblem(source, f"{skipped} entries without a package or id"))
    return Collected(_fingerprinted(pending, root, lines), problems)


def _safety_check(data: Mapping[str, object]) -> tuple[list[Pending], int]:
    pending: list[Pending] = []
    skipped = 0
    groups = (
        (as_list(data.get("vulnerabilities")), False),
        (as_list(data.get("ignored_vulnerabilities")), True),
    )
    for entries, ignored in groups:
        for item in entries:
            entry = as_mapping(item)
            package = as_str(entry.get("package_name"))
            vuln_id = as_str(entry.get("vulnerability_id"))
            if package is None or vuln_id is None:
                skipped += 1
                continue
            version = as_str(entry.get("analyzed_version"))
            cve = as_str(entry.get("CVE"))
            fixes = as_strings(entry.get("fixed_versions")) or as_strings(
                entry.get("closest_versions_without_known_vulnerabilities")
            )
            advisory = as_str(entry.get("advisory"))
            reason = as_str(entry.get("ignored_reason"))
            pending.append(
                _vulnerability(
                    tool="safety",
                    package=package,
                    version=version,
                    vuln_id=vuln_id,
                    aliases=(cve,) if cve else (),
                    summary=first_line(advisory) if advisory else None,
                    severity=_rated(entry.get("severity")),
                    fix_version=_fix_version(version, fixes),
                    help_uri=as_str(entry.get("more_info_url")),
                    suppressed=ignored or bool(entry.get("ignored")),
                    suppress_reason=reason or ("ignored by the Safety policy" if ignored else ""),
                    extra={
                        "vulnerable_spec": as_str(entry.get("vulnerable_spec")),
                        "description": advisory,
                    },
                )
            )
    return pending, skipped


def _safety_scan(
    results: Mapping[str, object], root: Path, lines: LineCache | None
) -> tuple[list[Pending], int]:
    cache = lines if lines is not None else LineCache(root)
    files = list(as_list(results.get("files")))
    for project in as_list(results.get("projects")):
        files.extend(as_list(as_mapping(project).get("files")))
    pending: list[Pending] = []
    skipped = 0
    for file_item in files:
        file_entry = as_mapping(file_item)
        location = as_str(file_entry.get("location"))
        file = relative_path(location, root) if location else None
        dependencies = as_list(as_mapping(file_entry.get("results")).get("dependencies"))
        for dependency_item in dependencies:
            dependency = as_mapping(dependency_item)
            package = as_str(dependency.get("name"))
            for spec_item in as_list(dependency.get("specifications")):
                spec = as_mapping(spec_item)
                raw_spec = as_str(spec.get("raw")) or ""
                found = as_mapping(spec.get("vulnerabilities"))
                remediation = as_mapping(found.get("remediation"))
                closest = as_mapping(remediation.get("closest_secure_version"))
                fix = as_str(remediation.get("recommended")) or as_str(closest.get("upper"))
                version = _pinned_version(raw_spec)
                for vuln_item in as_list(found.get("known_vulnerabilities")):
                    vuln = as_mapping(vuln_item)
                    vuln_id = as_str(vuln.get("id"))
                    if package is None or vuln_id is None:
                        skipped += 1
                        continue
                    ignored = as_mapping(vuln.get("ignored"))
                    pending.append(
                        _vulnerability(
                            tool="safety",
                            package=package,
                            version=version,
                            vuln_id=vuln_id,
                            aliases=(),
                            summary=None,
                            severity=_rated(vuln.get("severity")),
                            fix_version=fix,
                            file=file,
                            line=_manifest_line(cache, file, raw_spec),
                            suppressed=bool(ignored),
                            suppress_reason=(
                                as_str(ignored.get("reason")) or "ignored by the Safety policy"
                                if ignored
                                else ""
                            ),
                            extra={
                                "vulnerable_spec": as_str(vuln.get("vulnerable_spec")),
                                "specification": raw_spec or None,
                            },
                        )
                    )
    return pending, skipped


def _safety_legacy(data: list[object]) -> tuple[list[Pending], int]:
    pending: list[Pending] = []
    skipped = 0
    for item in data:
        if not isinstance(item, list) or len(item) < 5:
            skipped += 1
            continue
        package, spec, version, advisory, vuln_id = (as_str(v) for v in item[:5])
        if package is None or vuln_id is None:
            skipped += 1
            continue
        pending.append(
            _vulnerability(
                tool="safety",
                package=package,
                version=version,
                vuln_id=vuln_id,
                aliases=(),
                summary=first_line(advisory) if advisory else None,
                severity=Severity.UNKNOWN,
                fix_version=None,
                extra={"vulnerable_spec": spec, "description": advisory},
            )
        )
    return pending, skipped


_PIN = re.compile(r"===?\s*(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)")


def _pinned_version(spec: str) -> str | None:
    match = _PIN.search(spec)
    return match.group("version") if match else None


def _manifest_line(cache: LineCache, file: str | None, spec: str) -> int | None:
    """The line of ``spec`` (``jinja2==2.11.3``) in the manifest ``file``, when readable."""
    if not file or not spec:
        return None
    lines = cache.lines(file)
    if lines is None:
        return None
    for number, text in enumerate(lines, start=1):
        if spec in text and not text.lstrip().startswith("#"):
            return number
    return None


def _fingerprinted(pending: list[Pending], root: Path, lines: LineCache | None) -> list[Finding]:
    return fingerprinted(pending, lines if lines is not None else LineCache(root))


def _present(**values: object) -> dict[str, object]:
    return {key: value for key, value in values.items() if value not in (None, "", ())}
