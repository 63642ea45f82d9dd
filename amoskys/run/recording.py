"""Everything a run does, written to the history store as it happens.

:class:`RunRecorder` sits between the engine and the user's view: it receives the same
calls as the live view (jobs and steps starting and ending, results collected after a job),
forwards each one, and has it written to the store by one writer thread that commits
whatever is queued in one transaction every :data:`COMMIT_SECONDS` (:class:`GroupCommit`):
no job waits for the database, a run of many short steps pays one commit for many, and a
step that ends before its start is written becomes one row. A run killed mid-step therefore
leaves a run row still marked ``running`` (the next start marks it ``interrupted``), every
job and step that had started except those of its last :data:`COMMIT_SECONDS`, and every log
line that had been flushed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from amoskys.collect import CollectWarning
from amoskys.errors import AmoskysError, HistoryError
from amoskys.model import JobRun, Status, StepRun
from amoskys.plan import JobInstance
from amoskys.run.commands import Annotation
from amoskys.store.db import StepEnd, Store
from amoskys.store.records import Metric, TestCaseResult

COMMIT_SECONDS = 0.05
"""How long a recorded change may wait for others to share its commit."""


class ViewReporter(Protocol):
    """The live tree or the plain prefixed lines (:mod:`amoskys.run.live`)."""

    def job_started(self, inst: JobInstance) -> None: ...

    def job_finished(self, inst: JobInstance, result: JobRun) -> None: ...

    def step_started(self, inst: JobInstance, index: int, name: str) -> None: ...

    def step_line(self, inst: JobInstance, name: str, text: str) -> None: ...

    def step_finished(self, inst: JobInstance, step: StepRun) -> None: ...

    def annotation(self, inst: JobInstance, note: Annotation) -> None: ...

    def close(self) -> None: ...


@dataclass
class _PendingStep:
    """A step whose start is queued: if it ends before the start is written, one row does."""

    taken: bool = False  # the writer has begun writing the start
    ended: StepEnd | None = None


class GroupCommit:
    """A thread that makes the recorder's writes in order, many to a transaction.

    Callers queue a change and go on; the thread commits everything queued in one transaction
    (:meth:`Store.write_many`) at most ``interval`` seconds (by ``clock``) after the oldest of
    it was queued, then the next lot. A killed run therefore loses at most the changes of its
    last ``interval`` (plus one commit's time), never what was committed.

    A failed write stops the recording, not the run: it is kept in :attr:`error`, and what
    is queued then or later is dropped. Nothing here raises it (a caller's own exception in
    flight must not be replaced); the run reports it once it is over.
    """

    def __init__(
        self,
        store: Store,
        interval: float = COMMIT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._interval = interval
        self._clock = clock
        self._wake = threading.Condition()
        self._queue: list[Callable[[Store], object]] = []
        self._oldest = 0.0  # clock time the oldest queued change came
        self._flushing = 0
        self._closed = False
        self._busy = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="amoskys-recorder", daemon=True)
        self._thread.start()

    @property
    def error(self) -> BaseException | None:
        """The first write that failed; None while every write has been made."""
        with self._wake:
            return self._error

    def put(self, change: Callable[[Store], object]) -> None:
        """Queue ``change`` (it calls methods of the store it is given); dropped once a write
        has failed."""
        with self._wake:
            if self._closed:
                raise RuntimeError("the run recorder is closed")
            if self._error is not None:
                return
            if not self._queue:
                self._oldest = self._clock()
                self._wake.notify()
            self._queue.append(change)

    def flush(self) -> None:
        """Wait until everything queued so far is committed (or a write has failed)."""
        with self._wake:
            self._flushing += 1
            self._wake.notify_all()
            try:
                while (self._queue or self._busy) and self._error is None:
                    self._wake.wait()
            finally:
                self._flushing -= 1

    def close(self) -> None:
        """Commit what is queued and stop the thread; see :attr:`error` for how it went."""
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        self._thread.join()

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._queue or not (self._closed or self._flushing):
                    if self._closed and not self._queue:
                        return
                    if not self._queue:
                        self._wake.wait()
                        continue
                    due = self._oldest + self._interval - self._clock()
                    if due <= 0:
                        break
                    self._wake.wait(min(due, self._interval))
                batch, self._queue = self._queue, []
                self._busy = True
            try:
                self._store.write_many(batch)
            except BaseException as exc:  # noqa: BLE001 - the run reports it when it is over
                with self._wake:
                    self._error = exc
                    self._queue = []
            with self._wake:
                self._busy = False
                self._wake.notify_all()


def not_recorded(error: BaseException, run_id: int, exit_code: int) -> BaseException:
    """What to raise when run ``run_id``, whose jobs gave ``exit_code``, could not be fully
    written to the history: the store's own refusal (disk full, read-only or removed file,
    a lock held too long) as one clear error, anything else as the bug it is.

    The store's refusal exits with the jobs' own code when they failed (1) or were cancelled
    (130): the lost record does not hide a failure; when every job passed it exits 2, as the
    run's verdict could not be stored."""
    verdict = "its jobs passed" if exit_code == 0 else f"its jobs gave exit code {exit_code}"
    summary = f"run {run_id} is not fully recorded ({verdict}; see the summary above)"
    if isinstance(error, AmoskysError):
        refused = HistoryError(
            f"{summary}: {error.message}", location=error.location, hint=error.hint
        )
        if exit_code != 0:
            refused.exit_code = exit_code
        return refused
    error.add_note(summary)
    return error


