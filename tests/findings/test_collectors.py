"""Collectors: the real output of Black, isort, flake8, mypy and Bandit run on a project with
planted problems; pip-audit, Safety, flake8-json and SARIF from fixtures in their documented
shapes (see ``data/README.md``); fingerprints that survive a line move; bad input that gives
problems, never exceptions."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess  # nosec B404 - the tests run the real tools
import sys
from pathlib import Path

import pytest

from amoskys.findings.collectors import (
    COLLECTORS,
    Collected,
    collect,
    collect_bandit,
    collect_black,
    collect_flake8,
    collect_flake8_json,
    collect_isort,
    collect_mypy,
    collect_mypy_json,
    collect_pip_audit,
    collect_safety,
    collect_sarif,
)
from amoskys.findings.common import LineCache, relative_path
from amoskys.findings.model import (
    Category,
    Finding,
    FindingsProblem,
    Severity,
    severity_from_name,
    severity_from_score,
)

DATA = Path(__file__).parent / "data"

STYLE_PY = "import os, sys\ndef f(x:int)->int:\n    return x+undefined_name\n"
TYPES_PY = (
    "import not_installed_module_xyz  # noqa: F401\n"
    "\n"
    "\n"
    "def g(a: int) -> str:\n"
    "    return a\n"
    "\n"
    "\n"
    'g("x")\n'
    "reveal_type(g)  # noqa: F821\n"
)
SECURITY_PY = (
    "import subprocess\n\n\ndef run(cmd: str) -> None:\n    subprocess.call(cmd, shell=True)\n"
)
BROKEN_PY = "def broken(:\n    pass\n"
CLEAN_PY = '"""Nothing wrong here."""\n\nVALUE = 1\n'
PYPROJECT = """\
[tool.black]
line-length = 100

[tool.isort]
profile = "black"
line_length = 100

[tool.mypy]
ignore_missing_imports = false
"""

PROJECT = {
    "pyproject.toml": PYPROJECT,
    "setup.cfg": "[flake8]\nmax-line-length = 100\n",
    "pkg/__init__.py": "",
    "pkg/style.py": STYLE_PY,
    "pkg/typing_errors.py": TYPES_PY,
    "pkg/security.py": SECURITY_PY,
    "pkg/broken.py": BROKEN_PY,
    "pkg/clean.py": CLEAN_PY,
}
MOVE = "# three lines pushed in above\n\n\n"


def make_project(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("project"), PROJECT)


@pytest.fixture(scope="module")
def moved_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same project with three lines added at the top of two files."""
    files = dict(PROJECT)
    files["pkg/style.py"] = MOVE + STYLE_PY
    files["pkg/typing_errors.py"] = TYPES_PY.replace(
        "# noqa: F401\n", "# noqa: F401\nX = 1\nY = 2\nZ = 3\n"
    )
    return make_project(tmp_path_factory.mktemp("moved"), files)


@pytest.fixture(scope="module")
def tool_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tool-home")


