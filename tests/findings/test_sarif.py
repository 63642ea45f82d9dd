"""SARIF 2.1.0 and JUnit XML out: the SARIF validates against the official OASIS schema
(``data/sarif-schema-2.1.0.json``), carries what code scanning reads, and reads back to the
same findings; the JUnit XML is one suite per tool and reads back with our JUnit collector."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET  # parsing our own output in tests
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from amoskys.collect.junit import parse_junit
from amoskys.findings.collectors import (
    collect_black,
    collect_flake8_json,
    collect_isort,
    collect_mypy,
    collect_pip_audit,
    collect_safety,
    collect_sarif,
)
from amoskys.findings.model import (
    Category,
    Finding,
    Severity,
    severity_from_score,
    with_fingerprint,
)
from amoskys.findings.sarif import FINGERPRINT_KEY, SARIF_SCHEMA, to_junit_xml, to_sarif

DATA = Path(__file__).parent / "data"
SCHEMA_BYTES = (DATA / "sarif-schema-2.1.0.json").read_bytes()
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"

FILES = {
    "pkg/style.py": "import os, sys\ndef f(x:int)->int:\n    return x+undefined_name\n",
    "pkg/typing_errors.py": "def g(a: int) -> str:\n    return a\n",
    "app/views.py": "import subprocess\n\n    subprocess.call(cmd, shell=True)\nx = 1\n",
    "app/util.py": "import os\n",
    "app/crypto utils.py": "import hashlib\ndigest = hashlib.md5(data)\n",
    "app/ñandú.py": "x = 1\n",
    "requirements.txt": "click==8.1.7\njinja2==2.11.2\n",
}


def make_root(root: Path) -> Path:
    for rel, text in FILES.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


def odd_findings() -> list[Finding]:
    """Findings at the edges: no place, a place outside the root, odd text, every severity."""
    base = [
        Finding("osv", "GHSA-xxxx-yyyy-zzzz", Severity.CRITICAL, Category.VULNERABILITY, "bad"),
        Finding(
            "secrets",
            "aws-access-key",
            Severity.HIGH,
            Category.SECRET,
            "AWS key\x1b[31m in \x00 config \u2603",
            file="app/ñandú.py",
            line=1,
            extra={"security_severity": 9.8},
        ),
        Finding("custom", "C1", Severity.INFO, Category.OTHER, "", file="/opt/elsewhere/x.py"),
        Finding("custom", "C2", Severity.UNKNOWN, Category.OTHER, "column only", "a.py", None, 7),
        Finding(
            "custom",
            "C3",
            Severity.LOW,
            Category.OTHER,
            "suppressed without reason",
            file="app/util.py",
            line=1,
            suppressed=True,
        ),
    ]
    return [with_fingerprint(f, f.message) for f in base]


def realistic_findings(root: Path) -> list[Finding]:
    """Findings from every collector that reads a fixture or a short literal output."""
    found: list[Finding] = []
    found += collect_flake8_json((DATA / "flake8-json.json").read_text("utf-8"), root).findings
    found += collect_black("would reformat pkg/style.py\n", root).findings
    found += collect_isort(
        "ERROR: pkg/style.py Imports are incorrectly sorted and/or formatted.\n", root
    ).findings
    found += collect_mypy(
        'pkg/typing_errors.py:2:12: error: Incompatible return value type (got "int", '
        'expected "str")  [return-value]\npkg/typing_errors.py:2:12: note: a note\n',
        root,
    ).findings
    found += collect_pip_audit((DATA / "pip-audit.json").read_text("utf-8"), root).findings
    found += collect_safety((DATA / "safety-2.json").read_text("utf-8"), root).findings
    scan = (DATA / "safety-3-scan.json").read_text("utf-8").replace("__ROOT__", str(root))
    found += collect_safety(scan, root).findings
    sample = (DATA / "sample.sarif").read_text("utf-8").replace("__ROOT_URI__", root.as_uri())
    found += collect_sarif(sample, root).findings
    return found + odd_findings()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path / "project")


def validate(log: dict[str, Any]) -> None:
    """Validate with the validator the schema names (draft-04), formats checked where
    jsonschema can; URIs are also checked by hand below."""
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a dev dependency")
    schema = json.loads(SCHEMA_BYTES)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(json.loads(json.dumps(log))), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])
    for uri in _uris(log):
        assert uri == uri.strip() and " " not in uri, uri


def _uris(value: object) -> list[str]:
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("uri", "helpUri", "informationUri") and isinstance(item, str):
                found.append(item)
            else:
                found.extend(_uris(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_uris(item))
    return found


# --- the schema itself --------------------------------------------------------------------


def test_the_schema_is_the_official_oasis_file() -> None:
    assert hashlib.sha256(SCHEMA_BYTES).hexdigest() == SCHEMA_SHA256
    schema = json.loads(SCHEMA_BYTES)
    assert schema["id"] == SARIF_SCHEMA
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    assert schema["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"


def test_the_schema_rejects_what_is_not_sarif() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a dev dependency")
    schema = json.loads(SCHEMA_BYTES)
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert not validator.is_valid({"version": "2.0.0", "runs": []})
    bad_level = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "x"}},
                "results": [{"message": {"text": "m"}, "level": "fatal"}],
            }
        ],
    }
    assert not validator.is_valid(bad_level)


# --- SARIF out ------------------------------------------------------------------------------


def test_sarif_output_validates_against_the_official_schema(root: Path) -> None:
    findings = realistic_findings(root)
    assert len({f.tool for f in findings}) >= 9
    log = to_sarif(
        findings, tool_versions={"flake8": "7.5.0", "bandit": "1.9.4", "ruff": ""}, root=root
    )
    validate(log)
    assert json.loads(json.dumps(log)) == log  # plain JSON data


def test_empty_sarif_validates(root: Path) -> None:
    empty = to_sarif([], root=root)
    assert empty["runs"] == []
    validate(empty)
    clean = to_sarif([], tool_versions={"bandit": "1.9.4"}, root=root)
    validate(clean)
    assert [run["tool"]["driver"]["name"] for run in clean["runs"]] == ["bandit"]
    assert clean["runs"][0]["results"] == []


def test_runs_rules_and_results(root: Path) -> None:
    findings = realistic_findings(root)
    log = to_sarif(findings, tool_versions={"flake8": "7.5.0"}, root=root)
    assert log["version"] == "2.1.0" and log["$schema"] == SARIF_SCHEMA
    runs = {run["tool"]["driver"]["name"]: run for run in log["runs"]}
    assert list(runs) == sorted(runs, key=lambda name: name.lower().replace(" ", "-"))
    assert {"flake8", "black", "isort", "mypy", "pip-audit", "safety", "CodeQL", "Bandit"} <= set(
        runs
    )

    flake8 = runs["flake8"]
    driver = flake8["tool"]["driver"]
    assert driver["version"] == "7.5.0"
    assert driver["informationUri"] == "https://flake8.pycqa.org/"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == ["F401", "E401", "E302", "E231", "E225", "F821"]  # each once
    for result in flake8["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
    f401 = driver["rules"][0]
    assert f401["helpUri"] == "https://flake8.pycqa.org/en/latest/user/error-codes.html"
    assert f401["shortDescription"]["text"]
    assert flake8["originalUriBaseIds"] == {"%SRCROOT%": {"uri": root.resolve().as_uri() + "/"}}
    assert flake8["conversion"]["tool"]["driver"]["name"] == "Amoskys"

    undefined = next(r for r in flake8["results"] if r["ruleId"] == "F821")
    assert undefined["level"] == "error"  # high
    assert undefined["message"] == {"text": "undefined name 'undefined_name'"}
    assert undefined["locations"] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "pkg/style.py", "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": 3, "startColumn": 14},
            }
        }
    ]
    original = next(f for f in findings if f.tool == "flake8" and f.rule == "F821")
    assert undefined["partialFingerprints"] == {FINGERPRINT_KEY: original.fingerprint}
    assert undefined["properties"] == {"severity": "high", "category": "style"}
    levels = {r["ruleId"]: r["level"] for r in flake8["results"]}
    assert levels["F401"] == "warning" and levels["E231"] == "note"

    black = runs["black"]
    assert black["tool"]["driver"]["rules"][0]["shortDescription"]["text"].startswith("The file")
    assert black["results"][0]["properties"]["fix"] == "run black pkg/style.py"


def test_security_severity_for_security_findings(root: Path) -> None:
    findings = realistic_findings(root)
    log = to_sarif(findings, root=root)
    runs = {run["tool"]["driver"]["name"]: run for run in log["runs"]}

    safety = runs["safety"]
    by_rule = {rule["id"]: rule for rule in safety["tool"]["driver"]["rules"]}
    assert by_rule["39525"]["properties"]["security-severity"] == "5.5"  # medium
    assert "security-severity" not in by_rule["43975"]["properties"]  # unknown: no score
    assert by_rule["39525"]["properties"]["tags"] == ["security", "vulnerability"]
    assert by_rule["39525"]["helpUri"] == "https://data.safetycli.com/v/39525/f17"
    results: dict[str, dict[str, Any]] = {}
    for result in safety["results"]:
        if "suppressions" not in result:
            results.setdefault(result["ruleId"], result)  # Safety 2 before Safety 3
    assert results["43975"]["level"] == "error"  # unknown counts as high
    assert results["39525"]["properties"]["aliases"] == ["CVE-2020-28493"]

    secret = runs["secrets"]["results"][0]
    assert secret["properties"]["security-severity"] == "9.8"  # given by the finding
    assert runs["osv"]["results"][0]["properties"]["security-severity"] == "9.5"
    assert "security-severity" not in runs["flake8"]["results"][0]["properties"]

    # The scores fall in the band of their severity as code scanning reads them back.
    for severity in (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW):
        finding = Finding("t", "r", severity, Category.CODE_SECURITY, "m")
        score = to_sarif([finding], root=root)["runs"][0]["results"][0]["properties"]
        assert severity_from_score(float(score["security-severity"])) is severity


def test_suppressed_findings_are_carried(root: Path) -> None:
    log = to_sarif(realistic_findings(root), root=root)
    runs = {run["tool"]["driver"]["name"]: run for run in log["runs"]}
    suppressed = [r for r in runs["safety"]["results"] if "suppressions" in r]
    assert [r["suppressions"] for r in suppressed] == [
        [{"kind": "external", "status": "accepted", "justification": reason}]
        for reason in ("only used for trusted templates", "trusted templates only")
    ]
    custom = [r for r in runs["custom"]["results"] if "suppressions" in r]
    assert custom[0]["suppressions"] == [{"kind": "external", "status": "accepted"}]


def test_locations_for_odd_places(root: Path) -> None:
    log = to_sarif(realistic_findings(root), root=root)
    results = [r for run in log["runs"] for r in run["results"]]
    locations = [r.get("locations", [None])[0] for r in results]
    uris = [
        loc["physicalLocation"]["artifactLocation"]
        for loc in locations
        if loc is not None and "physicalLocation" in loc
    ]
    assert {"uri": "app/crypto%20utils.py", "uriBaseId": "%SRCROOT%"} in uris
    assert {"uri": "app/%C3%B1and%C3%BA.py", "uriBaseId": "%SRCROOT%"} in uris
    assert {"uri": "file:///opt/elsewhere/x.py"} in uris
    for uri in uris:
        assert urlsplit(uri["uri"]).scheme in ("", "file")
    logical = [loc["logicalLocations"][0] for loc in locations if loc and "logicalLocations" in loc]
    assert {"name": "jinja2", "kind": "module", "fullyQualifiedName": "jinja2==3.1.2"} in logical
    column_only = next(r for r in results if r["ruleId"] == "C2")
    assert "region" not in column_only["locations"][0]["physicalLocation"]
    no_message = next(r for r in results if r["ruleId"] == "C1")
    assert no_message["message"] == {"text": "C1"} and no_message["level"] == "note"


def test_sarif_reads_back_to_the_same_findings(root: Path) -> None:
    findings = realistic_findings(root)
    log = to_sarif(findings, root=root)
    back, problems = collect_sarif(json.dumps(log), root)
    assert problems == []

    def key(f: Finding) -> tuple[object, ...]:
        column = f.column if f.line is not None else None  # a column needs its line
        return (f.rule, f.severity, f.category, f.file, f.line, column, f.suppressed)

    def details(f: Finding) -> tuple[object, ...]:
        reason = f.suppress_reason or ("suppressed (external)" if f.suppressed else "")
        return (f.message or f.rule, f.aliases, f.fix, reason)

    by_tool: dict[str, list[Finding]] = {}
    for finding in findings:
        by_tool.setdefault(finding.tool, []).append(finding)
    expected = [f for tool in sorted(by_tool) for f in by_tool[tool]]
    assert [key(f) for f in back] == [key(f) for f in expected]
    assert [details(f) for f in back] == [details(f) for f in expected]
    for original, read in zip(expected, back):
        assert read.extra["partial_fingerprints"] == {FINGERPRINT_KEY: original.fingerprint}
        assert read.tool == original.tool.lower().replace(" ", "-")


# --- JUnit XML ----------------------------------------------------------------------------


def test_junit_one_suite_per_tool(root: Path, tmp_path: Path) -> None:
    findings = realistic_findings(root)
    xml = to_junit_xml(findings, tools=["flake8", "ruff"])
    document = ET.fromstring(xml.encode("utf-8"))
    assert document.tag == "testsuites"
    suites = {suite.get("name", ""): suite for suite in document.findall("testsuite")}
    assert list(suites) == sorted(suites)
    assert set(suites) == {f.tool for f in findings} | {"ruff"}

    flake8 = suites["flake8"]
    cases = flake8.findall("testcase")
    assert flake8.get("tests") == str(len(cases)) == "7"
    assert flake8.get("failures") == "7" and flake8.get("skipped") == "0"
    first = cases[0]
    assert first.get("classname") == "flake8"
    assert first.get("name") == "F401 pkg/style.py:1:1"
    assert first.get("file") == "pkg/style.py" and first.get("line") == "1"
    failure = first.find("failure")
    assert failure is not None and failure.get("type") == "F401"
    assert failure.get("message") == "'os' imported but unused"
    assert failure.text is not None and "severity: medium" in failure.text

    ruff = suites["ruff"].findall("testcase")
    assert [(c.get("name"), list(c)) for c in ruff] == [("no findings", [])]
    assert suites["ruff"].get("failures") == "0"

    safety = suites["safety"]
    skipped = [c for c in safety.findall("testcase") if c.find("skipped") is not None]
    assert len(skipped) == 2 and safety.get("skipped") == "2"
    message = skipped[0].find("skipped")
    assert message is not None
    assert message.get("message") == "suppressed: only used for trusted templates"
    total = sum(int(s.get("tests") or 0) for s in suites.values())
    assert document.get("tests") == str(total)

    secrets = suites["secrets"].find("testcase/failure")
    assert secrets is not None and "\x1b" not in (secrets.get("message") or "")

    report = tmp_path / "findings.xml"
    report.write_text(xml, encoding="utf-8")
    cases_read, warnings = parse_junit(report)
    assert warnings == []
    statuses = [case.outcome for case in cases_read]
    assert statuses.count("failed") == sum(1 for f in findings if not f.suppressed)
    assert statuses.count("skipped") == sum(1 for f in findings if f.suppressed)
    assert statuses.count("passed") == 1  # ruff's "no findings"


def test_junit_tool_with_only_suppressed_findings_passes() -> None:
    finding = Finding(
        "bandit", "B101", Severity.LOW, Category.CODE_SECURITY, "assert", suppressed=True
    )
    document = ET.fromstring(to_junit_xml([finding]).encode("utf-8"))
    names = [(c.get("name"), [child.tag for child in c]) for c in document.iter("testcase")]
    assert names == [("B101 project", ["skipped"]), ("no findings", [])]
    assert ET.fromstring(to_junit_xml([]).encode("utf-8")).get("tests") == "0"


def test_suppressions_given_by_fingerprint(root: Path) -> None:
    finding = with_fingerprint(
        Finding("flake8", "F401", Severity.MEDIUM, Category.STYLE, "unused", "a.py", 1, 1),
        "import os",
    )
    other = with_fingerprint(
        Finding("flake8", "F811", Severity.MEDIUM, Category.STYLE, "again", "a.py", 2, 1), "x"
    )
    reasons = {finding.fingerprint: "re-exported on purpose"}
    log = to_sarif([finding, other], root=root, suppressed=reasons)
    validate(log)
    results = log["runs"][0]["results"]
    assert results[0]["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "re-exported on purpose"}
    ]
    assert "suppressions" not in results[1]
    document = ET.fromstring(to_junit_xml([finding, other], suppressed=reasons).encode("utf-8"))
    outcomes = [[child.tag for child in case] for case in document.iter("testcase")]
    assert outcomes == [["skipped"], ["failure"]]
