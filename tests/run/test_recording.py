"""The run recorder: its writes reach the store in order, batched, and none is lost at close."""

from __future__ import annotations

import os
import subprocess  # nosec B404 - chattr makes a file immutable even for root
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from amoskys_testing import stored_run, unwritable

from amoskys.errors import HistoryError
from amoskys.model import JobRun, Status, StepRun
from amoskys.plan import JobInstance, plan
from amoskys.platforms import LocalRunner
from amoskys.run.commands import Annotation
from amoskys.run.recording import GroupCommit, RunRecorder, not_recorded
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
    return stored_run(store, started=time.time())


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
    # A clock that stands still: only flush() and close() commit, however slow this machine.
    recorder = RunRecorder(store, run_id, tmp_path / "state", NullView(), clock=lambda: 0.0)
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


def test_a_failed_write_stops_the_recording_and_raises_nowhere(store: Store) -> None:
    writer = GroupCommit(store, interval=0.0)
    later: list[str] = []

    def broken(_: Store) -> None:
        raise RuntimeError("disk on fire")

    writer.put(broken)
    writer.flush()  # returns: the failure is kept, not thrown at whoever comes next
    writer.put(lambda s: later.append("written"))  # dropped: the recording has stopped
    writer.close()
    assert isinstance(writer.error, RuntimeError) and "disk on fire" in str(writer.error)
    assert later == []


def test_changes_queued_together_share_one_transaction(store: Store) -> None:
    transactions: list[int] = []
    write_many = store.write_many

    def counting(changes: Any) -> None:
        transactions.append(len(changes))
        write_many(changes)

    store.write_many = counting  # type: ignore[method-assign]
    writer = GroupCommit(store, interval=0.01, clock=lambda: 0.0)  # time stands still
    run_ids: list[int] = []
    for _ in range(20):
        writer.put(lambda s: run_ids.append(new_run(s)))
    writer.close()  # commits at once, without waiting for the interval
    assert transactions == [20]
    assert sorted(r.id for r in store.list_runs(limit=50)) == sorted(run_ids)


def test_a_clock_past_the_interval_commits_without_a_flush(store: Store) -> None:
    now = [0.0]
    writer = GroupCommit(store, interval=0.01, clock=lambda: now[0])
    run_ids: list[int] = []
    writer.put(lambda s: run_ids.append(new_run(s)))
    now[0] = 1.0  # the change is now older than the interval: the writer takes it alone
    deadline = time.monotonic() + 30
    while not run_ids and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(run_ids) == 1 and writer.error is None
    writer.close()


# -- a history database that stops taking writes mid-run -----------------------------------


def recorded_job(store: Store, tmp_path: Path) -> tuple[RunRecorder, JobInstance, int]:
    run_id = new_run(store)
    inst = instance()
    recorder = RunRecorder(store, run_id, tmp_path / "state", NullView())
    recorder.job_started(inst)
    recorder.flush()
    return recorder, inst, run_id


def finish(recorder: RunRecorder, inst: JobInstance) -> None:
    recorder.step_started(inst, 1, "step 1", None)
    recorder.step_finished(inst, step(1))
    recorder.job_finished(
        inst, JobRun(inst.key, inst.name, inst.job_id, Status.SUCCESS, Status.SUCCESS, "")
    )


def test_a_read_only_database_is_one_clear_error_after_the_run(
    store: Store, tmp_path: Path
) -> None:
    recorder, inst, run_id = recorded_job(store, tmp_path)
    database = tmp_path / "state" / "amoskys.db"
    with unwritable(database):
        store.close()  # the next write opens a new connection, as a run's threads do
        finish(recorder, inst)  # the jobs go on: nothing raises at them
        recorder.close()
    error = recorder.error
    assert isinstance(error, HistoryError)
    assert str(database) in str(error) and "readonly" in str(error)
    assert "writable" in (error.hint or "")
    final = not_recorded(error, run_id, 0)
    assert isinstance(final, HistoryError)
    assert f"run {run_id} is not fully recorded (its jobs passed" in str(final)
    (job,) = store.get_run(run_id).jobs  # what was committed before stays
    assert job.status == "running" and job.steps == ()


def test_a_database_removed_mid_run_is_one_clear_error(store: Store, tmp_path: Path) -> None:
    recorder, inst, run_id = recorded_job(store, tmp_path)
    for path in (tmp_path / "state").glob("amoskys.db*"):
        path.unlink()
    store.close()
    finish(recorder, inst)
    recorder.close()
    assert isinstance(recorder.error, HistoryError)
    assert "no such table" in str(recorder.error)
    assert "removed or replaced" in (recorder.error.hint or "")


def test_an_exception_in_flight_is_not_replaced_by_a_failed_write(
    store: Store, tmp_path: Path
) -> None:
    recorder, inst, _ = recorded_job(store, tmp_path)
    for path in (tmp_path / "state").glob("amoskys.db*"):
        path.unlink()
    store.close()
    with pytest.raises(KeyError, match="the run's own"):
        try:
            finish(recorder, inst)
            raise KeyError("the run's own")
        finally:
            recorder.close()
    assert isinstance(recorder.error, HistoryError)


@pytest.mark.parametrize(("jobs", "code"), [(0, 2), (1, 1), (130, 130)])
def test_a_refused_record_exits_with_the_jobs_failure_else_2(jobs: int, code: int) -> None:
    refused = HistoryError("cannot write to the history database: disk I/O error")
    error = not_recorded(refused, 7, jobs)
    assert isinstance(error, HistoryError) and error.exit_code == code
    assert "cannot write to the history database" in str(error)


def test_an_unexpected_write_failure_stays_a_bug_with_a_note() -> None:
    error = not_recorded(LookupError("no job run 3"), 7, 1)
    assert isinstance(error, LookupError)
    assert error.__notes__ == [
        "run 7 is not fully recorded (its jobs gave exit code 1; see the summary above)"
    ]


CHATTR_WORKFLOW = """
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo before
      - run: chattr +i {wal}
      - run: echo after
"""


@pytest.mark.parametrize(
    ("last", "code", "verdict"),
    [
        ("echo after", 2, "its jobs passed"),  # the verdict could not be stored
        ("exit 1", 1, "its jobs gave exit code 1"),  # the lost record does not hide a failure
    ],
)
def test_amoskys_run_whose_database_turns_unwritable_exits_2_with_one_line(
    make_repo: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    last: str,
    code: int,
    verdict: str,
) -> None:
    if os.geteuid() != 0:
        pytest.skip("making the open database unwritable mid-run needs chattr +i (root)")
    monkeypatch.delenv(URL_VARIABLE, raising=False)
    wal = tmp_path / "repo" / ".amoskys" / "amoskys.db-wal"
    workflow = CHATTR_WORKFLOW.format(wal=wal).replace("echo after", last)
    root = make_repo({".github/workflows/ci.yml": workflow})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    try:
        done = subprocess.run(  # nosec B603
            [sys.executable, "-m", "amoskys", "run", "--no-live", "--no-cache"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        subprocess.run(["chattr", "-i", str(wal)], capture_output=True)  # nosec
    if "Operation not supported" in done.stdout or "Inappropriate ioctl" in done.stdout:
        pytest.skip("chattr +i does not work on this file system")
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"{root / '.amoskys' / 'amoskys.db'}: run 1 is not fully recorded")
    assert verdict in line and "cannot write to the history database" in line
    assert "summary" in done.stdout  # the run's own verdict was shown first
    with open_store(root / ".amoskys") as store:
        store.mark_interrupted()
        assert store.get_run(1).run.status == "interrupted"