def run_tool(module: str, root: Path, home: Path, *args: str) -> str:
    """``python -m module args`` in ``root``; stdout and stderr together. Caches and user
    configuration live under ``home``, never the real $HOME."""
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYPY", "BLACK", "FLAKE8"))}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_CONFIG_HOME=str(home / "config"),
        BLACK_CACHE_DIR=str(home / "black-cache"),
        MYPY_CACHE_DIR=str(home / f"mypy-cache-{root.name}"),
        NO_COLOR="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    done = subprocess.run(  # nosec B603 - our own interpreter and a fixed argument list
        [sys.executable, "-m", module, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return done.stdout + done.stderr


def by_rule(findings: list[Finding]) -> dict[str, list[Finding]]:
    found: dict[str, list[Finding]] = {}
    for finding in findings:
        found.setdefault(finding.rule, []).append(finding)
    return found


def assert_fingerprints(findings: list[Finding]) -> None:
    prints = [f.fingerprint for f in findings]
    assert all(len(p) == 32 for p in prints)
    assert len(set(prints)) == len(prints), "fingerprints must be unique within a run"


# --- Black -------------------------------------------------------------------------------


def test_black_check_real_output(project: Path, tool_home: Path) -> None:
    output = run_tool("black", project, tool_home, "--check", "pkg")
    assert "would reformat" in output
    findings, problems = collect_black(output, project)
    assert problems == []
    files = {f.file: f for f in findings}
    style = files["pkg/style.py"]
    assert (style.tool, style.rule, style.severity, style.category) == (
        "black",
        "would-reformat",
        Severity.LOW,
        Category.FORMAT,
    )
    assert style.fix == "run black pkg/style.py"
    broken = files["pkg/broken.py"]
    assert broken.rule == "cannot-format" and broken.severity is Severity.MEDIUM
    assert "pkg/clean.py" not in files and "pkg/security.py" not in files
    assert_fingerprints(findings)


def test_black_diff_absolute_paths_and_first_changed_line(project: Path, tool_home: Path) -> None:
    target = str(project / "pkg" / "style.py")
    output = run_tool("black", project, tool_home, "--check", "--diff", target)
    assert output.count(target) >= 2  # Black prints absolute paths in both places
    findings, problems = collect_black(output, project)
    assert problems == []
    assert [(f.file, f.line) for f in findings] == [("pkg/style.py", 2)]
    # The diff alone (stdout, without the stderr lines) gives the same finding.
    diff_only = "\n".join(line for line in output.splitlines() if "would reformat" not in line)
    assert collect_black(diff_only, project).findings == findings


def test_black_per_file_fingerprint_ignores_the_line(tmp_path: Path) -> None:
    first = collect_black("would reformat pkg/a.py\n", tmp_path).findings
    diff = "--- pkg/a.py\t2024-01-01\n+++ pkg/a.py\t2024-01-01\n@@ -7,2 +7,2 @@\n-x=1\n+x = 1\n"
    second = collect_black(diff, tmp_path).findings
    assert second[0].line == 7 and first[0].line is None
    assert first[0].fingerprint == second[0].fingerprint


# --- isort -------------------------------------------------------------------------------


def test_isort_check_real_output(project: Path, tool_home: Path) -> None:
    output = run_tool("isort", project, tool_home, "--check-only", "pkg")
    assert "Imports are incorrectly sorted" in output
    findings, problems = collect_isort(output, project)
    assert problems == []
    assert [f.file for f in findings] == ["pkg/style.py"]
    finding = findings[0]
    assert (finding.tool, finding.rule, finding.severity, finding.category) == (
        "isort",
        "incorrectly-sorted",
        Severity.LOW,
        Category.IMPORTS,
    )
    assert finding.fix == "run isort pkg/style.py"

    with_diff = run_tool("isort", project, tool_home, "--check-only", "--diff", "pkg")
    diffed = collect_isort(with_diff, project).findings
    assert [(f.file, f.line) for f in diffed] == [("pkg/style.py", 1)]
    assert diffed[0].fingerprint == finding.fingerprint


def test_isort_other_errors_are_problems(tmp_path: Path) -> None:
    output = "ERROR: Unable to parse file pkg/x.py due to UnicodeDecodeError\n"
    findings, problems = collect_isort(output, tmp_path)
    assert findings == []
    assert problems == [
        FindingsProblem("isort", "Unable to parse file pkg/x.py due to UnicodeDecodeError")
    ]


# --- flake8 ------------------------------------------------------------------------------


def test_flake8_text_real_output(project: Path, tool_home: Path) -> None:
    output = run_tool("flake8", project, tool_home, "pkg")
    findings, problems = collect_flake8(output, project)
    assert problems == []
    assert all(f.tool == "flake8" and f.category is Category.STYLE for f in findings)
    rules = by_rule(findings)
    unused = rules["F401"]
    assert [(f.file, f.line, f.column, f.severity) for f in unused] == [
        ("pkg/style.py", 1, 1, Severity.MEDIUM),
        ("pkg/style.py", 1, 1, Severity.MEDIUM),
    ]
    assert {f.message for f in unused} == {"'os' imported but unused", "'sys' imported but unused"}
    undefined = rules["F821"][0]
    assert (undefined.file, undefined.line, undefined.column) == ("pkg/style.py", 3, 14)
    assert undefined.severity is Severity.HIGH
    assert rules["E231"][0].severity is Severity.LOW
    syntax = rules["E999"][0]
    assert syntax.file == "pkg/broken.py" and syntax.severity is Severity.HIGH
    assert not [f for f in findings if f.file in ("pkg/clean.py", "pkg/typing_errors.py")]
    assert_fingerprints(findings)


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        ("E999", Severity.HIGH),
        ("E902", Severity.HIGH),
        ("F632", Severity.HIGH),
        ("F701", Severity.HIGH),
        ("F821", Severity.HIGH),
        ("F822", Severity.HIGH),
        ("F401", Severity.MEDIUM),
        ("F841", Severity.MEDIUM),
        ("E501", Severity.LOW),
        ("W291", Severity.LOW),
        ("C901", Severity.LOW),
        ("B006", Severity.LOW),
    ],
)
def test_flake8_severities(tmp_path: Path, code: str, severity: Severity) -> None:
    findings, _ = collect_flake8(f"a.py:3:1: {code} something\n", tmp_path)
    assert [f.severity for f in findings] == [severity]


