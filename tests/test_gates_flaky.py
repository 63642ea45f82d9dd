"""The tests gate with flaky and quarantined tests, and how the check reports list them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from amoskys.checks.commands import CheckOutcome
from amoskys.checks.output import outcome_json, render_text
from amoskys.checks.settings import load_settings
from amoskys.collect.flakiness import FlakyConfig
from amoskys.errors import ConfigError
from amoskys.gates import GateResult, GatesConfig, TestSummary, evaluate
from amoskys.run.flaky_env import flaky_summary
from amoskys.run.transient import RetryConfig
from amoskys.store.records import TestCaseResult


def gate_of(summary: TestSummary) -> GateResult:
    verdict = evaluate([], GatesConfig(coverage=None), ran=set(), tests=summary)
    gate = verdict.gate("tests")
    assert gate is not None
    return gate


def test_a_flaky_test_passes_the_gate_and_is_named_in_the_evidence() -> None:
    gate = gate_of(TestSummary(total=3, passed=2, flaky=("t::a",)))
    assert gate.passed
    assert gate.evidence.startswith("3 of 3 passed (100.0%")
    assert "1 flaky (passed on a re-run)" in gate.evidence


def test_a_quarantined_failure_is_kept_out_of_the_gate() -> None:
    failing = TestSummary(total=3, passed=2, failed=1)
    assert not gate_of(failing).passed
    held = TestSummary(total=3, passed=2, failed=1, quarantined=(("t::q", "failed"),))
    gate = gate_of(held)
    assert gate.passed, gate.evidence
    assert "2 of 2 passed" in gate.evidence
    assert "1 quarantined, not counted (1 of them failed)" in gate.evidence
    other = TestSummary(total=4, passed=2, failed=2, quarantined=(("t::q", "failed"),))
    assert not gate_of(other).passed  # a failure outside the quarantine still fails


def test_only_quarantined_tests_is_no_test_at_all() -> None:
    gate = gate_of(TestSummary(total=1, failed=1, quarantined=(("t::q", "failed"),)))
    assert not gate.passed and gate.evidence == "no test ran"


def result(test_id: str, outcome: str) -> TestCaseResult:
    return TestCaseResult(test_id, None, test_id, "", outcome, 0.1)


def test_flaky_summary_puts_this_runs_flaky_tests_in_a_quarantine_that_is_on() -> None:
    results = [result("a", "passed"), result("b", "flaky"), result("q", "failed")]
    off = flaky_summary(results, ["q", "gone"], False)
    assert off == {"flaky": ("b",), "quarantined": (("q", "failed"),)}
    on = flaky_summary(results, ["q"], True)
    assert on["quarantined"] == (("b", "flaky"), ("q", "failed"))


def test_the_terminal_and_json_reports_list_flaky_and_quarantined_tests() -> None:
    summary = TestSummary(
        total=3, passed=1, failed=1, flaky=("t::f",), quarantined=(("t::q", "failed"),)
    )
    verdict = evaluate([], GatesConfig(coverage=None), ran=set(), tests=summary)
    outcome = CheckOutcome("test", (), (), verdict, summary)
    text = render_text(outcome)
    assert "flaky: t::f (failed, then passed on a re-run)" in text
    assert "quarantined: t::q (failed; not counted by the tests gate)" in text
    assert "verdict: PASSED" in text
    data = json.loads(json.dumps(outcome_json(outcome)))
    assert data["tests"]["flaky"] == ["t::f"]
    assert data["tests"]["quarantined"] == [{"test_id": "t::q", "outcome": "failed"}]


def test_settings_read_flaky_and_retry_tables(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.amoskys.flaky]\nreruns = 1\nquarantine = true\nthreshold = 0.2\n\n"
        "[tool.amoskys.retry]\nattempts = 3\nbackoff = 0.5\n"
    )
    settings = load_settings(tmp_path)
    assert settings.flaky == FlakyConfig(reruns=1, quarantine=True, threshold=0.2)
    assert settings.retry == RetryConfig(attempts=3, backoff=0.5)


def test_a_bad_flaky_table_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.amoskys.flaky]\nreruns = 'two'\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert str(caught.value).startswith("pyproject.toml: tool.amoskys.flaky.reruns must be")
    assert caught.value.hint
