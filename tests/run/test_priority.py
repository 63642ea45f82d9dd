"""critical_path_priority and expected_durations: pure, on plans the planner made."""

from __future__ import annotations

from amoskys.plan import JobInstance, plan
from amoskys.platforms import LocalRunner
from amoskys.run.priority import critical_path_priority, expected_durations, start_order
from amoskys.workflow.events import Event
from amoskys.workflow.parse import parse_workflow_text

WORKFLOW = """
on: push
jobs:
  a: {runs-on: ubuntu-latest, steps: [{run: x}]}
  b: {needs: a, runs-on: ubuntu-latest, steps: [{run: x}]}
  c: {needs: a, runs-on: ubuntu-latest, steps: [{run: x}]}
  d: {needs: [b, c], runs-on: ubuntu-latest, steps: [{run: x}]}
  win: {runs-on: windows-latest, steps: [{run: x}]}
  e: {runs-on: ubuntu-latest, steps: [{run: x}]}
"""


def _instances() -> dict[str, JobInstance]:
    workflow = parse_workflow_text(WORKFLOW, "ci.yml")
    found = plan([workflow], Event("push"), runner=LocalRunner("linux")).instances
    return {i.name: i for i in found}


def test_priority_is_the_longest_chain_through_the_jobs_that_need_it() -> None:
    by_name = _instances()
    seconds = {"a": 2.0, "b": 10.0, "c": 3.0, "d": 1.0, "e": 12.0}
    expected = {by_name[n].key: s for n, s in seconds.items()}
    priority = critical_path_priority(list(by_name.values()), expected)
    assert priority[by_name["d"].key] == 1.0
    assert priority[by_name["b"].key] == 11.0 and priority[by_name["c"].key] == 4.0
    assert priority[by_name["a"].key] == 13.0  # a -> b -> d
    assert priority[by_name["e"].key] == 12.0
    order = [i.name for i in start_order(list(by_name.values()), expected)]
    assert order[:3] == ["a", "e", "b"]


def test_unknown_jobs_count_as_the_mean_and_jobs_that_cannot_run_as_nothing() -> None:
    by_name = _instances()
    history = {by_name["a"].key: 4.0, by_name["e"].key: 8.0, by_name["win"].key: 99.0}
    expected = expected_durations(list(by_name.values()), history)
    assert expected[by_name["b"].key] == 6.0  # the mean of a and e (win cannot run here)
    assert expected[by_name["win"].key] == 0.0
    assert expected_durations(list(by_name.values()), {}) == {k.key: 0.0 for k in by_name.values()}