def test_flake8_json_plugin_output(tmp_path: Path) -> None:
    """Real flake8-json output (both formats) reads as the text format does."""
    compact = collect_flake8_json((DATA / "flake8-json.json").read_text("utf-8"), tmp_path)
    pretty = collect_flake8((DATA / "flake8-json-pretty.json").read_text("utf-8"), tmp_path)
    assert compact.problems == [] and pretty.problems == []
    assert compact.findings == pretty.findings
    assert [(f.rule, f.line, f.column) for f in compact.findings] == [
        ("F401", 1, 1),
        ("F401", 1, 1),
        ("E401", 1, 10),
        ("E302", 2, 1),
        ("E231", 2, 8),
        ("E225", 2, 13),
        ("F821", 3, 14),
    ]
    # The same findings as flake8's text output for the same file, fingerprints included;
    # without the file, physical_line gives the line text.
    text = "\n".join(
        f"{f.file}:{f.line}:{f.column}: {f.rule} {f.message}" for f in compact.findings
    )
    make_project(tmp_path, {"pkg/style.py": STYLE_PY})
    from_text = collect_flake8(text, tmp_path).findings
    from_json = collect_flake8_json((DATA / "flake8-json.json").read_text("utf-8"), tmp_path)
    assert from_json.findings == from_text == compact.findings


def test_flake8_json_other_shapes(tmp_path: Path) -> None:
    listed = json.dumps(
        [
            {
                "code": "E501",
                "filename": "./a.py",
                "line_number": 4,
                "column_number": 101,
                "text": "x",
            }
        ]
    )
    findings, problems = collect_flake8_json(listed, tmp_path)
    assert problems == [] and [(f.file, f.line, f.column) for f in findings] == [("a.py", 4, 101)]
    assert collect_flake8_json('{"a.py": []}', tmp_path) == Collected([], [])
    half = '{"a.py": [{"code": "E1", "line_number": 1}, {"text": "no code"}]}'
    findings, problems = collect_flake8_json(half, tmp_path)
    assert len(findings) == 1 and len(problems) == 1


def test_flake8_text_noise_and_unknown_lines(tmp_path: Path) -> None:
    output = (
        "a.py:1:1: F401 'os' imported but unused\n"
        "    import os\n"
        "    ^\n"
        "1     F401 'os' imported but unused\n"
        "1\n"
        "Traceback (most recent call last):\n"
        'File "x", line 3\n'
    )
    findings, problems = collect_flake8(output, tmp_path)
    assert [f.rule for f in findings] == ["F401"]
    assert len(problems) == 1 and "2 unrecognised lines" in problems[0].message


# --- mypy --------------------------------------------------------------------------------

MYPY_FILES = ("pkg/style.py", "pkg/typing_errors.py", "pkg/security.py", "pkg/clean.py")


def test_mypy_text_and_json_real_output(project: Path, tool_home: Path) -> None:
    text = run_tool("mypy", project, tool_home, "--show-column-numbers", *MYPY_FILES)
    as_json = run_tool("mypy", project, tool_home, "-O", "json", *MYPY_FILES)
    from_text, text_problems = collect_mypy(text, project)
    from_json, json_problems = collect_mypy(as_json, project)  # recognised as JSON
    assert text_problems == [] and json_problems == []
    assert from_text == from_json  # columns too: JSON's 0-based columns are made 1-based
    assert collect_mypy_json(as_json, project).findings == from_json

    rules = by_rule(from_text)
    assert all(f.tool == "mypy" and f.category is Category.TYPES for f in from_text)
    missing = rules["import-not-found"][0]
    assert (missing.file, missing.line, missing.severity) == (
        "pkg/typing_errors.py",
        1,
        Severity.MEDIUM,
    )
    notes = missing.extra["notes"]
    assert isinstance(notes, tuple) and "missing-imports" in notes[0]
    assert [(f.line, f.column) for f in rules["return-value"]] == [(5, 12)]
    assert [f.line for f in rules["arg-type"]] == [8]
    assert [f.file for f in rules["name-defined"]] == ["pkg/style.py"]
    revealed = rules["note"][0]
    assert revealed.severity is Severity.INFO and revealed.line == 9
    assert "Revealed type" in revealed.message
    assert_fingerprints(from_text)

    default = run_tool("mypy", project, tool_home, *MYPY_FILES)  # no columns
    without_columns = collect_mypy(default, project).findings
    assert [(f.rule, f.line, f.fingerprint) for f in without_columns] == [
        (f.rule, f.line, f.fingerprint) for f in from_text
    ]
    assert all(f.column is None for f in without_columns)


