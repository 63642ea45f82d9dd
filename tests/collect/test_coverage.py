"""Coverage reports: real coverage.py output (XML, JSON, SQLite data), variants, broken files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess  # nosec B404 - coverage.py itself writes the real reports
import sys
from pathlib import Path

import pytest

from amoskys.collect.coverage import parse_coverage
from amoskys.store.records import Metric

PROGRAM = '''"""A module."""
import sys


def f(x):
    if x > 1:
        return x + 1
    return 0


def unused():
    return 3


print(f(int(sys.argv[1])))
'''


def values(metrics: list[Metric]) -> dict[str, float]:
    return {metric.name: metric.value for metric in metrics}


def run_coverage(folder: Path, *, branch: bool) -> Path:
    """``coverage run`` on a small program, then ``coverage xml`` and ``coverage json``."""
    folder.mkdir()
    (folder / "prog.py").write_text(PROGRAM)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COV_CORE_", "COVERAGE_"))
    }
    base = [sys.executable, "-m", "coverage"]
    run = [*base, "run", *(["--branch"] if branch else []), "prog.py", "3"]
    for command in (run, [*base, "xml", "-q"], [*base, "json", "-q"]):
        subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True)  # nosec
    return folder


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("coverage-reports")
    return {
        "lines": run_coverage(root / "lines", branch=False),
        "branch": run_coverage(root / "branch", branch=True),
    }


def test_real_cobertura_xml(reports: dict[str, Path]) -> None:
    metrics, warnings = parse_coverage(reports["lines"] / "coverage.xml")
    assert warnings == []
    got = values(metrics)
    # statements: import, def f, if, return, return, def unused, return, print
    assert got["coverage.lines_total"] == 8
    assert got["coverage.lines_covered"] == 6
    assert got["coverage.line"] == 75.0
    assert got["coverage.files"] == 1
    assert "coverage.branch" not in got  # not measured
    units = {metric.name: metric.unit for metric in metrics}
    assert units["coverage.line"] == "%" and units["coverage.lines_total"] == "count"


def test_real_cobertura_xml_with_branches(reports: dict[str, Path]) -> None:
    got = values(parse_coverage(reports["branch"] / "coverage.xml")[0])
    assert got["coverage.branch"] == 50.0
    assert (got["coverage.branches_covered"], got["coverage.branches_total"]) == (1, 2)


def test_real_json_report(reports: dict[str, Path]) -> None:
    lines = values(parse_coverage(reports["lines"] / "coverage.json")[0])
    assert lines["coverage.line"] == 75.0
    assert lines["coverage.total"] == lines["coverage.line"]
    assert (lines["coverage.lines_covered"], lines["coverage.lines_total"]) == (6, 8)
    branch = values(parse_coverage(reports["branch"] / "coverage.json")[0])
    assert branch["coverage.line"] == 75.0
    assert branch["coverage.branch"] == 50.0
    # coverage.py's own headline mixes lines and branches: (6 + 1) / (8 + 2)
    assert branch["coverage.total"] == 70.0
    total = json.loads((reports["branch"] / "coverage.json").read_text())["totals"]
    assert branch["coverage.total"] == pytest.approx(total["percent_covered"], abs=1e-3)


@pytest.mark.parametrize("kind", ["lines", "branch"])
def test_real_sqlite_data_file(reports: dict[str, Path], kind: str) -> None:
    metrics, warnings = parse_coverage(reports[kind] / ".coverage")
    assert warnings == []
    got = values(metrics)
    assert got["coverage.files"] == 1
    # lines that ran: 1 (the docstring, not a statement), 2, 5, 6, 7, 11, 15
    # (a def line runs, its body does not): more than the 6 covered statements
    assert got["coverage.lines_executed"] == 7
    assert "coverage.line" not in got  # needs the statements, which only the reports know


def test_cobertura_variants(tmp_path: Path) -> None:
    old = tmp_path / "coverage.xml"
    old.write_text("""<?xml version="1.0" ?>
<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd">
<coverage branch-rate="0.25" line-rate="0.5" timestamp="1" version="3.7">
  <packages><package name="p"><classes>
    <class filename="p/a.py" name="a"/><class filename="p/b.py" name="b"/>
    <class filename="p/a.py" name="a2"/>
  </classes></package></packages>
