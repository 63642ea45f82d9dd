"""A collector for SARIF 2.1.0 from any tool.

Per run, the tool is ``tool.driver.name`` (lower case, spaces as dashes; the name as given is
kept in ``extra["tool_name"]``), and the category is the one of a tool we know, else
``other``. Per result:

* rule: ``ruleId``, else ``rule.id``, else the rule at ``ruleIndex`` / ``rule.index``
  (in the driver, or the extension ``rule.toolComponent.index`` names);
* message: ``message.text``, else the rule's ``messageStrings[message.id]`` (or the driver's
  ``globalMessageStrings``), with ``{0}``-style placeholders filled from ``arguments``;
* place: the first location's ``artifactLocation`` (``uri``, resolved through ``uriBaseId``
  and the run's ``originalUriBaseIds``, or the run artifact at ``index``) made relative to
  the project root, and ``region.startLine`` / ``startColumn``;
* severity: a ``severity`` word in the result's properties, else ``security-severity``
  (result, then rule properties) read as GitHub code scanning does (9.0 and over critical,
  7.0 high, 4.0 medium, lower low), else the level (``result.level``, the rule's
  ``defaultConfiguration.level``, else ``warning``): error high, warning medium, note low,
  none info;
* results of kind ``pass`` or ``notApplicable``, and with ``baselineState`` ``absent``, are
  not findings; a result with ``suppressions`` (none rejected or under review) is a
  suppressed finding with the first justification.

``partialFingerprints`` are kept in ``extra["partial_fingerprints"]``; the fingerprint itself
is ours (the line's text, else ``region.snippet.text``, else the message).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

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

KNOWN_TOOLS: Mapping[str, Category] = {
    "black": Category.FORMAT,
    "isort": Category.IMPORTS,
    "flake8": Category.STYLE,
    "pycodestyle": Category.STYLE,
    "pyflakes": Category.STYLE,
    "pylint": Category.STYLE,
    "ruff": Category.STYLE,
    "mypy": Category.TYPES,
    "pyright": Category.TYPES,
    "bandit": Category.CODE_SECURITY,
    "pip-audit": Category.VULNERABILITY,
    "safety": Category.VULNERABILITY,
    "osv-scanner": Category.VULNERABILITY,
    "gitleaks": Category.SECRET,
    "detect-secrets": Category.SECRET,
    "trufflehog": Category.SECRET,
}
"""Tools whose SARIF we file under their own gate (by normalised driver name)."""

LEVEL_SEVERITY: Mapping[str, Severity] = {
    "error": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "note": Severity.LOW,
    "none": Severity.INFO,
}

_NOT_PROBLEMS = ("pass", "notApplicable")
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{(\d+)\}")


def tool_key(name: str) -> str:
    """A driver name as our tool name: ``"Semgrep OSS"`` -> ``"semgrep-oss"``."""
    return "-".join(name.strip().lower().split()) or "sarif"


@never_raises("SARIF")
def collect_sarif(output: str, root: Path, *, lines: LineCache | None = None) -> Collected:
    """Findings in a SARIF 2.1.0 log (see the module's documentation for the mapping)."""
    source = "SARIF"
    data, problem = load_json(output, source)
    if problem is not None:
        return Collected([], [problem])
    log = as_mapping(data)
    runs = log.get("runs")
    if not isinstance(runs, list):
        return Collected([], [FindingsProblem(source, "not a SARIF log (no runs)")])
    problems: list[FindingsProblem] = []
    version = log.get("version")
    if version is not None and version != "2.1.0":
        problems.append(FindingsProblem(source, f"version {version!r}, read as 2.1.0"))
    pending: list[Pending] = []
    for number, run_item in enumerate(runs, start=1):
        run = as_mapping(run_item)
        if not run:
            problems.append(FindingsProblem(source, f"run {number} is not an object"))
            continue
        pending.extend(_run(run, number, root, problems))
    cache = lines if lines is not None else LineCache(root)
    return Collected(fingerprinted(pending, cache), problems)


def _run(
    run: Mapping[str, object], number: int, root: Path, problems: list[FindingsProblem]
) -> list[Pending]:
    tool = as_mapping(run.get("tool"))
    driver = as_mapping(tool.get("driver"))
    name = as_str(driver.get("name")) or "sarif"
    key = tool_key(name)
    category = KNOWN_TOOLS.get(key, Category.OTHER)
    components = [driver, *(as_mapping(e) for e in as_list(tool.get("extensions")))]
    by_id: dict[str, Mapping[str, object]] = {}
    for component in reversed(components):
        for rule_item in as_list(component.get("rules")):
            rule = as_mapping(rule_item)
            rule_id = as_str(rule.get("id"))
            if rule_id is not None:
                by_id[rule_id] = rule
    results = run.get("results")
    if results is None:
        return []
    if not isinstance(results, list):
        problems.append(FindingsProblem("SARIF", f"run {number}: results is not a list"))
        return []
    pending: list[Pending] = []
    bad = 0
    for result_item in results:
        result = as_mapping(result_item)
        if not result:
            bad += 1
            continue
        if result.get("kind") in _NOT_PROBLEMS or result.get("baselineState") == "absent":
            continue
        rule = _rule_of(result, components, by_id)
        rule_id = (
            as_str(result.get("ruleId"))
            or as_str(as_mapping(result.get("rule")).get("id"))
            or as_str(rule.get("id"))
            or "unknown"
        )
        message = _message(result, rule, driver)
        file, line, column, snippet = _place(result, run, root)
        properties = as_mapping(result.get("properties"))
        rule_properties = as_mapping(rule.get("properties"))
        severity = _severity(result, rule, properties, rule_properties)
        suppressed, justification = _suppression(result)
        given_category = properties.get("category")
        finding_category = (
            Category(given_category) if given_category in {c.value for c in Category} else category
        )
        short = as_mapping(rule.get("shortDescription"))
        extra: dict[str, object] = {"tool_name": name}
        partial = {
            k: v
            for k, v in as_mapping(result.get("partialFingerprints")).items()
            if isinstance(v, str)
        }
        if partial:
            extra["partial_fingerprints"] = partial
        for extra_key, value in (
            ("help_uri", as_str(rule.get("helpUri"))),
            ("rule_description", as_str(short.get("text"))),
            ("rule_name", as_str(rule.get("name"))),
            ("level", as_str(result.get("level"))),
        ):
            if value is not None:
                extra[extra_key] = value
        finding = Finding(
            tool=key,
            rule=rule_id,
            severity=severity,
            category=finding_category,
            message=clip(message or rule_id),
            file=file,
            line=line,
            column=column,
            aliases=as_strings(properties.get("aliases")),
            fix=as_str(properties.get("fix")),
            extra=extra,
            suppressed=suppressed,
            suppress_reason=justification,
        )
        pending.append(Pending(finding, snippet))
    if bad:
        problems.append(FindingsProblem("SARIF", f"run {number}: {bad} results not objects"))
    return pending


def _rule_of(
    result: Mapping[str, object],
    components: Sequence[Mapping[str, object]],
    by_id: Mapping[str, Mapping[str, object]],
) -> Mapping[str, object]:
    reference = as_mapping(result.get("rule"))
    component = components[0]
    tool_component = as_mapping(reference.get("toolComponent"))
    extension = tool_component.get("index")
    if isinstance(extension, int) and not isinstance(extension, bool):
        if 0 <= extension + 1 < len(components):
            component = components[extension + 1]
    index = result.get("ruleIndex", reference.get("index"))
    rules = as_list(component.get("rules"))
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(rules):
        return as_mapping(rules[index])
    rule_id = as_str(result.get("ruleId")) or as_str(reference.get("id"))
    if rule_id is not None:
        found = by_id.get(rule_id)
        if found is None and "/" in rule_id:
            found = by_id.get(rule_id.split("/", 1)[0])  # hierarchical ids: "C2001/sub"
        return found or {}
    return {}


def _message(
    result: Mapping[str, object], rule: Mapping[str, object], driver: Mapping[str, object]
) -> str | None:
    message = as_mapping(result.get("message"))
    text = as_str(message.get("text")) or as_str(message.get("markdown"))
    if text is None:
        message_id = as_str(message.get("id"))
        if message_id is None:
            return None
        for table in (rule.get("messageStrings"), driver.get("globalMessageStrings")):
            template = as_mapping(as_mapping(table).get(message_id))
            text = as_str(template.get("text")) or as_str(template.get("markdown"))
            if text is not None:
                break
        if text is None:
            return message_id
    arguments = [str(a) for a in as_list(message.get("arguments"))]
    return _fill(text, arguments)


def _fill(template: str, arguments: Sequence[str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "{{":
            return "{"
        if match.group(0) == "}}":
            return "}"
        index = int(match.group(1))
        return arguments[index] if index < len(arguments) else match.group(0)

    return _PLACEHOLDER.sub(substitute, template)


def _place(
    result: Mapping[str, object], run: Mapping[str, object], root: Path
) -> tuple[str | None, int | None, int | None, str | None]:
    for location_item in as_list(result.get("locations")):
        physical = as_mapping(as_mapping(location_item).get("physicalLocation"))
        if not physical:
            continue
        file = _artifact_path(as_mapping(physical.get("artifactLocation")), run, root)
        region = as_mapping(physical.get("region"))
        line = as_int(region.get("startLine"))
        column = as_int(region.get("startColumn")) if line is not None else None
        snippet_text = as_str(as_mapping(region.get("snippet")).get("text"))
        snippet = snippet_text.splitlines()[0] if snippet_text else None
        return file, line, column, snippet
    return None, None, None, None


def _artifact_path(
    location: Mapping[str, object], run: Mapping[str, object], root: Path
) -> str | None:
    uri = as_str(location.get("uri"))
    base_id = as_str(location.get("uriBaseId"))
    if uri is None:
        index = location.get("index")
        artifacts = as_list(run.get("artifacts"))
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(artifacts):
            artifact = as_mapping(as_mapping(artifacts[index]).get("location"))
            uri = as_str(artifact.get("uri"))
            base_id = base_id or as_str(artifact.get("uriBaseId"))
    if uri is None:
        return None
    bases = as_mapping(run.get("originalUriBaseIds"))
    full = uri
    seen: set[str] = set()
    while base_id is not None and base_id not in seen and not urlsplit(full).scheme:
        seen.add(base_id)
        base = as_mapping(bases.get(base_id))
        base_uri = as_str(base.get("uri"))
        if base_uri is None:
            break  # an unknown base (e.g. %SRCROOT% not given) is the project root
        full = urljoin(base_uri if base_uri.endswith("/") else base_uri + "/", full)
        base_id = as_str(base.get("uriBaseId"))
    return _uri_to_path(full, root)


def _uri_to_path(uri: str, root: Path) -> str:
    parts = urlsplit(uri)
    if parts.scheme == "file":
        path = unquote(parts.path)
        if re.match(r"^/[A-Za-z]:/", path):
            path = path[1:]
        return relative_path(path, root)
    if parts.scheme and len(parts.scheme) > 1:
        return uri  # another scheme: kept as it is
    return relative_path(unquote(uri), root)


def _severity(
    result: Mapping[str, object],
    rule: Mapping[str, object],
    properties: Mapping[str, object],
    rule_properties: Mapping[str, object],
) -> Severity:
    named = severity_from_name(properties.get("severity"))
    if named is not None:
        return named
    for bag in (properties, rule_properties):
        score = _score(bag.get("security-severity"))
        if score is not None:
            return severity_from_score(score)
    level = as_str(result.get("level"))
    if level is None:
        kind = result.get("kind", "fail")
        if kind != "fail":
            level = "none"
        else:
            configuration = as_mapping(rule.get("defaultConfiguration"))
            level = as_str(configuration.get("level")) or "warning"
    return LEVEL_SEVERITY.get(level, Severity.MEDIUM)


def _score(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _suppression(result: Mapping[str, object]) -> tuple[bool, str]:
    suppressions = [as_mapping(s) for s in as_list(result.get("suppressions"))]
    if not suppressions:
        return False, ""
    if any(s.get("status") in ("rejected", "underReview") for s in suppressions):
        return False, ""
    for suppression in suppressions:
        justification = as_str(suppression.get("justification"))
        if justification is not None:
            return True, justification
    kind = as_str(suppressions[0].get("kind")) or "external"
    return True, f"suppressed ({kind})"