def test_mypy_text_variants(tmp_path: Path) -> None:
    output = "\n".join(
        [
            'pkg/a.py:3: error: Name "x" is not defined  [name-defined]',
            "pkg/a.py:3: note: A note for the error above",
            "pkg/a.py:4:5:4:9: error: Incompatible types  [assignment]",
            "pkg/a.py:4:5:4:9: note: Hint at the same place",
            "pkg/a.py:6: note: A note on its own",
            "pkg/b.py: error: Duplicate module named 'b'",
            "C:\\proj\\pkg\\c.py:7:2: error: Windows path  [misc]",
            "pkg/d.py:1: error: Invalid syntax  [syntax]",
            "pkg/e.py:2: error: Error codes hidden",
            "    x = undefined",
            "        ^~~~~~~~~",
            "Found 5 errors in 4 files (checked 4 source files)",
            "mypy: error: Cannot find config file 'nope.ini'",
        ]
    )
    findings, problems = collect_mypy(output, tmp_path)
    assert [(f.file, f.line, f.column, f.rule, f.severity) for f in findings] == [
        ("pkg/a.py", 3, None, "name-defined", Severity.MEDIUM),
        ("pkg/a.py", 4, 5, "assignment", Severity.MEDIUM),
        ("pkg/a.py", 6, None, "note", Severity.INFO),
        ("pkg/b.py", None, None, "misc", Severity.MEDIUM),
        ("C:/proj/pkg/c.py", 7, 2, "misc", Severity.MEDIUM),
        ("pkg/d.py", 1, None, "syntax", Severity.HIGH),
        ("pkg/e.py", 2, None, "misc", Severity.MEDIUM),
    ]
    assert findings[0].extra["notes"] == ("A note for the error above",)
    assert findings[1].extra["notes"] == ("Hint at the same place",)
    assert problems == [FindingsProblem("mypy", "Cannot find config file 'nope.ini'")]


def test_mypy_json_hints_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "file": "a.py",
                "line": 2,
                "column": 0,
                "message": "Library stubs not installed",
                "hint": "Hint: one\nHint: two",
                "code": "import-untyped",
                "severity": "error",
            }
        ),
        json.dumps({"file": "a.py", "line": -1, "column": -1, "message": "m", "code": None}),
        "not json",
        json.dumps({"line": 3}),
    ]
    findings, problems = collect_mypy_json("\n".join(lines), tmp_path)
    assert [(f.line, f.column, f.rule) for f in findings] == [
        (2, 1, "import-untyped"),
        (None, None, "misc"),
    ]
    assert findings[0].extra["notes"] == ("Hint: one", "Hint: two")
    assert problems == [FindingsProblem("mypy JSON", "2 lines are not mypy JSON records")]


# --- Bandit ------------------------------------------------------------------------------


def test_bandit_json_real_output(project: Path, tool_home: Path) -> None:
    output = run_tool("bandit", project, tool_home, "-q", "-f", "json", "-r", "pkg")
    findings, problems = collect_bandit(output, project)
    rules = by_rule(findings)
    imported = rules["B404"][0]
    assert (imported.file, imported.line, imported.column) == ("pkg/security.py", 1, 1)
    assert imported.severity is Severity.LOW and imported.category is Category.CODE_SECURITY
    shell = rules["B602"][0]
    assert (shell.file, shell.line, shell.column, shell.severity) == (
        "pkg/security.py",
        5,
        5,
        Severity.HIGH,
    )
    assert shell.extra["confidence"] == "HIGH"
    assert str(shell.extra["help_uri"]).startswith("https://bandit.readthedocs.io/")
    assert shell.extra["cwe"] == 78
    assert problems == []
    # the file it could not parse is not clean: a high finding fails code-security
    (unscanned,) = rules["unscanned"]
    assert (unscanned.file, unscanned.severity) == ("pkg/broken.py", Severity.HIGH)
    assert "could not scan" in unscanned.message and unscanned.category is Category.CODE_SECURITY
    assert_fingerprints(findings)


