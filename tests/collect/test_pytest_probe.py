"""The pytest probe inside real pytest runs of a tiny project (subprocesses, as Amoskys runs it:
copied as ``amoskys_pytest_probe.py``, on PYTHONPATH, activated by PYTEST_ADDOPTS)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess  # nosec B404 - the probe runs inside a real pytest
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import amoskys.collect.pytest_probe as probe_module
from amoskys.collect.coverage import parse_coverage
from amoskys.collect.discover import find_probe_reports
from amoskys.collect.junit import parse_junit

LIB = """def add(a, b):
    if a > 100:
        return 0
    return a + b


def unused():
    return 1
"""

TESTS = """import pytest

import mylib


def test_pass():
    assert mylib.add(1, 2) == 3


def test_fail():
    assert mylib.add(1, 1) == 3


@pytest.mark.skip(reason="not today")
def test_skip():
    pass


@pytest.mark.slow
def test_slow():
    pass


class TestGroup:
    @pytest.mark.parametrize("x", [1, 2])
    def test_param(self, x):
        assert x
"""

EXPECTED = {
    "tests/test_things.py::test_pass": "passed",
    "tests/test_things.py::test_fail": "failed",
    "tests/test_things.py::test_skip": "skipped",
    "tests/test_things.py::test_slow": "passed",
    "tests/test_things.py::TestGroup::test_param[1]": "passed",
    "tests/test_things.py::TestGroup::test_param[2]": "passed",
}


@dataclass
class Setup:
    project: Path
    plugins: Path
    reports: Path


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "mylib.py").write_text(LIB)
    (project / "tests" / "test_things.py").write_text(TESTS)
    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nmarkers = ["slow: slow"]\n\n'
        "[tool.coverage.run]\nbranch = true\n"
    )
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(probe_module.__file__, plugins / "amoskys_pytest_probe.py")
    return Setup(project, plugins, tmp_path / "reports")


def run_pytest(
    setup: Setup, *args: str, report_dir: bool = True, coverage: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COV_CORE_", "COVERAGE_", "PYTEST_", "AMOSKYS_"))
        and key != "PYTHONPATH"
    }
    clean.update(
        PYTHONPATH=str(setup.plugins),
        PYTEST_ADDOPTS="-p amoskys_pytest_probe",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if report_dir:
        clean["AMOSKYS_REPORT_DIR"] = str(setup.reports)
    if coverage:
        clean["AMOSKYS_COVERAGE"] = "1"
    clean.update(env)
    return subprocess.run(  # nosec B603
        [sys.executable, "-m", "pytest", "-q", *args],
        cwd=setup.project,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_ran(done: subprocess.CompletedProcess[str]) -> None:
    """The user's run went as it would without the probe: one failure, exit code 1."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed" in done.stdout, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def report_files(setup: Setup) -> list[str]:
    return sorted(path.name for path in setup.reports.iterdir()) if setup.reports.exists() else []


def test_junit_and_coverage_appear_and_parse(setup: Setup) -> None:
    done = run_pytest(setup)
    assert_ran(done)
    pid_files = report_files(setup)
    junit = [name for name in pid_files if name.startswith("junit-")]
    coverage = [name for name in pid_files if name.startswith("coverage-")]
    assert len(junit) == 1 and junit[0].endswith("-1.xml")
    assert len(coverage) == 1
    assert not [name for name in pid_files if name.startswith("probe-warnings")], pid_files

    results, warnings = parse_junit(setup.reports / junit[0], root=setup.project)
    assert warnings == []
    assert {r.test_id: r.outcome for r in results} == EXPECTED
    assert all(r.file == "tests/test_things.py" for r in results)
    failed = next(r for r in results if r.outcome == "failed")
    assert "assert 2 == 3" in failed.message

    metrics, warnings = parse_coverage(setup.reports / coverage[0])
    assert warnings == []
    got = {m.name: m.value for m in metrics}
    assert 0 < got["coverage.line"] < 100
    assert got["coverage.branch"] == 50.0  # branch = true from the project's own config
    assert got["coverage.files"] == 2  # mylib.py and the test module, not the probe
    data = json.loads((setup.reports / coverage[0]).read_text())
    assert set(data["files"]) == {"mylib.py", os.path.join("tests", "test_things.py")}
    assert data["files"]["mylib.py"]["missing_lines"] == [3, 8]

    found, warnings = find_probe_reports(setup.reports)
    assert warnings == [] and {path.name for path in found} == {junit[0], coverage[0]}
    assert not (setup.project / ".coverage").exists()  # the project's data file is untouched


def test_users_own_junitxml_is_respected(setup: Setup) -> None:
    done = run_pytest(setup, "--junitxml=out/mine.xml", coverage=False)
    assert_ran(done)
    theirs = setup.project / "out" / "mine.xml"
    assert theirs.is_file()
    files = report_files(setup)
    assert not [name for name in files if name.startswith("junit-")]
    sidecars = [name for name in files if name.startswith("junitxml-")]
    assert len(sidecars) == 1
    assert json.loads((setup.reports / sidecars[0]).read_text())["junitxml"] == str(theirs)
    found, warnings = find_probe_reports(setup.reports)
    assert found == [theirs] and warnings == []
    results, _ = parse_junit(theirs)
    assert {r.test_id: r.outcome for r in results} == EXPECTED


