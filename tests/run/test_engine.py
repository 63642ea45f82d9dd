"""The scheduler through its one seam: an executor that records what it was asked to do.

Ordering is proven with events, not timings: a job that must run while another is still
running waits for a signal that only the other can give, so a scheduler that ran in levels
would deadlock and the test would fail on its timeout.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Mapping

import pytest

from amoskys.errors import AmoskysError
from amoskys.model import JobRun, Status
from amoskys.plan import JobInstance, plan
from amoskys.platforms import LocalRunner
from amoskys.run.engine import Scheduler, aggregate_result
from amoskys.workflow.events import Event
from amoskys.workflow.parse import parse_workflow_text

WAIT = 10.0


def instances(text: str) -> list[JobInstance]:
    workflow = parse_workflow_text(text, "ci.yml")
    return list(plan([workflow], Event("push"), runner=LocalRunner("linux")).instances)


Behaviour = Callable[[JobInstance, Mapping[str, Any], threading.Event], tuple[Status, dict]]


class Recorder:
    """An executor whose behaviour per job id is given by the test."""

    def __init__(self, behaviours: dict[str, Behaviour] | None = None) -> None:
        self.behaviours = behaviours or {}
        self.started: list[str] = []
        self.needs_seen: dict[str, Mapping[str, Any]] = {}
        self.running = 0
        self.peak = 0
        self.lock = threading.Lock()

    def __call__(
        self, inst: JobInstance, needs: Mapping[str, Any], cancel: threading.Event
    ) -> JobRun:
        with self.lock:
            self.started.append(inst.name)
            self.needs_seen[inst.name] = needs
            self.running += 1
            self.peak = max(self.peak, self.running)
        start = time.time()
        try:
            behaviour = self.behaviours.get(inst.job_id)
            status, outputs = behaviour(inst, needs, cancel) if behaviour else (Status.SUCCESS, {})
        finally:
            with self.lock:
                self.running -= 1
        return JobRun(
            key=inst.key,
            name=inst.name,
            job_id=inst.job_id,
            status=status,
            conclusion=status,
            outputs=outputs,
            started=start,
            finished=time.time(),
        )


def test_a_slow_job_does_not_delay_an_unrelated_ready_job() -> None:
    plan_ = instances("""
on: push
jobs:
  slow: {runs-on: ubuntu-latest, steps: [{run: x}]}
  fast: {runs-on: ubuntu-latest, steps: [{run: x}]}
  after-fast: {needs: fast, runs-on: ubuntu-latest, steps: [{run: x}]}
""")
    after_fast_ran = threading.Event()

    def slow(inst: JobInstance, needs: Mapping[str, Any], cancel: threading.Event) -> Any:
        # Finishes only once after-fast has run: a level-by-level scheduler deadlocks here.
        assert after_fast_ran.wait(WAIT), "after-fast was held back by the slow job"
        return Status.SUCCESS, {}

    def after(inst: JobInstance, needs: Mapping[str, Any], cancel: threading.Event) -> Any:
        after_fast_ran.set()
        return Status.SUCCESS, {}

    recorder = Recorder({"slow": slow, "after-fast": after})
    results = Scheduler(plan_, recorder, max_jobs=2).run()
    assert all(r.status is Status.SUCCESS for r in results.values())
    assert recorder.started.index("after-fast") < len(recorder.started)


def test_needs_pass_results_and_outputs_and_failures_skip_dependants() -> None:
    plan_ = instances("""
on: push
jobs:
  build: {runs-on: ubuntu-latest, steps: [{run: x}]}
  test: {needs: build, runs-on: ubuntu-latest, steps: [{run: x}]}
  broken: {runs-on: ubuntu-latest, steps: [{run: x}]}
  never: {needs: [broken], runs-on: ubuntu-latest, steps: [{run: x}]}
  report: {needs: [broken], if: always(), runs-on: ubuntu-latest, steps: [{run: x}]}
  on-failure: {needs: [broken], if: failure(), runs-on: ubuntu-latest, steps: [{run: x}]}