def test_bandit_fingerprint_from_code_excerpt_without_the_file(tmp_path: Path) -> None:
    report = {
        "errors": [],
        "results": [
            {
                "code": "4 def run(cmd: str) -> None:\n5     subprocess.call(cmd, shell=True)\n",
                "col_offset": 4,
                "filename": "pkg/security.py",
                "issue_severity": "HIGH",
                "issue_confidence": "HIGH",
                "issue_text": "subprocess call with shell=True identified, security issue.",
                "line_number": 5,
                "more_info": "https://bandit.readthedocs.io/",
                "test_id": "B602",
                "test_name": "subprocess_popen_with_shell_equals_true",
            }
        ],
    }
    without_file = collect_bandit(json.dumps(report), tmp_path).findings
    make_project(tmp_path, {"pkg/security.py": SECURITY_PY})
    with_file = collect_bandit(json.dumps(report), tmp_path).findings
    assert without_file[0].fingerprint == with_file[0].fingerprint
    assert with_file[0].column == 5


# --- fingerprints across a line move ------------------------------------------------------


def test_fingerprints_survive_a_line_move(
    project: Path, moved_project: Path, tool_home: Path
) -> None:
    before = collect_flake8(run_tool("flake8", project, tool_home, "pkg"), project).findings
    after = collect_flake8(
        run_tool("flake8", moved_project, tool_home, "pkg"), moved_project
    ).findings
    old = {(f.rule, f.message): f for f in before if f.file == "pkg/style.py"}
    new = {(f.rule, f.message): f for f in after if f.file == "pkg/style.py"}
    for key in [("F821", "undefined name 'undefined_name'"), ("F401", "'os' imported but unused")]:
        assert new[key].line == (old[key].line or 0) + 3
        assert new[key].fingerprint == old[key].fingerprint

    typed = run_tool("mypy", project, tool_home, "pkg/typing_errors.py")
    moved = run_tool("mypy", moved_project, tool_home, "pkg/typing_errors.py")
    old_types = by_rule(collect_mypy(typed, project).findings)
    new_types = by_rule(collect_mypy(moved, moved_project).findings)
    for rule in ("return-value", "arg-type"):
        assert new_types[rule][0].line == (old_types[rule][0].line or 0) + 3
        assert new_types[rule][0].fingerprint == old_types[rule][0].fingerprint


def test_fingerprint_stable_across_move_and_reindent_without_tools(tmp_path: Path) -> None:
    first = make_project(tmp_path / "one", {"a.py": "x = 1\ny = undefined\n"})
    second = make_project(tmp_path / "two", {"a.py": "\n\nx = 1\nif True:\n    y =  undefined\n"})
    one = collect_flake8("a.py:2:5: F821 undefined name 'undefined'\n", first).findings
    two = collect_flake8("./a.py:5:10: F821 undefined name 'undefined'\n", second).findings
    assert one[0].fingerprint == two[0].fingerprint
    other = collect_flake8("a.py:1:1: F821 undefined name 'undefined'\n", first).findings
    assert other[0].fingerprint != one[0].fingerprint  # another line, another fingerprint


def test_same_rule_on_identical_lines_gets_distinct_fingerprints(tmp_path: Path) -> None:
    make_project(tmp_path, {"a.py": "print(x)\nprint(x)\n"})
    output = "a.py:1:7: F821 undefined name 'x'\na.py:2:7: F821 undefined name 'x'\n"
    findings = collect_flake8(output, tmp_path).findings
    assert_fingerprints(findings)
    again = collect_flake8(output, tmp_path).findings
    assert [f.fingerprint for f in again] == [f.fingerprint for f in findings]


# --- pip-audit ---------------------------------------------------------------------------


def test_pip_audit_json(tmp_path: Path) -> None:
    findings, problems = collect_pip_audit((DATA / "pip-audit.json").read_text("utf-8"), tmp_path)
    assert problems == []
    assert [(f.rule, f.aliases, f.fix) for f in findings] == [
        ("GHSA-h5c8-rqwp-cp95", ("CVE-2024-22195",), "upgrade jinja2 to 3.1.3"),
        ("GHSA-h75v-3vvj-5mfj", ("CVE-2024-34064",), "upgrade jinja2 to 3.1.4"),
        ("GHSA-9wx4-h78v-vm56", ("CVE-2024-35195",), "upgrade requests to 2.32.0"),
    ]
    first = findings[0]
    assert (first.tool, first.severity, first.category, first.file) == (
        "pip-audit",
        Severity.UNKNOWN,
        Category.VULNERABILITY,
        None,
    )
    assert first.message.startswith("jinja2 3.1.2 has a known vulnerability GHSA-h5c8-rqwp-cp95: ")
    assert "\n" not in first.message
    assert first.extra["package"] == "jinja2" and first.extra["version"] == "3.1.2"
    assert first.extra["help_uri"] == "https://osv.dev/vulnerability/GHSA-h5c8-rqwp-cp95"
    assert first.ids == ("GHSA-h5c8-rqwp-cp95", "CVE-2024-22195")
    assert_fingerprints(findings)


