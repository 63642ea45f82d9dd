"""Re-runs of failed tests inside real pytest runs through the probe (``AMOSKYS_RERUNS``), the
JUnit report they leave, how Amoskys reads it, the quarantine, and the store keeping "flaky"."""

from __future__ import annotations

import os
import shutil
import subprocess  # nosec B404 - the probe runs inside a real pytest
import sys
import xml.etree.ElementTree as ET  # nosec B405 - our own test output
from pathlib import Path

import pytest
from amoskys_testing import record_test_job

import amoskys.collect.pytest_probe as probe_module
from amoskys.collect.discover import find_probe_reports
from amoskys.collect.reports import collect_reports
from amoskys.store.db import open_store

# Each test counts its calls in a file of its own under $COUNTERS, and fails while the count
# is below what $FAIL_<NAME> says (default: never).
TESTS = """import os
import pathlib

import pytest


def calls(name):
    path = pathlib.Path(os.environ["COUNTERS"]) / name
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    return count


def failing_until(name):
    return calls(name) <= int(os.environ.get("FAIL_" + name.upper(), "0"))


def test_stable():
    assert not failing_until("stable")


def test_flaky():
    assert not failing_until("flaky"), "fails on its first call"


def test_always():
    calls("always")
    assert False, "always fails"


@pytest.fixture
def shaky():
    if failing_until("setup"):
        raise RuntimeError("fixture broke")
    return 1


def test_setup_flaky(shaky):
    assert shaky == 1
"""

IDS = {
    "stable": "tests/test_mix.py::test_stable",
    "flaky": "tests/test_mix.py::test_flaky",
    "always": "tests/test_mix.py::test_always",
    "setup": "tests/test_mix.py::test_setup_flaky",
}


def make_project(tmp_path: Path, tests: str = TESTS) -> Path:
    project = tmp_path / "project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_mix.py").write_text(tests)
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    shutil.copy(probe_module.__file__, plugins / "amoskys_pytest_probe.py")
    (tmp_path / "counters").mkdir()
    return project