""")
    recorder = Recorder(
        {
            "build": lambda i, n, c: (Status.SUCCESS, {"version": "1.2"}),
            "broken": lambda i, n, c: (Status.FAILURE, {}),
        }
    )
    results = Scheduler(plan_, recorder, max_jobs=2).run()
    by_id = {r.job_id: r for r in results.values()}
    assert recorder.needs_seen["test"] == {
        "build": {"result": "success", "outputs": {"version": "1.2"}}
    }
    assert by_id["never"].status is Status.SKIPPED
    assert by_id["report"].status is Status.SUCCESS
    assert by_id["on-failure"].status is Status.SUCCESS
    assert recorder.needs_seen["report"]["broken"]["result"] == "failure"


def test_matrix_instances_run_in_parallel_up_to_max_jobs() -> None:
    plan_ = instances("""
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    strategy: {matrix: {n: [1, 2, 3]}}
    steps: [{run: x}]
""")
    barrier = threading.Barrier(3, timeout=WAIT)

    def meet(inst: JobInstance, needs: Mapping[str, Any], cancel: threading.Event) -> Any:
        barrier.wait()  # all three must be running at once
        return Status.SUCCESS, {}

    recorder = Recorder({"t": meet})
    results = Scheduler(plan_, recorder, max_jobs=3).run()
    assert [r.status for r in results.values()] == [Status.SUCCESS] * 3
    assert recorder.peak == 3


def test_max_parallel_and_the_global_limit_are_honoured() -> None:
    plan_ = instances("""
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    strategy: {max-parallel: 1, matrix: {n: [1, 2, 3]}}
    steps: [{run: x}]
  u:
    runs-on: ubuntu-latest
    strategy: {matrix: {n: [1, 2, 3, 4]}}
    steps: [{run: x}]
""")
    in_t = 0
    peak_t = 0
    lock = threading.Lock()

    def count(inst: JobInstance, needs: Mapping[str, Any], cancel: threading.Event) -> Any:
        nonlocal in_t, peak_t
        with lock:
            in_t += 1
            peak_t = max(peak_t, in_t)
        time.sleep(0.05)
        with lock:
            in_t -= 1
        return Status.SUCCESS, {}

    recorder = Recorder(
        {"t": count, "u": lambda i, n, c: (time.sleep(0.05), (Status.SUCCESS, {}))[1]}
    )
    Scheduler(plan_, recorder, max_jobs=2).run()
    assert peak_t == 1
    assert recorder.peak <= 2


def test_fail_fast_cancels_running_and_queued_siblings() -> None:
    plan_ = instances("""
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    strategy: {max-parallel: 2, matrix: {n: [1, 2, 3, 4]}}
    steps: [{run: x}]
""")
    second_running = threading.Event()

    def behave(inst: JobInstance, needs: Mapping[str, Any], cancel: threading.Event) -> Any:
        if inst.matrix["n"] == 1:
            assert second_running.wait(WAIT)
            return Status.FAILURE, {}
        second_running.set()
        if cancel.wait(WAIT):
            return Status.CANCELLED, {}
        return Status.SUCCESS, {}

    results = list(Scheduler(plan_, Recorder({"t": behave}), max_jobs=4).run().values())
    assert [r.status for r in results] == [
        Status.FAILURE,
        Status.CANCELLED,
        Status.CANCELLED,
        Status.CANCELLED,
    ]
    assert "fail-fast" in results[2].reason and "fail-fast" in results[3].reason


def test_fail_fast_false_lets_siblings_finish() -> None:
    plan_ = instances("""
on: push
jobs:
  t:
    runs-on: ubuntu-latest
    strategy: {fail-fast: false, matrix: {n: [1, 2]}}
    steps: [{run: x}]
""")
    results = Scheduler(
        plan_,
        Recorder(
            {"t": lambda i, n, c: (Status.FAILURE if i.matrix["n"] == 1 else Status.SUCCESS, {})}
        ),
        max_jobs=1,
    ).run()
    assert [r.status for r in results.values()] == [Status.FAILURE, Status.SUCCESS]


def test_not_runnable_instances_are_not_run_and_neither_are_their_dependants() -> None:
    plan_ = instances("""
on: push
jobs:
  win: {runs-on: windows-latest, steps: [{run: x}]}
  after: {needs: win, runs-on: ubuntu-latest, steps: [{run: x}]}