def test_user_addopts_with_marker_and_no_cacheprovider(setup: Setup) -> None:
    (setup.project / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\n"
        'markers = ["slow: slow"]\n'
        "addopts = \"-m 'not slow' -p no:cacheprovider -ra\"\n"
    )
    done = run_pytest(setup)
    assert_ran(done)
    assert "1 deselected" in done.stdout
    assert not (setup.project / ".pytest_cache").exists()
    junit = next(setup.reports.glob("junit-*.xml"))
    results, _ = parse_junit(junit)
    expected = {k: v for k, v in EXPECTED.items() if not k.endswith("test_slow")}
    assert {r.test_id: r.outcome for r in results} == expected
    assert list(setup.reports.glob("coverage-*.json"))


def test_without_report_dir_nothing_is_written(setup: Setup) -> None:
    before = sorted(p.relative_to(setup.project) for p in setup.project.rglob("*"))
    # no third-party plugins (pytest-benchmark makes .benchmarks/): only pytest and the probe
    done = run_pytest(
        setup, "-p", "no:cacheprovider", report_dir=False, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"
    )
    assert_ran(done)
    assert "4 passed" in done.stdout and "1 failed" in done.stdout
    assert not setup.reports.exists()
    assert sorted(p.relative_to(setup.project) for p in setup.project.rglob("*")) == before


def test_pytest_cov_session_is_left_alone(setup: Setup) -> None:
    pytest.importorskip("pytest_cov")
    done = run_pytest(setup, "--cov=mylib", "--cov-report=")
    assert_ran(done)
    files = report_files(setup)
    assert [name for name in files if name.startswith("junit-")]
    assert not [name for name in files if name.startswith("coverage-")]
    assert not [name for name in files if name.startswith("probe-warnings")]


def test_coverage_problems_never_fail_the_run(setup: Setup) -> None:
    (setup.project / ".coveragerc").write_text("[run]\nbranch = not-a-boolean\n")
    done = run_pytest(setup)
    assert_ran(done)  # the same result as without us
    assert "4 passed" in done.stdout
    warnings = (next(setup.reports.glob("probe-warnings-*.txt"))).read_text()
    assert "coverage not measured" in warnings
    assert list(setup.reports.glob("junit-*.xml"))  # the JUnit part still works
    found, collected = find_probe_reports(setup.reports)
    assert collected and "coverage not measured" in collected[0].message


def test_coverage_not_installed(setup: Setup) -> None:
    (setup.plugins / "coverage.py").write_text("raise ImportError('no coverage here')\n")
    done = run_pytest(setup, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    assert_ran(done)
    warnings = next(setup.reports.glob("probe-warnings-*.txt")).read_text()
    assert "coverage.py is not installed" in warnings
    assert list(setup.reports.glob("junit-*.xml"))


def test_junitxml_plugin_disabled(setup: Setup) -> None:
    done = run_pytest(setup, "-p", "no:junitxml", coverage=False)
    assert_ran(done)
    assert "junitxml plugin is disabled" in next(setup.reports.glob("probe-warnings-*")).read_text()


def test_probe_is_standalone_and_python38_syntax() -> None:
    source = Path(probe_module.__file__).read_text()
    tree = ast.parse(source, feature_version=(3, 8))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert "amoskys" not in imported
    assert imported <= {
        "__future__",
        "json",
        "os",
        "time",
        "warnings",
        "typing",
        "pytest",
        "_pytest",  # pytest's own runtestprotocol and junitxml key (re-runs)
        "xml",
        "coverage",
    }


def test_xdist_worker_and_controller_skip_coverage(setup: Setup) -> None:
    # a stand-in for pytest-xdist's -n option; the real plugin, when installed, is kept out
    (setup.plugins / "fake_xdist.py").write_text(
        "def pytest_addoption(parser):\n"
        "    group = parser.getgroup('xdist')\n"
        "    group._addoption('-n', '--numprocesses', dest='numprocesses', default=None)\n"
    )
    done = run_pytest(setup, "-p", "no:xdist", "-p", "fake_xdist", "-n", "2")
    assert_ran(done)
    assert not list(setup.reports.glob("coverage-*.json"))
    assert list(setup.reports.glob("junit-*.xml"))  # the controller writes the JUnit report
    assert "pytest-xdist" in next(setup.reports.glob("probe-warnings-*")).read_text()

    shutil.rmtree(setup.reports)
    done = run_pytest(setup, PYTEST_XDIST_WORKER="gw0")  # what a worker sees
    assert_ran(done)
    assert not list(setup.reports.glob("coverage-*.json"))
    assert not list(setup.reports.glob("probe-warnings-*"))
