"""``amoskys test`` never passes where a plain pytest fails: a session stopped after some
tests passed, or failed by something outside the tests, fails the tests gate (real pytest
through the probe)."""

from __future__ import annotations

import subprocess  # nosec B404
import sys
from pathlib import Path
from typing import Callable

import pytest

from amoskys.checks.commands import pytest_failed_unreported, run_tests
from amoskys.checks.output import render_text
from amoskys.checks.settings import load_settings
from amoskys.select.runner import SelectOptions

PASSING = "def test_a():\n    pass\n"
STOPS = {
    # a test interrupts the session: test_c, which would fail, never runs (pytest: 2)
    "interrupted": (
        PASSING + "def test_b():\n    raise KeyboardInterrupt\n"
        "def test_c():\n    assert False\n",
        "",
        2,
    ),
    # pytest.exit stops the session (pytest: the given code)
    "pytest.exit": (
        "import pytest\n" + PASSING + "def test_b():\n    pytest.exit('stop', returncode=3)\n"
        "def test_c():\n    assert False\n",
        "",
        3,
    ),
    # a plugin fails the session with every test passed (as --cov-fail-under does)
    "failed outside the tests": (
        PASSING,
        "def pytest_sessionfinish(session):\n    session.exitstatus = 1\n",
        1,
    ),
}


def project(tmp_path: Path, tests: str, conftest: str) -> Path:
    root = tmp_path / "project"
    (root / "tests").mkdir(parents=True)
    (root / "tests" / "test_things.py").write_text(tests)
    if conftest:
        (root / "tests" / "conftest.py").write_text(conftest)
    (root / "pyproject.toml").write_text("[tool.amoskys.gates]\ncoverage = false\n")
    return root


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AMOSKYS_DATABASE_URL", raising=False)
    monkeypatch.delenv("AMOSKYS_RERUNS", raising=False)


@pytest.mark.parametrize("case", sorted(STOPS))
def test_a_session_pytest_fails_fails_the_gate_though_its_report_passed(
    tmp_path: Path, case: str
) -> None:
    tests, conftest, code = STOPS[case]
    root = project(tmp_path, tests, conftest)
    plain = subprocess.run(  # nosec B603
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        capture_output=True,
    )
    assert plain.returncode == code  # the truth a plain run gives
    outcome = run_tests(load_settings(root), show=lambda _: None)
    assert outcome.tests is not None
    assert outcome.tests.failed == 0 and outcome.tests.errors == 0  # the report alone passes
    assert not outcome.passed, render_text(outcome)
    gate = outcome.verdict.gate("tests")
    assert gate is not None and not gate.passed
    assert f"exit code {code}" in gate.evidence or "exited with 1" in gate.evidence


def test_a_crashed_process_of_a_split_run_fails_it_though_the_others_passed(
    make_repo: Callable[..., Path],
) -> None:
    root = make_repo(
        {
            "pyproject.toml": "[tool.amoskys.gates]\ncoverage = false\n",
            "tests/test_a.py": PASSING,
            "tests/test_b.py": "def test_b():\n    pass\n",
            "tests/test_c.py": "def test_c():\n    pass\n",
        }
    )
    state = root / ".amoskys"
    settings = load_settings(root)
    assert run_tests(settings, show=lambda _: None, state_dir=state).passed  # records a map
    (root / "tests/test_b.py").write_text(
        "import os\nimport signal\n\n\ndef test_b():\n    os.kill(os.getpid(), signal.SIGSEGV)\n"
    )
    outcome = run_tests(
        settings, show=lambda _: None, state_dir=state, options=SelectOptions(workers=2)
    )
    assert outcome.tests is not None
    # test_b left no result; the other process's tests passed. Which shard test_b shares (by
    # recorded durations, all near zero) and whether it runs first there varies, so one or
    # two of the passing tests report.
    assert outcome.tests.passed >= 1 and outcome.tests.failed == 0
    assert not outcome.passed, render_text(outcome)
    gate = outcome.verdict.gate("tests")
    assert gate is not None and "exit code -11" in gate.evidence


def test_a_passing_session_still_passes(tmp_path: Path) -> None:
    outcome = run_tests(load_settings(project(tmp_path, PASSING, "")), show=lambda _: None)
    assert outcome.passed, render_text(outcome)


def test_which_exit_codes_fail_a_report_that_passed() -> None:
    assert pytest_failed_unreported([0], ["passed"]) is None
    assert pytest_failed_unreported([1], ["passed", "failed"]) is None  # the report says it
    assert pytest_failed_unreported([0, 5], ["passed"]) is None  # a shard with nothing to run
    assert pytest_failed_unreported([1], ["passed", "flaky"]) is not None
    assert pytest_failed_unreported([0, 2], ["passed"]) is not None
    assert pytest_failed_unreported([-11], ["passed"]) is not None  # killed by a signal
    assert pytest_failed_unreported([None], ["passed"]) is not None  # timed out
    # a selection: --cov-fail-under in addopts cannot hold for a subset
    assert pytest_failed_unreported([1], ["passed"], partial=True) is None
    assert pytest_failed_unreported([2], ["passed"], partial=True) is not None