</coverage>""")
    metrics, warnings = parse_coverage(old)
    assert warnings == []
    assert values(metrics) == {"coverage.line": 50.0, "coverage.branch": 25.0, "coverage.files": 2}
    empty = tmp_path / "empty" / "coverage.xml"
    empty.parent.mkdir()
    empty.write_text(
        '<coverage line-rate="1" branch-rate="0" lines-valid="0" lines-covered="0"'
        ' branches-valid="0" branches-covered="0"/>'
    )
    assert values(parse_coverage(empty)[0]) == {
        "coverage.line": 100.0,
        "coverage.lines_covered": 0,
        "coverage.lines_total": 0,
    }


def test_truncated_cobertura_keeps_totals(tmp_path: Path, reports: dict[str, Path]) -> None:
    text = (reports["lines"] / "coverage.xml").read_text()
    path = tmp_path / "coverage.xml"
    path.write_text(text[: text.index("<classes>") + 20])
    metrics, warnings = parse_coverage(path)
    assert values(metrics)["coverage.lines_total"] == 8
    assert "coverage.files" not in values(metrics)
    assert len(warnings) == 1 and "totals kept" in warnings[0].message


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("coverage.xml", "<coverage", "not well-formed"),
        ("coverage.xml", "<report line-rate='1'/>", "not a Cobertura report"),
        ("coverage.xml", "<coverage/>", "no line-rate"),
        ("coverage.xml", "<coverage line-rate='lots'/>", "not a number"),
        ("coverage.xml", "<coverage lines-valid='5' lines-covered='9'/>", "more lines covered"),
        (
            "coverage.xml",
            '<!DOCTYPE c [<!ENTITY a "aaaa">]><coverage line-rate="&a;"/>',
            "refused",
        ),
        ("coverage.json", '{"totals": {"covered_lines": 3', "not valid JSON"),
        ("coverage.json", '{"meta": {}}', "no 'totals'"),
        ("coverage.json", "[1, 2]", "no 'totals'"),
        ("coverage.json", '{"totals": {"covered_lines": -1, "num_statements": 3}}', "range"),
        ("coverage.json", '{"totals": {"covered_lines": 1}}', "neither"),
        ("coverage.json", '{"totals": {"percent_covered": true}}', "not a number"),
        (".coverage", "SQLite format 3\x00 but then nothing", "SQLite"),
        (".coverage", "hello", "not a coverage.py data file"),
        (".coverage", "", "not a coverage.py data file"),
    ],
)
def test_broken_files_give_warnings(tmp_path: Path, name: str, content: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="latin-1")
    metrics, warnings = parse_coverage(path)
    assert metrics == []
    assert len(warnings) == 1 and expected in warnings[0].message, warnings
    assert warnings[0].path == path


def test_missing_files_give_warnings(tmp_path: Path) -> None:
    for name in ("coverage.xml", "coverage.json", ".coverage"):
        metrics, warnings = parse_coverage(tmp_path / name)
        assert metrics == [] and "cannot read" in warnings[0].message


def test_other_sqlite_database_is_not_coverage(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE people (name text)")
    connection.close()
    metrics, warnings = parse_coverage(path)
    assert metrics == [] and "no file/line_bits/arc tables" in warnings[0].message


def test_json_with_percent_only(tmp_path: Path) -> None:
    path = tmp_path / "coverage.json"
    path.write_text('{"totals": {"percent_covered": 81.5}}')
    assert values(parse_coverage(path)[0]) == {"coverage.line": 81.5, "coverage.total": 81.5}


def test_old_json_data_format(tmp_path: Path) -> None:
    path = tmp_path / ".coverage"
    path.write_text(
        "!coverage.py: This is a private format, don't read it directly!"
        + json.dumps(
            {
                "lines": {"/src/a.py": [1, 2, 3], "/src/empty.py": []},
                "arcs": {"/src/b.py": [[-1, 1], [1, 2], [2, -1]]},
            }
        )
    )
    assert values(parse_coverage(path)[0]) == {
        "coverage.files": 2,
        "coverage.lines_executed": 5,
    }
