"""The run recorder: its writes reach the store in order, batched, and none is lost at close."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from amoskys.model import JobRun, Status, StepRun
from amoskys.plan import JobInstance, plan
from amoskys.platforms import LocalRunner
from amoskys.run.commands import Annotation
from amoskys.run.recording import GroupCommit, RunRecorder
from amoskys.store.db import URL_VARIABLE, Store, open_store
from amoskys.workflow.events import Event
from amoskys.workflow.parse import parse_workflow_text

WORKFLOW = """
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo one
      - run: echo two
      - run: echo three
"""


class NullView:
    def job_started(self, inst: JobInstance) -> None:
        pass

    def job_finished(self, inst: JobInstance, result: JobRun) -> None:
        pass

    def step_started(self, inst: JobInstance, index: int, name: str) -> None:
        pass

    def step_line(self, inst: JobInstance, name: str, text: str) -> None:
        pass

    def step_finished(self, inst: JobInstance, step: StepRun) -> None:
        pass

    def annotation(self, inst: JobInstance, note: Annotation) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv(URL_VARIABLE, raising=False)
    with open_store(tmp_path / "state") as s:
        yield s


def instance() -> JobInstance:
    workflow = parse_workflow_text(WORKFLOW, ".github/workflows/ci.yml")
    (inst,) = plan([workflow], Event("push"), runner=LocalRunner("linux")).instances
    return inst


def new_run(store: Store) -> int:
    return store.create_run(
        workflow="ci.yml",
        trigger="cli",
        event="push",
        ref="refs/heads/main",
        branch="main",
        sha="a" * 40,
        actor="dev",
        workflow_sha256="f" * 64,
        started=time.time(),
        run_dir="runs/x",
    )


def step(index: int, outcome: Status = Status.SUCCESS) -> StepRun:
    now = time.time()
    return StepRun(index, f"step {index}", None, outcome, outcome, 0, now - 1, now)


def test_steps_ended_before_their_commit_are_one_row_and_all_are_there_after_close(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    updated: list[int] = []
    finish_step = Store.finish_step

    def counting(self: Store, step_run_id: int, **kw: Any) -> None:
        updated.append(step_run_id)
        finish_step(self, step_run_id, **kw)

    monkeypatch.setattr(Store, "finish_step", counting)
    run_id = new_run(store)
    inst = instance()
    recorder = RunRecorder(store, run_id, tmp_path / "state", NullView())
    recorder.job_started(inst)
    recorder.step_started(inst, 1, "step 1", tmp_path / "state" / "logs" / "1.log")
    recorder.step_log_size(inst, 1, 2, 20)
    recorder.step_finished(inst, step(1))
    recorder.flush()  # step 2 starts in one commit and ends in another
    recorder.step_started(inst, 2, "step 2", None)
    recorder.flush()
    assert store.get_run(run_id).jobs[0].steps[1].outcome is None  # running, and visible
    recorder.step_finished(inst, step(2, Status.FAILURE))
    recorder.step_finished(inst, step(3, Status.SKIPPED))  # skipped: never started
    recorder.job_finished(
        inst,
        JobRun(inst.key, inst.name, inst.job_id, Status.FAILURE, Status.FAILURE, "x", finished=1),
    )
    recorder.close()
    (job,) = store.get_run(run_id).jobs
    assert job.status == "failure"
    assert [(s.index, s.outcome, s.log_path, s.log_lines) for s in job.steps] == [
        (1, "success", "logs/1.log", 2),
        (2, "failure", None, 0),
    ]
    assert updated == [job.steps[1].id]  # step 1 was inserted whole, never updated


def test_a_failed_write_is_raised_to_the_next_caller_and_by_close(store: Store) -> None:
    writer = GroupCommit(store, interval=0.0)

    def broken(_: Store) -> None:
        raise RuntimeError("disk on fire")

    writer.put(broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        writer.flush()
    with pytest.raises(RuntimeError, match="disk on fire"):
        writer.put(lambda s: None)
    with pytest.raises(RuntimeError, match="disk on fire"):
        writer.close()


def test_changes_queued_together_share_one_transaction(store: Store) -> None:
    transactions: list[int] = []
    write_many = store.write_many

    def counting(changes: Any) -> None:
        transactions.append(len(changes))
        write_many(changes)

    store.write_many = counting  # type: ignore[method-assign]
    writer = GroupCommit(store, interval=5.0)
    run_ids: list[int] = []
    for _ in range(20):
        writer.put(lambda s: run_ids.append(new_run(s)))
    writer.close()  # commits at once, without waiting for the interval
    assert transactions == [20]
    assert sorted(r.id for r in store.list_runs(limit=50)) == sorted(run_ids)