def test_pip_audit_legacy_list_and_given_severity(tmp_path: Path) -> None:
    legacy = collect_pip_audit((DATA / "pip-audit-legacy.json").read_text("utf-8"), tmp_path)
    assert [(f.rule, f.fix, f.aliases) for f in legacy.findings] == [
        ("PYSEC-2021-66", "upgrade jinja2 to 2.11.3", ())
    ]
    rated = {
        "dependencies": [
            {
                "name": "Flask",
                "version": "0.12",
                "vulns": [
                    {"id": "PYSEC-1", "fix_versions": ["0.12.3", "1.0"], "severity": "high"},
                    {"id": "PYSEC-2", "fix_versions": [], "severity": 9.1},
                ],
            }
        ]
    }
    findings = collect_pip_audit(json.dumps(rated), tmp_path).findings
    assert [(f.severity, f.fix) for f in findings] == [
        (Severity.HIGH, "upgrade Flask to 0.12.3"),
        (Severity.CRITICAL, None),
    ]


def test_vulnerability_fingerprint_survives_a_version_bump(tmp_path: Path) -> None:
    text = (DATA / "pip-audit.json").read_text("utf-8")
    before = collect_pip_audit(text, tmp_path).findings
    after = collect_pip_audit(text.replace('"3.1.2"', '"3.1.2.post1"'), tmp_path).findings
    assert after[0].extra["version"] == "3.1.2.post1"
    assert [f.fingerprint for f in after] == [f.fingerprint for f in before]


# --- Safety ------------------------------------------------------------------------------


def test_safety_2_check_json(tmp_path: Path) -> None:
    findings, problems = collect_safety((DATA / "safety-2.json").read_text("utf-8"), tmp_path)
    assert problems == []
    assert [(f.rule, f.severity, f.aliases, f.fix, f.suppressed) for f in findings] == [
        ("39525", Severity.MEDIUM, ("CVE-2020-28493",), "upgrade jinja2 to 2.11.3", False),
        ("43975", Severity.UNKNOWN, ("CVE-2021-33503",), "upgrade urllib3 to 1.26.5", False),
        ("51668", Severity.MEDIUM, ("CVE-2024-22195",), "upgrade jinja2 to 3.1.3", True),
    ]
    assert findings[2].suppress_reason == "only used for trusted templates"
    assert all(f.tool == "safety" and f.category is Category.VULNERABILITY for f in findings)
    assert findings[0].extra["help_uri"] == "https://data.safetycli.com/v/39525/f17"
    assert findings[0].message.startswith("jinja2 2.11.2 has a known vulnerability 39525: ")


def test_safety_3_scan_json_behind_a_banner(tmp_path: Path) -> None:
    make_project(tmp_path, {"requirements.txt": "click==8.1.7\njinja2==2.11.2  # pinned\n"})
    report = (DATA / "safety-3-scan.json").read_text("utf-8").replace("__ROOT__", str(tmp_path))
    banner = "+==========+\nDEPRECATED: this command is deprecated\n+==========+\n"
    findings, problems = collect_safety(banner + report, tmp_path)
    assert problems == []
    assert [(f.rule, f.file, f.line, f.fix, f.suppressed) for f in findings] == [
        ("39525", "requirements.txt", 2, "upgrade jinja2 to 3.1.4", False),
        ("51668", "requirements.txt", 2, "upgrade jinja2 to 3.1.4", True),
    ]
    assert findings[1].suppress_reason == "trusted templates only"
    assert findings[0].severity is Severity.UNKNOWN
    assert findings[0].extra["version"] == "2.11.2"
    assert_fingerprints(findings)


def test_safety_1_list_output(tmp_path: Path) -> None:
    legacy = json.dumps([["django", "<2.2.18", "2.2.10", "Django 2.2.18 fixes a bug.", "39594"]])
    findings, problems = collect_safety(legacy, tmp_path)
    assert problems == [] and [(f.rule, f.extra["version"]) for f in findings] == [
        ("39594", "2.2.10")
    ]


# --- SARIF -------------------------------------------------------------------------------


def sarif_project(root: Path) -> str:
    make_project(
        root,
        {
            "app/views.py": "import subprocess\n\n    subprocess.call(cmd, shell=True)\nx = 1\n",
            "app/util.py": "import os\n",
            "app/crypto utils.py": "import hashlib\ndigest = hashlib.md5(data)\n",
        },
    )
    return (DATA / "sample.sarif").read_text("utf-8").replace("__ROOT_URI__", root.as_uri())