class RunRecorder:
    """Writes jobs, steps, logs' index, test results and metrics of one run to the store.

    The writes go through a :class:`GroupCommit`: the jobs never wait for the database, and
    a run of many short steps commits many of them at a time. :meth:`close` commits the rest.
    """

    def __init__(
        self,
        store: Store,
        run_id: int,
        state_dir: Path,
        view: ViewReporter,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.run_id = run_id
        self.state_dir = state_dir
        self.view = view
        self._lock = threading.Lock()
        self._started: set[str] = set()  # keys of the jobs that started (known at once)
        self._lines: dict[tuple[str, int], tuple[int, int]] = {}
        self._pending: dict[tuple[str, int], _PendingStep] = {}
        # Filled and read by the writer thread only, in the order of the queued changes:
        self._jobs: dict[str, int] = {}
        self._steps: dict[tuple[str, int], int] = {}
        self._writer = GroupCommit(store, clock=clock)

    def _relative(self, path: Path | None) -> str | None:
        if path is None:
            return None
        try:
            return path.relative_to(self.state_dir).as_posix()
        except ValueError:
            return str(path)

    def _has_started(self, inst: JobInstance) -> bool:
        with self._lock:
            return inst.key in self._started

    def flush(self) -> None:
        """Wait until every write so far is in the store (or one failed: :attr:`error`)."""
        self._writer.flush()

    def copy_job_results(self, source_job_run_id: int, run_id: int, key: str) -> None:
        """Queue the copy of a cached job's results into job ``key`` of ``run_id``.

        It goes through the writer like every other change, so it lands after that job's row
        (queued by :meth:`job_started`) and before its finish.
        """
        self._writer.put(lambda store: store.copy_job_results(source_job_run_id, run_id, key))

    # -- scheduler observer ---------------------------------------------------------------

    def job_started(self, inst: JobInstance) -> None:
        key, started = inst.key, time.time()
        with self._lock:
            self._started.add(key)

        def change(store: Store) -> None:
            self._jobs[key] = store.start_job(
                self.run_id,
                key=key,
                name=inst.name,
                job_id=inst.job_id,
                matrix=dict(inst.matrix),
                runner="local",
                started=started,
            )

        self._writer.put(change)
        self.view.job_started(inst)

    def job_finished(self, inst: JobInstance, result: JobRun) -> None:
        key, finished = inst.key, result.finished or time.time()
        if not self._has_started(inst):  # skipped, not run, cancelled while queued

            def change(store: Store) -> None:
                store.record_job(
                    self.run_id,
                    key=key,
                    name=inst.name,
                    job_id=inst.job_id,
                    matrix=dict(inst.matrix),
                    runner="" if result.status is Status.NOT_RUN else "local",
                    status=result.status.value,
                    conclusion=result.conclusion.value,
                    reason=result.reason,
                    started=result.started,
                    finished=result.finished,
                )

        else:

            def change(store: Store) -> None:
                store.finish_job(
                    self._jobs[key],
                    status=result.status.value,
                    conclusion=result.conclusion.value,
                    reason=result.reason,
                    finished=finished,
                )

        self._writer.put(change)
        self.view.job_finished(inst, result)

    # -- job executor ---------------------------------------------------------------------

    def step_started(
        self, inst: JobInstance, index: int, name: str, log_path: Path | None = None
    ) -> None:
        if self._has_started(inst):
            key, started, relative = inst.key, time.time(), self._relative(log_path)
            pending = _PendingStep()
            with self._lock:
                self._pending[(key, index)] = pending

            def change(store: Store) -> None:
                with self._lock:
                    pending.taken = True
                    ended = pending.ended
                self._steps[(key, index)] = store.start_step(
                    self._jobs[key],
                    index=index,
                    name=name,
                    step_id=None,
                    started=started,
                    log_path=relative,
                    ended=ended,
                )

            self._writer.put(change)
        self.view.step_started(inst, index, name)

    def step_line(self, inst: JobInstance, name: str, text: str) -> None:
        self.view.step_line(inst, name, text)

    def step_log_size(self, inst: JobInstance, index: int, lines: int, size: int) -> None:
        """The log writer's final counts for the store's log index."""
        with self._lock:
            self._lines[(inst.key, index)] = (lines, size)

    def step_finished(self, inst: JobInstance, step: StepRun) -> None:
        key = (inst.key, step.index)
        with self._lock:
            lines, size = self._lines.pop(key, (0, 0))
            pending = self._pending.pop(key, None)  # None: a skipped step, never started
            ended = StepEnd(
                outcome=step.outcome.value,
                conclusion=step.conclusion.value,
                exit_code=step.exit_code,
                finished=step.finished or time.time(),
                log_lines=lines,
                log_bytes=size,
            )
            if pending is not None and not pending.taken:
                pending.ended = ended  # written whole, with its start
                pending = None
        if pending is not None:

            def change(store: Store) -> None:
                store.finish_step(
                    self._steps[key],
                    outcome=ended.outcome,
                    conclusion=ended.conclusion,
                    exit_code=ended.exit_code,
                    finished=ended.finished,
                    log_lines=ended.log_lines,
                    log_bytes=ended.log_bytes,
                )

            self._writer.put(change)
        self.view.step_finished(inst, step)

    def annotation(self, inst: JobInstance, note: Annotation) -> None:
        self.view.annotation(inst, note)

    def job_collected(
        self,
        inst: JobInstance,
        tests: Sequence[TestCaseResult],
        metrics: Sequence[Metric],
        warnings: Sequence[CollectWarning],
    ) -> None:
        """Test results and metrics collected from the job's reports."""
        key = inst.key
        if self._has_started(inst) and (tests or metrics):

            def change(store: Store) -> None:
                job_run_id = self._jobs[key]
                if tests:
                    store.add_test_results(job_run_id, tests)
                if metrics:
                    store.add_metrics(self.run_id, metrics, job_run_id=job_run_id)

            self._writer.put(change)
        for warning in warnings:
            self.view.step_line(inst, "collect", f"warning: {warning.path}: {warning.message}")

    def job_findings(self, inst: JobInstance, findings: Sequence[Mapping[str, Any]]) -> None:
        """Findings of ``amoskys lint``/``security-scan`` run inside the job's steps."""
        key = inst.key

        def change(store: Store) -> None:
            store.add_findings(self.run_id, findings, job_run_id=self._jobs.get(key))

        self._writer.put(change)

    @property
    def error(self) -> BaseException | None:
        """The write that failed (the run is then not fully recorded), or None."""
        return self._writer.error

    def close(self) -> None:
        """Commit every write still queued, then close the view. Never raises a failed
        write (see :attr:`error`): an exception already in flight goes on unchanged."""
        try:
            self._writer.close()
        finally:
            self.view.close()
