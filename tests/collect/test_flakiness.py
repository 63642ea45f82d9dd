"""The flakiness score (pure) and ``[tool.amoskys.flaky]``."""

from __future__ import annotations

import pytest

from amoskys.collect.flakiness import (
    Attempt,
    FlakyConfig,
    flagged,
    parse_flaky,
    score,
    scores,
)
from amoskys.errors import ConfigError, Location

WHERE = Location("pyproject.toml")


def history(*outcomes: str, inputs: str = "sha1") -> list[Attempt]:
    return [Attempt(run, inputs, outcome) for run, outcome in enumerate(outcomes, start=1)]


def test_stable_and_always_failing_tests_score_zero() -> None:
    assert score("t", history(*["passed"] * 30)).score == 0
    always = score("t", history(*["failed"] * 30))
    assert always.score == 0 and not always.flagged
    assert score("t", history("error", "failed", "error")).score == 0  # failing either way
    assert score("t", []).score == 0 and score("t", history("skipped", "skipped")).runs == 0


def test_a_flaky_outcome_is_evidence() -> None:
    found = score("t", history("passed", "passed", "flaky", "passed"))
    assert found.flagged and found.flaky_runs == 1 and found.flips == 0 and found.last_run == 3


def test_flips_on_the_same_inputs_are_evidence_but_not_across_commits() -> None:
    same = score("t", history("passed", "failed", "passed", "passed"))
    assert same.flips == 2 and same.flagged and same.last_run == 3
    fixed = [Attempt(1, "a", "failed"), Attempt(2, "a", "failed"), Attempt(3, "b", "passed")]
    assert score("t", fixed).score == 0  # failed on one commit, fixed by the next
    broken = [Attempt(1, "a", "passed"), Attempt(2, "b", "failed"), Attempt(3, "b", "failed")]
    assert score("t", broken).score == 0  # broken by a commit: a real failure


def test_skipped_runs_do_not_count_or_break_a_flip() -> None:
    found = score("t", history("passed", "skipped", "failed"))
    assert found.runs == 2 and found.flips == 1


def test_recent_evidence_weighs_more() -> None:
    old = score("t", history("flaky", *["passed"] * 19))
    new = score("t", history(*["passed"] * 19, "flaky"))
    assert 0 < old.score < new.score < 1


def test_scores_sort_and_threshold() -> None:
    found = scores(
        {
            "b": history("passed", "flaky"),
            "a": history("passed", "passed"),
            "c": history("flaky", "flaky"),
        }
    )
    assert [f.test_id for f in found] == ["c", "b", "a"]
    assert [f.test_id for f in flagged(found)] == ["c", "b"]
    assert [f.test_id for f in flagged(found, 0.9)] == ["c"]


def test_config_defaults_and_values() -> None:
    assert parse_flaky(None, WHERE) == FlakyConfig(reruns=2, quarantine=False, threshold=0.0)
    parsed = parse_flaky({"reruns": 3, "quarantine": True, "threshold": 0.1}, WHERE)
    assert parsed == FlakyConfig(reruns=3, quarantine=True, threshold=0.1, history=50)
    assert parse_flaky(None, WHERE).rerun_limit == 10
    assert parse_flaky({"rerun-limit": 0}, WHERE).rerun_limit == 0


@pytest.mark.parametrize(
    "section, words",
    [
        ({"reruns": -1}, "reruns must be a whole number from 0 to 10"),
        ({"reruns": True}, "reruns must be a whole number"),
        ({"reruns": 11}, "reruns must be a whole number"),
        ({"quarantine": "yes"}, "quarantine must be true or false"),
        ({"threshold": 1.5}, "threshold must be a score from 0 to below 1"),
        ({"history": 1}, "history must be a number of runs"),
        ({"rerun-limit": -1}, "rerun-limit must be a whole number >= 0"),
        ({"rerun-limit": "10"}, "rerun-limit must be a whole number >= 0"),
        ({"retries": 2}, "unknown key(s) in tool.amoskys.flaky: retries"),
        ("on", "tool.amoskys.flaky must be a table"),
    ],
)
def test_config_errors_name_the_file_and_what_is_right(section: object, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_flaky(section, WHERE)
    assert words in caught.value.message
    assert caught.value.location == WHERE
    assert str(caught.value).startswith("pyproject.toml: ")