def test_sarif_from_several_tools(tmp_path: Path) -> None:
    findings, problems = collect_sarif(sarif_project(tmp_path), tmp_path)
    assert problems == []
    summary = [
        (f.tool, f.rule, f.severity, f.category, f.file, f.line, f.column, f.suppressed)
        for f in findings
    ]
    injection = ("codeql", "py/command-line-injection", Severity.CRITICAL, Category.OTHER)
    assert summary == [
        (*injection, "app/views.py", 3, 5, False),
        ("codeql", "py/unused-import", Severity.LOW, Category.OTHER, "app/util.py", 1, 1, False),
        (
            "codeql",
            "py/weak-crypto",
            Severity.HIGH,
            Category.OTHER,
            "app/crypto utils.py",
            2,
            None,
            False,
        ),
        (*injection, "app/views.py", 4, None, True),
        ("bandit", "B602", Severity.HIGH, Category.CODE_SECURITY, "app/views.py", 3, 5, False),
        ("some-linter", "SL100", Severity.INFO, Category.OTHER, "app/util.py", None, None, False),
        ("some-linter", "SL200", Severity.MEDIUM, Category.OTHER, None, None, None, False),
    ]
    first, unused = findings[0], findings[1]
    assert first.message == "This command line depends on a [user-provided value](1)."
    assert first.extra["partial_fingerprints"] == {"primaryLocationLineHash": "3a9b1c5f4e2d7a10:1"}
    assert str(first.extra["help_uri"]).startswith("https://codeql.github.com/")
    assert first.extra["tool_name"] == "CodeQL"
    assert unused.message == "Import of 'os' is not used; {braces} stay."
    assert findings[3].suppress_reason == "reviewed: the argument is a constant"
    # The same line, from two tools: the same line text, different fingerprints.
    assert findings[0].fingerprint != findings[4].fingerprint
    assert_fingerprints(findings)


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        ("10.0", Severity.CRITICAL),
        ("9.0", Severity.CRITICAL),
        ("8.9", Severity.HIGH),
        ("7.0", Severity.HIGH),
        ("6.9", Severity.MEDIUM),
        ("4.0", Severity.MEDIUM),
        ("3.9", Severity.LOW),
        ("0.1", Severity.LOW),
        (5, Severity.MEDIUM),
    ],
)
def test_sarif_security_severity_as_github_reads_it(
    tmp_path: Path, score: object, severity: Severity
) -> None:
    log = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "x", "rules": [{"id": "R1"}]}},
                "results": [
                    {
                        "ruleId": "R1",
                        "level": "note",
                        "message": {"text": "m"},
                        "properties": {"security-severity": score},
                    }
                ],
            }
        ],
    }
    assert [f.severity for f in collect_sarif(json.dumps(log), tmp_path).findings] == [severity]
    assert severity_from_score(float(str(score))) is severity


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("error", Severity.HIGH),
        ("warning", Severity.MEDIUM),
        ("note", Severity.LOW),
        ("none", Severity.INFO),
        (None, Severity.MEDIUM),
    ],
)
def test_sarif_level(tmp_path: Path, level: str | None, severity: Severity) -> None:
    result: dict[str, object] = {"ruleId": "R", "message": {"text": "m"}}
    if level is not None:
        result["level"] = level
    log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [result]}]}
    assert [f.severity for f in collect_sarif(json.dumps(log), tmp_path).findings] == [severity]


def test_sarif_uri_bases_chain_and_extension_rules(tmp_path: Path) -> None:
    log = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {"name": "Driver"},
                    "extensions": [{"name": "Plugin", "rules": [{"id": "P1", "name": "p-one"}]}],
                },
                "originalUriBaseIds": {
                    "ROOT": {"uri": tmp_path.as_uri() + "/"},
                    "SRC": {"uri": "src/", "uriBaseId": "ROOT"},
                },
                "results": [
                    {
                        "rule": {"index": 0, "toolComponent": {"index": 0}},
                        "message": {"text": "m"},
                        "locations": [
                            {
                                "physicalLocation": {
                                    "artifactLocation": {"uri": "pkg/m.py", "uriBaseId": "SRC"},
                                    "region": {"startLine": 9},
                                }
                            }
                        ],
                    }
                ],
            }
        ],
    }
    findings, problems = collect_sarif(json.dumps(log), tmp_path)
    assert problems == []
    assert [(f.rule, f.file, f.line, f.extra["rule_name"]) for f in findings] == [
        ("P1", "src/pkg/m.py", 9, "p-one")
    ]


