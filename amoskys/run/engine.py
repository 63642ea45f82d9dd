"""The scheduler: job instances run from a ready queue, never in levels.

A job starts the moment everything it needs has finished and there is room for it (the
global ``-j`` limit and its matrix's ``max-parallel``), so a slow job holds back only what
needs it. ``fail-fast`` cancels the running and queued siblings of a failed matrix instance.
The work of one job is done by a :class:`JobExecutor`: the one seam through which the
scheduler is tested. Among ready jobs, the one heading the longest chain of expected work
starts first (:mod:`amoskys.run.priority`, from the durations the history store remembers).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

from amoskys.errors import AmoskysError, ExpressionError
from amoskys.model import JobRun, Status
from amoskys.plan import JobInstance
from amoskys.run.priority import start_order
from amoskys.workflow.expressions import (
    EvalContext,
    StatusState,
    evaluate_condition,
    interpolate,
    uses_status_function,
)


class JobExecutor(Protocol):
    """Runs one job instance to its end and says how it went."""

    def __call__(
        self, instance: JobInstance, needs: Mapping[str, Any], cancel: threading.Event, /
    ) -> JobRun: ...


class SchedulerObserver(Protocol):
    def job_started(self, instance: JobInstance) -> None: ...

    def job_finished(self, instance: JobInstance, result: JobRun) -> None: ...


class _NullObserver:
    def job_started(self, instance: JobInstance) -> None:
        pass

    def job_finished(self, instance: JobInstance, result: JobRun) -> None:
        pass


def aggregate_result(results: Sequence[JobRun]) -> str:
    """``needs.<job>.result`` over all instances of a job (a matrix counts as one job)."""
    values = [r.conclusion.as_result for r in results]
    if any(v == "failure" for v in values):
        return "failure"
    if any(v == "cancelled" for v in values):
        return "cancelled"
    if values and all(v == "skipped" for v in values):
        return "skipped"
    return "success"


def needs_context(
    instance: JobInstance,
    done: Mapping[str, JobRun],
    call_outputs: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """The ``needs`` context of ``instance``: result and outputs of each job it needs.

    ``call_outputs`` maps ``<workflow file>#<id>`` of a job that calls a reusable workflow to
    that workflow's ``on.workflow_call.outputs`` (see :func:`call_outputs_of`): such a job's
    outputs are those, evaluated over its ``jobs``.
    """
    scope = instance.job_id.rsplit("/", 1)[0] + "/" if "/" in instance.job_id else ""
    context: dict[str, Any] = {}
    for need in instance.needs:
        full = scope + need
        runs = [
            done[k]
            for k in instance.needs_keys
            if k in done and (done[k].job_id == full or done[k].job_id.startswith(full + "/"))
        ]
        top = instance.key.split("#", 1)[0] + "#"
        outputs = _outputs_of(full, runs, call_outputs or {}, top)
        context[need] = {"result": aggregate_result(runs), "outputs": outputs}
    return context


def call_outputs_of(instances: Sequence[JobInstance]) -> dict[str, Mapping[str, str]]:
    """The ``workflow_call`` outputs of every calling job in the plan, by workflow file and id
    (one workflow's ``lint`` job is not another's)."""
    found: dict[str, Mapping[str, str]] = {}
    for inst in instances:
        top = inst.key.split("#", 1)[0] + "#"
        for call_id, templates in inst.call_outputs.items():
            found[top + call_id] = templates
    return found


def _outputs_of(
    full: str,
    runs: Sequence[JobRun],
    call_outputs: Mapping[str, Mapping[str, str]],
    top: str,
) -> dict[str, str]:
    """The outputs of job ``full`` from the runs of its instances (or of the jobs it calls)."""
    templates = call_outputs.get(top + full)
    if templates is None:
        outputs: dict[str, str] = {}
        for run in sorted(runs, key=lambda r: r.finished):
            outputs.update(run.outputs)
        return outputs
    by_job: dict[str, list[JobRun]] = {}
    for run in runs:
        if run.job_id.startswith(full + "/"):
            by_job.setdefault(run.job_id[len(full) + 1 :].split("/", 1)[0], []).append(run)
    jobs = {
        job: {
            "result": aggregate_result(inner),
            "outputs": _outputs_of(f"{full}/{job}", inner, call_outputs, top),
        }
        for job, inner in by_job.items()
    }
    result: dict[str, str] = {}
    for name, template in templates.items():
        try:
            result[name] = interpolate(template, EvalContext(contexts={"jobs": jobs}))
        except ExpressionError:
            result[name] = ""
    return result


def _skipped(instance: JobInstance, status: Status, reason: str) -> JobRun:
    now = time.time()
    return JobRun(
        key=instance.key,
        name=instance.name,
        job_id=instance.job_id,
        status=status,
        conclusion=status,
        reason=reason,
        matrix=dict(instance.matrix),
        started=now,
        finished=now,
    )


@dataclass
class _Group:
    running: int = 0
    cancelled_by: str | None = None
    events: dict[str, threading.Event] = field(default_factory=dict)


class Scheduler:
    """Runs a plan's job instances with ``executor``; returns every instance's result."""

    def __init__(
        self,
        instances: Sequence[JobInstance],
        executor: JobExecutor,
        *,
        max_jobs: int,
        contexts: Mapping[str, Any] | None = None,
        observer: SchedulerObserver | None = None,
        expected: Mapping[str, float] | None = None,
    ) -> None:
        if max_jobs < 1:
            raise AmoskysError(f"-j must be at least 1, got {max_jobs}")
        self.instances = list(instances)
        self.expected = dict(expected or {})  # seconds per instance key, from history
        self.executor = executor
        self.max_jobs = max_jobs
        self.contexts = dict(contexts or {})
        self.observer: SchedulerObserver = observer or _NullObserver()
        self._lock = threading.Condition()
        self._done: dict[str, JobRun] = {}
        self._running = 0
        self._groups: dict[str, _Group] = {}
        self._errors: list[Exception] = []
        self._call_outputs = call_outputs_of(self.instances)

    # -- decisions (called with the lock held) --------------------------------------------

    def _decide(self, inst: JobInstance, cancel: threading.Event) -> JobRun | None:
        """A result for an instance that will not start, or None when it should run."""
        needs = [self._done[k] for k in inst.needs_keys]
        not_run = [r for r in needs if r.status is Status.NOT_RUN]
        if not inst.runnable:
            return _skipped(inst, Status.NOT_RUN, inst.reason)
        if not_run:
            return _skipped(inst, Status.NOT_RUN, f"needs {not_run[0].name}, which was not run")
        group = self._groups.setdefault(inst.group, _Group())
        if group.cancelled_by is not None:
            return _skipped(inst, Status.CANCELLED, f"fail-fast: {group.cancelled_by} failed")
        condition = (inst.job.if_ or "").strip()
        needs_ctx = needs_context(inst, self._done, self._call_outputs)
        failed = any(v["result"] in ("failure", "cancelled") for v in needs_ctx.values())
        explicit = bool(condition) and uses_status_function(_strip_braces(condition))
        if not condition:
            condition = "success()"
        if not explicit and any(v["result"] == "skipped" for v in needs_ctx.values()):
            return _skipped(inst, Status.SKIPPED, "a needed job was skipped")
        ctx = EvalContext(
            contexts={
                **self.contexts,
                "needs": needs_ctx,
                "matrix": dict(inst.matrix),
                "inputs": dict(inst.inputs) or self.contexts.get("inputs", {}),
            },
            status=StatusState(failed=failed, cancelled=cancel.is_set()),
        )
        if not evaluate_condition(condition, ctx):
            why = "cancelled" if cancel.is_set() else f"if: {condition.strip()} was false"
            status = Status.CANCELLED if cancel.is_set() and not explicit else Status.SKIPPED
            return _skipped(inst, status, why)
        return None

    def _has_room(self, inst: JobInstance) -> bool:
        if self._running >= self.max_jobs:
            return False
        group = self._groups.setdefault(inst.group, _Group())
        return inst.max_parallel is None or group.running < inst.max_parallel

    # -- the loop ---------------------------------------------------------------------------

    def run(self, cancel: threading.Event | None = None) -> dict[str, JobRun]:
        """Run everything; return results keyed by instance key, in plan order."""
        cancel = cancel or threading.Event()
        pending = start_order(self.instances, self.expected)
        keys = {i.key for i in pending}
        for inst in pending:
            missing = [k for k in inst.needs_keys if k not in keys]
            if missing:
                raise AmoskysError(f"{inst.name} needs {missing[0]}, which is not in the plan")
        with ThreadPoolExecutor(max_workers=self.max_jobs, thread_name_prefix="job") as pool:
            futures: list[Future[None]] = []
            with self._lock:
                while pending or self._running:
                    progressed = True
                    while progressed:
                        progressed = False
                        for inst in list(pending):
                            if not all(k in self._done for k in inst.needs_keys):
                                continue
                            decided = self._decide(inst, cancel)
                            if decided is not None:
                                pending.remove(inst)
                                self._finish(inst, decided)
                                progressed = True
                                continue
                            if not self._has_room(inst):
                                continue
                            pending.remove(inst)
                            self._start(inst, pool, futures, cancel)
                            progressed = True
                    if pending or self._running:
                        self._lock.wait(timeout=0.5)
        if self._errors:
            raise self._errors[0]  # a bug in an executor: the crash handler reports it
        return {i.key: self._done[i.key] for i in self.instances}

    def _start(
        self,
        inst: JobInstance,
        pool: ThreadPoolExecutor,
        futures: list[Future[None]],
        cancel: threading.Event,
    ) -> None:
        group = self._groups.setdefault(inst.group, _Group())
        group.running += 1
        self._running += 1
        own = threading.Event()
        if cancel.is_set():
            own.set()
        group.events[inst.key] = own
        needs_ctx = needs_context(inst, self._done, self._call_outputs)
        self.observer.job_started(inst)
        futures.append(pool.submit(self._execute, inst, needs_ctx, own, cancel))

    def _execute(
        self,
        inst: JobInstance,
        needs_ctx: Mapping[str, Any],
        own: threading.Event,
        cancel: threading.Event,
    ) -> None:
        stop_watch = threading.Event()

        def forward() -> None:  # the run's cancel reaches this job's own event
            while not stop_watch.wait(0.1):
                if cancel.is_set():
                    own.set()
                    return

        watcher = threading.Thread(target=forward, daemon=True)
        watcher.start()
        try:
            result = self.executor(inst, needs_ctx, own)
        except Exception as exc:  # noqa: BLE001 - a crashed job must not hang the run
            result = _skipped(inst, Status.FAILURE, f"internal error: {type(exc).__name__}: {exc}")
            self._errors.append(exc)
        finally:
            stop_watch.set()
        with self._lock:
            self._running -= 1
            self._groups[inst.group].running -= 1
            self._finish(inst, result)
            self._lock.notify_all()

    def _finish(self, inst: JobInstance, result: JobRun) -> None:
        self._done[inst.key] = result
        group = self._groups.setdefault(inst.group, _Group())
        group.events.pop(inst.key, None)
        if inst.fail_fast and result.conclusion.is_failure and group.cancelled_by is None:
            group.cancelled_by = inst.name
            for event in group.events.values():
                event.set()
        self.observer.job_finished(inst, result)


def _strip_braces(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("${{") and stripped.endswith("}}"):
        return stripped[3:-2]
    return stripped


def run_plan(
    instances: Sequence[JobInstance],
    executor: JobExecutor,
    *,
    max_jobs: int,
    contexts: Mapping[str, Any] | None = None,
    observer: SchedulerObserver | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, JobRun]:
    """Convenience wrapper: schedule ``instances`` and return their results."""
    return Scheduler(
        instances, executor, max_jobs=max_jobs, contexts=contexts, observer=observer
    ).run(cancel)