""")
    recorder = Recorder()
    results = list(Scheduler(plan_, recorder, max_jobs=2).run().values())
    assert [r.status for r in results] == [Status.NOT_RUN, Status.NOT_RUN]
    assert results[0].reason == "no runner for windows-latest"
    assert recorder.started == []


def test_cancelling_the_run_cancels_jobs_but_always_jobs_still_run() -> None:
    plan_ = instances("""
on: push
jobs:
  long: {runs-on: ubuntu-latest, steps: [{run: x}]}
  next: {needs: long, runs-on: ubuntu-latest, steps: [{run: x}]}
  cleanup: {needs: long, if: always(), runs-on: ubuntu-latest, steps: [{run: x}]}
""")
    cancel = threading.Event()

    def long(inst: JobInstance, needs: Mapping[str, Any], own: threading.Event) -> Any:
        cancel.set()
        assert own.wait(WAIT), "the run's cancel did not reach the job"
        return Status.CANCELLED, {}

    results = {
        r.job_id: r
        for r in Scheduler(plan_, Recorder({"long": long}), max_jobs=2).run(cancel).values()
    }
    assert results["long"].status is Status.CANCELLED
    assert results["next"].status is Status.CANCELLED
    assert results["cleanup"].status is Status.SUCCESS


def test_a_crashing_executor_fails_its_job_and_is_reported() -> None:
    plan_ = instances("on: push\njobs:\n  a: {runs-on: ubuntu-latest, steps: [{run: x}]}\n")

    def crash(inst: JobInstance, needs: Mapping[str, Any], cancel: threading.Event) -> Any:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError, match="bug"):
        Scheduler(plan_, Recorder({"a": crash}), max_jobs=1).run()


def test_bad_limits_and_aggregates() -> None:
    with pytest.raises(AmoskysError):
        Scheduler([], Recorder(), max_jobs=0)

    def run(status: Status) -> JobRun:
        return JobRun(key="k", name="n", job_id="j", status=status, conclusion=status)

    assert aggregate_result([run(Status.SUCCESS), run(Status.FAILURE)]) == "failure"
    assert aggregate_result([run(Status.SUCCESS), run(Status.CANCELLED)]) == "cancelled"
    assert aggregate_result([run(Status.SKIPPED)]) == "skipped"
    assert aggregate_result([run(Status.SUCCESS), run(Status.SKIPPED)]) == "success"
    assert aggregate_result([run(Status.TIMED_OUT)]) == "failure"


PRIORITY_PLAN = """
on: push
jobs:
  lint: {runs-on: ubuntu-latest, steps: [{run: x}]}
  tests:
    runs-on: ubuntu-latest
    strategy: {matrix: {python: ["3.11", "3.12", "3.13"]}}
    steps: [{run: x}]
  build: {runs-on: ubuntu-latest, steps: [{run: x}]}
  publish: {needs: build, runs-on: ubuntu-latest, steps: [{run: x}]}
"""


def test_with_history_the_longest_chain_of_work_starts_first() -> None:
    """One slot: the start order is the priority order. publish (60 s) makes build (1 s) the
    head of the longest chain; the 3.11 instance is the slowest test job; lint has no history
    and counts as the mean of the others."""
    plan_ = instances(PRIORITY_PLAN)
    keys = {i.name: i.key for i in plan_}
    history = {
        keys["tests (3.11)"]: 50.0,
        keys["tests (3.12)"]: 36.0,
        keys["tests (3.13)"]: 44.0,
        keys["build"]: 1.0,
        keys["publish"]: 60.0,
    }
    recorder = Recorder()
    Scheduler(plan_, recorder, max_jobs=1, expected=history).run()
    assert recorder.started == [
        "build",  # 1 + 60
        "publish",  # ready now, and the longest left
        "tests (3.11)",
        "tests (3.13)",
        "lint",  # no history: the mean, 38.2 s
        "tests (3.12)",
    ]
    recorder = Recorder()
    Scheduler(plan_, recorder, max_jobs=1).run()  # no history: plan order
    assert recorder.started == [i.name for i in plan_]