# --- bad input: problems, never exceptions ------------------------------------------------

BAD_TEXT = [
    "",
    "   \n",
    "garbage \x00\x01 that is no report at all",
    "{",
    "[]",
    "{}",
    "null",
    "42",
    '"a string"',
    '{"results": 5, "errors": "x"}',
    '{"dependencies": [1, "x", {"name": 3, "vulns": {}}, {"name": "a", "vulns": [null, {}]}]}',
    '{"runs": [1, {"results": "x"}, {"tool": 5, "results": [3, {"locations": 7}]}]}',
    '{"vulnerabilities": [null, {"package_name": "a"}], "ignored_vulnerabilities": 3}',
    '{"scan_results": {"projects": [{"files": [{"results": {"dependencies": [{"name": "a",'
    ' "specifications": [{"vulnerabilities": {"known_vulnerabilities": [{}]}}]}]}}]}]}}',
    '{"pkg/a.py": [{"code": 1, "line_number": "x"}], "b.py": "not a list"}',
    '{"file": "a.py"}\n{"message": 3}\n[1]',
    "[" * 100_000,
    "\ufeff{}",
]


@pytest.mark.parametrize("name", sorted(COLLECTORS))
def test_bad_input_gives_problems_not_exceptions(tmp_path: Path, name: str) -> None:
    collector = COLLECTORS[name]
    for text in BAD_TEXT:
        result = collector(text, tmp_path)
        assert isinstance(result, Collected)
        assert all(isinstance(f, Finding) for f in result.findings)
        assert all(isinstance(p, FindingsProblem) for p in result.problems)
    for value in (None, b"bytes", 42, ["list"]):
        result = collector(value, tmp_path)  # type: ignore[arg-type]
        assert isinstance(result, Collected) and result.problems


@pytest.mark.parametrize(
    "name", ["bandit", "pip-audit", "safety", "sarif", "flake8-json", "mypy-json"]
)
def test_json_collectors_say_what_is_wrong(tmp_path: Path, name: str) -> None:
    for text in ("", "not json at all", "{"):
        findings, problems = COLLECTORS[name](text, tmp_path)
        if name == "mypy-json" and text == "":
            assert (findings, problems) == ([], [])  # a clean mypy run prints nothing
            continue
        assert findings == [] and problems, text
    if name != "mypy-json":
        assert COLLECTORS[name]("42", tmp_path).problems


def test_unknown_format(tmp_path: Path) -> None:
    findings, problems = collect("pylint", "x", tmp_path)
    assert findings == [] and problems[0].source == "pylint"
    assert "no collector" in problems[0].message
    assert collect("Flake8", "a.py:1:1: E501 long\n", tmp_path).findings[0].rule == "E501"


# --- paths, lines and the model ------------------------------------------------------------


def test_relative_path(tmp_path: Path) -> None:
    assert relative_path(str(tmp_path / "pkg" / "a.py"), tmp_path) == "pkg/a.py"
    assert relative_path("./pkg/../pkg/a.py", tmp_path) == "pkg/a.py"
    assert relative_path("pkg\\sub\\a.py", tmp_path) == "pkg/sub/a.py"
    assert relative_path("/elsewhere/lib/x.py", tmp_path) == "/elsewhere/lib/x.py"
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "real").mkdir()
    assert relative_path(str(tmp_path / "real" / "a.py"), link) == "a.py"


def test_line_cache_stays_inside_the_root(tmp_path: Path) -> None:
    root = make_project(tmp_path / "root", {"a.py": "one\ntwo\n"})
    (tmp_path / "outside.txt").write_text("secret\n", encoding="utf-8")
    cache = LineCache(root)
    assert cache.line("a.py", 2) == "two"
    assert cache.line("a.py", 3) is None and cache.line("a.py", 0) is None
    assert cache.line("../outside.txt", 1) is None
    assert cache.line(str(tmp_path / "outside.txt"), 1) is None
    assert cache.line("missing.py", 1) is None and cache.line(None, 1) is None


def test_severity_words() -> None:
    assert severity_from_name(" Moderate ") is Severity.MEDIUM
    assert severity_from_name("CRITICAL") is Severity.CRITICAL
    assert severity_from_name("important") is Severity.HIGH
    assert severity_from_name("undefined") is Severity.UNKNOWN
    assert severity_from_name("weird") is None and severity_from_name(3) is None
    assert str(FindingsProblem("bandit", "bad")) == "bandit: bad"