def run_pytest(
    project: Path, *args: str, reruns: int | None = 2, **env: str
) -> subprocess.CompletedProcess[str]:
    base = project.parent
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COV_CORE_", "COVERAGE_", "PYTEST_", "AMOSKYS_"))
        and key != "PYTHONPATH"
    }
    clean.update(
        PYTHONPATH=str(base / "plugins"),
        PYTEST_ADDOPTS="-p amoskys_pytest_probe -p no:cacheprovider",
        PYTHONDONTWRITEBYTECODE="1",
        AMOSKYS_REPORT_DIR=str(base / "reports"),
        COUNTERS=str(base / "counters"),
    )
    if reruns is not None:
        clean["AMOSKYS_RERUNS"] = str(reruns)
    clean.update(env)
    return subprocess.run(  # nosec B603
        [sys.executable, "-m", "pytest", "-q", *args],
        cwd=project,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def calls(project: Path, name: str) -> int:
    path = project.parent / "counters" / name
    return int(path.read_text()) if path.exists() else 0


def outcomes(project: Path) -> dict[str, str]:
    paths, warnings = find_probe_reports(project.parent / "reports")
    assert not warnings
    results, _, problems = collect_reports(paths, root=project)
    assert not problems
    return {r.test_id: r.outcome for r in results}


def junit_file(project: Path) -> Path:
    (found,) = (project.parent / "reports").glob("junit-*.xml")
    return found


def test_a_pass_on_a_rerun_is_flaky_and_an_always_failing_test_fails_after_n_reruns(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path)
    done = run_pytest(project, FAIL_FLAKY="1", FAIL_SETUP="1")
    assert done.returncode == 1, done.stdout + done.stderr  # test_always still fails
    assert outcomes(project) == {
        IDS["stable"]: "passed",
        IDS["flaky"]: "flaky",
        IDS["always"]: "failed",
        IDS["setup"]: "flaky",
    }
    assert calls(project, "stable") == 1  # a passing test is not re-run
    assert calls(project, "flaky") == 2  # failed once, passed on the first re-run
    assert calls(project, "always") == 3  # the first call and exactly 2 re-runs
    assert calls(project, "setup") == 2  # a setup error is re-run too
    assert "FLAKY tests/test_mix.py::test_flaky" in done.stdout
    assert "1 failed, 3 passed" in done.stdout


def test_the_junit_report_stays_valid_and_uses_surefires_rerun_elements(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    run_pytest(project, FAIL_FLAKY="1")
    root = ET.parse(junit_file(project)).getroot()  # nosec B314 - well-formed, ours
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "1" and suite.get("tests") == "4"  # counts as pytest's
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    flaky = [child.tag for child in cases["test_flaky"]]
    assert flaky == ["flakyFailure"]
    assert "fails on its first call" in (cases["test_flaky"][0].get("message") or "")
    always = [child.tag for child in cases["test_always"]]
    assert always.count("failure") == 1 and always.count("rerunFailure") == 2
    assert list(cases["test_stable"]) == []
    paths, _ = find_probe_reports(project.parent / "reports")
    results, metrics, _ = collect_reports(paths, root=project)
    by_id = {r.test_id: r for r in results}
    assert by_id[IDS["flaky"]].message.startswith("passed on re-run 1 after failing:")
    assert by_id[IDS["always"]].message.startswith("failed on 2 re-run(s) too")
    assert {m.name: m.value for m in metrics}["tests.flaky"] == 1


def test_without_reruns_nothing_is_rerun(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    run_pytest(project, reruns=None, FAIL_FLAKY="1")
    assert outcomes(project)[IDS["flaky"]] == "failed"
    assert calls(project, "flaky") == 1 and calls(project, "always") == 1
    assert "flakyFailure" not in junit_file(project).read_text()


def test_a_test_failing_more_often_than_the_reruns_fails(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    done = run_pytest(project, "-k", "flaky and not setup", reruns=1, FAIL_FLAKY="2")
    assert done.returncode == 1
    assert outcomes(project) == {IDS["flaky"]: "failed"}
    assert calls(project, "flaky") == 2


def test_quarantined_failures_alone_do_not_fail_the_session(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    quarantine = tmp_path / "quarantine.txt"
    quarantine.write_text(IDS["always"] + "\n")
    done = run_pytest(project, AMOSKYS_QUARANTINE=str(quarantine))
    assert done.returncode == 0, done.stdout
    assert "QUARANTINED tests/test_mix.py::test_always" in done.stdout
    assert outcomes(project)[IDS["always"]] == "failed"  # still run and reported as failed

    other = make_project(tmp_path / "again")
    done = run_pytest(other, AMOSKYS_QUARANTINE=str(quarantine), FAIL_STABLE="9")
    assert done.returncode == 1  # a failure outside the quarantine still fails the session


def test_flaky_is_kept_as_flaky_in_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AMOSKYS_DATABASE_URL", raising=False)
    project = make_project(tmp_path)
    run_pytest(project, FAIL_FLAKY="1")
    paths, _ = find_probe_reports(project.parent / "reports")
    results, _, _ = collect_reports(paths, root=project)
    with open_store(tmp_path / "state") as store:
        run_id, job = record_test_job(store, status="failure")
        store.add_test_results(job, results)
        stored = {t.test_id: t.outcome for j in store.get_run(run_id).jobs for t in j.tests}
        scores = {f.test_id: f for f in store.flakiness()}
    assert stored[IDS["flaky"]] == "flaky"
    assert stored[IDS["stable"]] == "passed"
    assert scores[IDS["flaky"]].flagged
    assert not scores[IDS["always"]].flagged  # always failing: never called flaky
    assert IDS["stable"] not in scores  # only tests that did not always pass are read


@pytest.mark.parametrize("reruns", ["x", "-1"])
def test_a_bad_rerun_count_is_ignored(tmp_path: Path, reruns: str) -> None:
    project = make_project(tmp_path)
    done = run_pytest(project, reruns=None, AMOSKYS_RERUNS=reruns, FAIL_FLAKY="1")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert outcomes(project)[IDS["flaky"]] == "failed"


STORM = """import os
import pathlib

import pytest


@pytest.mark.parametrize("n", range(300))
def test_broken(n):
    path = pathlib.Path(os.environ["COUNTERS"]) / "calls"
    path.write_text(str(int(path.read_text()) + 1 if path.exists() else 1))
    assert n < 0, "the change broke every test"
"""


def test_a_failure_storm_stops_the_reruns_after_the_limit(tmp_path: Path) -> None:
    """300 failing tests with 2 re-runs each cost 900 attempts (each failure rendered again):
    the breakage that made packaging's selection runs time out. Past the limit (3 here) a
    failure is final after one attempt."""
    project = make_project(tmp_path, STORM)
    done = run_pytest(project, AMOSKYS_RERUN_LIMIT="3")
    assert done.returncode == 1
    assert calls(project, "calls") == 300 + 3 * 2  # only the first 3 failures were re-run
    assert set(outcomes(project).values()) == {"failed"}
    assert "re-runs stopped after 3 failed tests" in done.stdout


def test_rerun_limit_counts_final_failures_and_zero_means_no_limit(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    done = run_pytest(project, FAIL_FLAKY="1", FAIL_SETUP="1", AMOSKYS_RERUN_LIMIT="1")
    found = outcomes(project)
    assert found[IDS["flaky"]] == "flaky"  # re-run: no test had failed yet
    assert calls(project, "always") == 3  # re-run: a flaky test is no failure
    assert found[IDS["setup"]] == "error"  # after test_always failed: not re-run
    assert calls(project, "setup") == 1
    assert "re-runs stopped after 1 failed tests" in done.stdout
    shutil.rmtree(tmp_path / "reports")
    shutil.rmtree(tmp_path / "counters")
    (tmp_path / "counters").mkdir()
    done = run_pytest(project, FAIL_FLAKY="1", FAIL_SETUP="1", AMOSKYS_RERUN_LIMIT="0")
    assert outcomes(project)[IDS["setup"]] == "flaky"
    assert "re-runs stopped" not in done.stdout


def test_past_the_limit_failures_are_shown_one_line_each_unless_a_style_was_chosen(
    tmp_path: Path,
) -> None:
    """pytest's default rendering re-parses the test module for every failure (0.15 s each
    in a large module): in a failure storm the later ones are shown one line each."""
    project = make_project(tmp_path, STORM)
    done = run_pytest(project, "--maxfail=5", AMOSKYS_RERUN_LIMIT="3")
    assert done.stdout.count("def test_broken(n):") == 3  # the first 3: pytest's own
    assert done.stdout.count("E       assert ") == 3  # failures 4 and 5: one line each
    assert "the others are shown one line each" in done.stdout
    shutil.rmtree(tmp_path / "reports")
    done = run_pytest(project, "--maxfail=5", "--tb=long", AMOSKYS_RERUN_LIMIT="3")
    assert "the others are shown one line each" not in done.stdout  # the user's choice
    assert done.stdout.count("def test_broken(n):") == 5


def test_a_test_failing_every_time_shows_its_first_attempt_in_pytests_rendering(
    tmp_path: Path,
) -> None:
    """Each failure rendered by pytest re-parses the test module: the re-runs of a test that
    keeps failing are rendered natively, the reported first attempt the usual way."""
    project = make_project(tmp_path)
    done = run_pytest(project, "-k", "always")
    assert calls(project, "always") == 3
    assert "def test_always():" in done.stdout  # pytest's own rendering of the first attempt
    assert "Traceback (most recent call last)" not in done.stdout
    root = ET.parse(junit_file(project)).getroot()  # nosec B314 - well-formed, ours
    (case,) = [c for c in root.iter("testcase") if c.get("name") == "test_always"]
    reruns = [child for child in case if child.tag == "rerunFailure"]
    assert len(reruns) == 2  # Python's traceback (cut to its last 4,000 characters)
    assert all("AssertionError: always fails" in (r.text or "") for r in reruns)
    assert all('File "' in (r.text or "") for r in reruns)
