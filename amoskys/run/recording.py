"""Everything a run does, written to the history store as it happens.

:class:`RunRecorder` sits between the engine and the user's view: it receives the same
calls as the live view (jobs and steps starting and ending, results collected after a job),
writes each one to the store at once, and forwards it. A run killed mid-step therefore
leaves a run row still marked ``running`` (the next start marks it ``interrupted``), every
job and step that had started, and every log line that had been flushed.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from amoskys.collect import CollectWarning
from amoskys.model import JobRun, Status, StepRun
from amoskys.plan import JobInstance
from amoskys.run.commands import Annotation
from amoskys.store.db import Store
from amoskys.store.records import Metric, TestCaseResult


class ViewReporter(Protocol):
    """The live tree or the plain prefixed lines (:mod:`amoskys.run.live`)."""

    def job_started(self, inst: JobInstance) -> None: ...

    def job_finished(self, inst: JobInstance, result: JobRun) -> None: ...

    def step_started(self, inst: JobInstance, index: int, name: str) -> None: ...

    def step_line(self, inst: JobInstance, name: str, text: str) -> None: ...

    def step_finished(self, inst: JobInstance, step: StepRun) -> None: ...

    def annotation(self, inst: JobInstance, note: Annotation) -> None: ...

    def close(self) -> None: ...


class RunRecorder:
    """Writes jobs, steps, logs' index, test results and metrics of one run to the store."""

    def __init__(self, store: Store, run_id: int, state_dir: Path, view: ViewReporter) -> None:
        self.store = store
        self.run_id = run_id
        self.state_dir = state_dir
        self.view = view
        self._lock = threading.Lock()
        self._jobs: dict[str, int] = {}
        self._steps: dict[tuple[str, int], tuple[int, Path | None]] = {}
        self._lines: dict[tuple[str, int], tuple[int, int]] = {}

    def _relative(self, path: Path | None) -> str | None:
        if path is None:
            return None
        try:
            return path.relative_to(self.state_dir).as_posix()
        except ValueError:
            return str(path)

    # -- scheduler observer ---------------------------------------------------------------

    def job_started(self, inst: JobInstance) -> None:
        job_run_id = self.store.start_job(
            self.run_id,
            key=inst.key,
            name=inst.name,
            job_id=inst.job_id,
            matrix=dict(inst.matrix),
            runner="local",
            started=time.time(),
        )
        with self._lock:
            self._jobs[inst.key] = job_run_id
        self.view.job_started(inst)

    def job_finished(self, inst: JobInstance, result: JobRun) -> None:
        with self._lock:
            job_run_id = self._jobs.get(inst.key)
        if job_run_id is None:  # never started: skipped, not run, cancelled while queued
            self.store.record_job(
                self.run_id,
                key=inst.key,
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
            self.store.finish_job(
                job_run_id,
                status=result.status.value,
                conclusion=result.conclusion.value,
                reason=result.reason,
                finished=result.finished or time.time(),
            )
        self.view.job_finished(inst, result)

    # -- job executor ---------------------------------------------------------------------

    def step_started(
        self, inst: JobInstance, index: int, name: str, log_path: Path | None = None
    ) -> None:
        with self._lock:
            job_run_id = self._jobs.get(inst.key)
        if job_run_id is not None:
            step_run_id = self.store.start_step(
                job_run_id,
                index=index,
                name=name,
                step_id=None,
                started=time.time(),
                log_path=self._relative(log_path),
            )
            with self._lock:
                self._steps[(inst.key, index)] = (step_run_id, log_path)
        self.view.step_started(inst, index, name)

    def step_line(self, inst: JobInstance, name: str, text: str) -> None:
        self.view.step_line(inst, name, text)

    def step_log_size(self, inst: JobInstance, index: int, lines: int, size: int) -> None:
        """The log writer's final counts for the store's log index."""
        with self._lock:
            self._lines[(inst.key, index)] = (lines, size)

    def step_finished(self, inst: JobInstance, step: StepRun) -> None:
        with self._lock:
            started = self._steps.pop((inst.key, step.index), None)
            lines, size = self._lines.pop((inst.key, step.index), (0, 0))
        if started is not None:
            self.store.finish_step(
                started[0],
                outcome=step.outcome.value,
                conclusion=step.conclusion.value,
                exit_code=step.exit_code,
                finished=step.finished or time.time(),
                log_lines=lines,
                log_bytes=size,
            )
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
        with self._lock:
            job_run_id = self._jobs.get(inst.key)
        if job_run_id is None:
            return
        if tests:
            self.store.add_test_results(job_run_id, tests)
        if metrics:
            self.store.add_metrics(self.run_id, metrics, job_run_id=job_run_id)
        for warning in warnings:
            self.view.step_line(inst, "collect", f"warning: {warning.path}: {warning.message}")

    def job_findings(self, inst: JobInstance, findings: Sequence[Mapping[str, Any]]) -> None:
        """Findings of ``amoskys lint``/``security-scan`` run inside the job's steps."""
        with self._lock:
            job_run_id = self._jobs.get(inst.key)
        self.store.add_findings(self.run_id, findings, job_run_id=job_run_id)

    def close(self) -> None:
        self.view.close()
