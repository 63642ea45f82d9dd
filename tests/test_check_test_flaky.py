"""``amoskys test`` with re-runs and the quarantine: a real pytest through the probe, and a real
history store in the project's ``.amoskys/``."""

from __future__ import annotations

from pathlib import Path

import pytest
from amoskys_testing import record_test_job

from amoskys.checks.commands import run_tests
from amoskys.checks.output import render_text
from amoskys.checks.settings import load_settings
from amoskys.store.db import open_store
from amoskys.store.records import TestCaseResult

TESTS = """import os
import pathlib


def test_fine():
    pass


def test_shaky():
    path = pathlib.Path(os.environ["SHAKY_COUNTER"])
    count = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(count))
    assert count > int(os.environ["SHAKY_FAILS"]), "not yet"
"""
SHAKY = "tests/test_things.py::test_shaky"


def project(tmp_path: Path, flaky: str) -> Path:
    root = tmp_path / "project"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_things.py").write_text(TESTS)
    (root / "pyproject.toml").write_text(
        f"[tool.amoskys.gates]\ncoverage = false\n\n[tool.amoskys.flaky]\n{flaky}\n"
    )
    return root


@pytest.fixture(autouse=True)
def _env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMOSKYS_DATABASE_URL", raising=False)
    monkeypatch.delenv("AMOSKYS_RERUNS", raising=False)
    monkeypatch.setenv("SHAKY_COUNTER", str(tmp_path / "counter"))


def test_a_test_passing_on_a_rerun_is_flaky_and_passes_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHAKY_FAILS", "1")
    outcome = run_tests(load_settings(project(tmp_path, "reruns = 2")), show=lambda _: None)
    assert outcome.tests is not None
    assert outcome.tests.flaky == (SHAKY,)
    assert outcome.tests.passed == 1 and outcome.tests.failed == 0
    assert outcome.passed
    assert f"flaky: {SHAKY}" in render_text(outcome)
    assert (tmp_path / "counter").read_text() == "2"


def test_reruns_zero_turns_them_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAKY_FAILS", "1")
    outcome = run_tests(load_settings(project(tmp_path, "reruns = 0")), show=lambda _: None)
    assert outcome.tests is not None and outcome.tests.failed == 1 and not outcome.passed


SKIPS_ON_RERUN = """import os
import pathlib

import pytest


def test_fine():
    pass


def test_holds_a_resource():
    marker = pathlib.Path(os.environ["SHAKY_COUNTER"])
    if marker.exists():
        pytest.skip("the resource is still held by an earlier attempt")
    marker.write_text("held")
    assert False, "a real failure"
"""


def test_a_failed_test_skipped_on_its_rerun_stays_failed(tmp_path: Path) -> None:
    root = project(tmp_path, "reruns = 2")
    (root / "tests" / "test_things.py").write_text(SKIPS_ON_RERUN)
    outcome = run_tests(load_settings(root), show=lambda _: None)
    assert outcome.tests is not None
    assert outcome.tests.failed == 1 and outcome.tests.skipped == 0, render_text(outcome)
    assert outcome.tests.flaky == ()
    assert not outcome.passed  # as a plain pytest says: the test failed
    assert (tmp_path / "counter").read_text() == "held"  # the re-run did run (and skipped)


def remember_flaky(root: Path) -> None:
    """A history in which test_shaky was flaky once."""
    with open_store(root / ".amoskys") as store:
        run_id, job = record_test_job(store, status="success")
        store.add_test_results(
            job, [TestCaseResult(SHAKY, "tests/test_things.py", "test_shaky", "", "flaky", 0.1)]
        )


def test_a_quarantined_failure_is_run_listed_and_kept_out_of_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHAKY_FAILS", "99")
    root = project(tmp_path, "reruns = 1\nquarantine = true")
    remember_flaky(root)
    outcome = run_tests(load_settings(root), show=lambda _: None)
    assert outcome.tests is not None
    assert outcome.tests.quarantined == ((SHAKY, "failed"),)
    assert outcome.passed, render_text(outcome)
    assert (tmp_path / "counter").read_text() == "2"  # it still ran (and was re-run once)
    assert f"quarantined: {SHAKY} (failed; not counted by the tests gate)" in render_text(outcome)


def test_without_quarantine_the_same_failure_fails_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHAKY_FAILS", "99")
    root = project(tmp_path, "reruns = 1\nquarantine = false")
    remember_flaky(root)
    outcome = run_tests(load_settings(root), show=lambda _: None)
    assert outcome.tests is not None and outcome.tests.quarantined == ()
    assert not outcome.passed
