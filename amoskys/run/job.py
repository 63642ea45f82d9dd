"""One job instance on this machine: workspace, environment, steps, outputs.

The :class:`LocalJobExecutor` is what the scheduler calls for every runnable instance. Steps
run one after another, each as one process (through :mod:`amoskys.run.process`), with
GitHub's environment files, workflow commands, ``if:`` and status functions,
``continue-on-error`` and timeouts. Built-in actions run as Python code.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, Sequence

from amoskys.collect import CollectWarning
from amoskys.collect.discover import find_probe_reports, find_reports
from amoskys.collect.reports import collect_reports
from amoskys.errors import AmoskysError, ExpressionError
from amoskys.model import CompositeAction, JobRun, Status, Step, StepRun, Workflow
from amoskys.plan import JobInstance
from amoskys.platforms import current_os, runner_arch, runner_os_name
from amoskys.run.commands import (
    Annotation,
    CommandProcessor,
    StepSummaryTooLargeError,
    parse_env_file,
    parse_github_env,
    parse_path_file,
    prepend_paths,
    step_summary_markdown,
)
from amoskys.run.diagnosis import failure_message, network_evidence
from amoskys.run.masking import Masker, mask_file
from amoskys.run.process import kill_process_group, run_process
from amoskys.run.shells import shell_command, write_script
from amoskys.run.transient import (
    RetryConfig,
    configured_indexes,
    delay,
    find_transient,
    retry_note,
)
from amoskys.run.workspace import create_workspace, remove_workspace
from amoskys.store.logs import LogWriter
from amoskys.store.records import Metric, TestCaseResult
from amoskys.workflow.expressions import (
    EvalContext,
    StatusState,
    evaluate_condition,
    evaluate_value,
    interpolate,
    to_display_string,
)

if TYPE_CHECKING:
    from amoskys.select.in_run import JobSelection, RunSelection

MINUTE = 60.0


class RunReporter(Protocol):
    """Where the live view (or plain log lines) learn what happens inside jobs."""

    def step_started(
        self, inst: JobInstance, index: int, name: str, log_path: Path | None = None
    ) -> None: ...

    def step_line(self, inst: JobInstance, name: str, text: str) -> None: ...

    def step_log_size(self, inst: JobInstance, index: int, lines: int, size: int) -> None: ...

    def step_finished(self, inst: JobInstance, step: StepRun) -> None: ...

    def annotation(self, inst: JobInstance, note: Annotation) -> None: ...

    def job_collected(
        self,
        inst: JobInstance,
        tests: Sequence[TestCaseResult],
        metrics: Sequence[Metric],
        warnings: Sequence[CollectWarning],
    ) -> None: ...

    def job_findings(self, inst: JobInstance, findings: Sequence[Mapping[str, Any]]) -> None: ...


@dataclass(frozen=True)
class RunSettings:
    """What every job of one run shares."""

    root: Path
    run_id: str
    run_dir: Path
    workspace_files: tuple[str, ...]
    base_env: Mapping[str, str]
    github: Mapping[str, Any]
    event_path: Path
    workflows: Mapping[str, Workflow]
    secrets: Mapping[str, str] = field(default_factory=dict)
    vars: Mapping[str, str] = field(default_factory=dict)
    extra_env: Mapping[str, str] = field(default_factory=dict)
    skip_unsupported: bool = False
    keep: bool = False
    probe_dir: Path | None = None  # holds amoskys_pytest_probe.py; None: pytest is left alone
    probe_env: Mapping[str, str] = field(default_factory=dict)  # re-runs, quarantine list
    retry: RetryConfig = RetryConfig()  # [tool.amoskys.retry]: transient step failures
    selection: RunSelection | None = None  # [tool.amoskys.select] enabled: pytest selects
    coverage_keys: frozenset[str] | None = None
    """The instances whose pytest the probe measures coverage in; None: every instance."""

    @property
    def workspaces_dir(self) -> Path:
        return self.root / ".amoskys" / "workspaces" / self.run_id

    def results_file(self, inst: JobInstance) -> Path:
        """Where ``amoskys lint``/``security-scan``/``test`` in a step append their results."""
        return self.run_dir / "results" / f"{slug(inst.name)}.jsonl"

    def reports_dir(self, inst: JobInstance) -> Path:
        """Where the pytest probe of ``inst``'s steps writes JUnit XML and coverage."""
        return self.run_dir / "reports" / slug(inst.name)

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"


def slug(text: str) -> str:
    """A file-name-safe form of a job or step name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return cleaned[:80] or "x"


@dataclass
class JobState:
    """What changes while a job runs."""

    inst: JobInstance
    workspace: Path
    temp: Path
    tool_cache: Path
    env: dict[str, str] = field(default_factory=dict)  # from $GITHUB_ENV
    path: list[str] = field(default_factory=list)  # from $GITHUB_PATH, first wins
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: bool = False
    cancelled: bool = False
    posts: list[Callable[[], None]] = field(default_factory=list)
    post_log: Callable[[str], None] = lambda text: None  # set before post steps run
    process_groups: list[int] = field(default_factory=list)  # killed when the job ends
    executed: int = 0  # steps seen so far, composite actions' inner steps included
    command_files: dict[str, Path] = field(default_factory=dict)  # GITHUB_ENV etc., per job
    # PATH of a step -> the test selection its ``python`` got (None: no selection there)
    selections: dict[str, JobSelection | None] = field(default_factory=dict)

    def next_index(self) -> int:
        """A 1-based number for each step the job meets, unique within the job."""
        self.executed += 1
        return self.executed


@dataclass
class StepContext:
    """What a built-in action sees and may change (its ``with:`` inputs are evaluated)."""

    job: JobState
    settings: RunSettings
    inputs: dict[str, str]
    env: dict[str, str]
    log: Callable[[str], None]
    outputs: dict[str, str] = field(default_factory=dict)
    masker: Masker | None = None

    def add_path(self, directory: str) -> None:
        self.job.path.insert(0, directory)

    def set_env(self, name: str, value: str) -> None:
        self.job.env[name] = value

    def input(self, name: str, default: str = "") -> str:
        value = self.inputs.get(name)
        return default if value is None else value


class ActionFailed(Exception):
    """A built-in action's step failed; the message goes to the step's log."""


def _number(value: Any, what: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AmoskysError(f"{what} must be a number, got {value!r}") from None


def read_results(path: Path) -> tuple[list[dict[str, Any]], list[Metric]]:
    """Findings and metrics that check commands appended to ``$AMOSKYS_RESULTS``."""
    findings: list[dict[str, Any]] = []
    metrics: list[Metric] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return findings, metrics
    for line in lines:
        try:
            item = json.loads(line)
        except ValueError:
            continue  # a torn last line of a killed step
        if not isinstance(item, dict):
            continue
        if item.get("type") == "finding":
            findings.append(item)
        elif item.get("type") == "metric" and isinstance(item.get("value"), (int, float)):
            metrics.append(
                Metric(str(item.get("name")), float(item["value"]), str(item.get("unit", "")))
            )
        elif item.get("type") == "gate":
            name = f"gate.{item.get('command')}.{item.get('name')}"
            metrics.append(Metric(name, 1.0 if item.get("passed") else 0.0, "pass"))
    return findings, metrics


def continue_on_error(raw: bool | str, contexts: Mapping[str, Any]) -> bool:
    """``continue-on-error`` of a job or step: a boolean or an expression that gives one."""
    if isinstance(raw, bool):
        return raw
    try:
        value = evaluate_value(str(raw), EvalContext(contexts))
    except ExpressionError:
        return False
    return value is True or str(value).lower() == "true"


class LocalJobExecutor:
    """Runs job instances on this machine."""

    def __init__(self, settings: RunSettings, reporter: RunReporter, masker: Masker) -> None:
        self.settings = settings
        self.reporter = reporter
        self.masker = masker
        for value in settings.secrets.values():
            masker.add(value)

    # -- contexts -----------------------------------------------------------------------------

    def _contexts(
        self,
        state: JobState,
        needs: Mapping[str, Any],
        env: Mapping[str, str],
        *,
        inputs: Mapping[str, Any] | None = None,
        steps: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        inst = state.inst
        github = dict(self.settings.github)
        github.update(
            workspace=str(state.workspace),
            job=inst.job_id.rsplit("/", 1)[-1],
            workflow=(
                self.settings.workflows[inst.workflow].display_name
                if inst.workflow in self.settings.workflows
                else inst.workflow
            ),
            run_id=self.settings.run_id,
        )
        return {
            "github": github,
            "env": dict(env),
            "vars": dict(self.settings.vars),
            "job": {"status": "failure" if state.failed else "success", "services": {}},
            "steps": dict(state.steps if steps is None else steps),
            "runner": {
                "os": runner_os_name(current_os()),
                "arch": runner_arch(),
                "name": "amoskys-local",
                "temp": str(state.temp),
                "tool_cache": str(state.tool_cache),
                "environment": "self-hosted",
                "debug": "",
            },
            "secrets": self._secrets(inst),
            "strategy": {
                "fail-fast": inst.fail_fast,
                "job-index": inst.strategy_index,
                "job-total": inst.strategy_total,
                "max-parallel": inst.max_parallel or inst.strategy_total,
            },
            "matrix": dict(inst.matrix),
            "needs": dict(needs),
            "inputs": dict(inst.inputs if inputs is None else inputs),
        }

    def _secrets(self, inst: JobInstance) -> dict[str, str]:
        """The secrets a job sees: all of the run's at top level; in a called workflow only
        what each call passed (``secrets: inherit`` or by name), and GITHUB_TOKEN."""
        secrets = dict(self.settings.secrets)
        for passed in inst.secret_calls:
            if passed == "inherit":
                continue
            given: dict[str, str] = {}
            if isinstance(passed, Mapping):
                context = EvalContext(contexts={"secrets": secrets, "vars": self.settings.vars})
                for name, template in passed.items():
                    try:
                        value = evaluate_value(str(template), context)
                    except ExpressionError:
                        value = ""
                    given[name] = to_display_string(value)
            if "GITHUB_TOKEN" in secrets:
                given.setdefault("GITHUB_TOKEN", secrets["GITHUB_TOKEN"])
            secrets = given
        return secrets

    def _status(self, state: JobState, cancel: threading.Event) -> StatusState:
        return StatusState(failed=state.failed, cancelled=cancel.is_set())

    def _eval_env(
        self, values: Mapping[str, Any], contexts: dict[str, Any], into: dict[str, str]
    ) -> None:
        """Evaluate an ``env:`` block into ``into``; each value sees the ones before it."""
        for name, raw in values.items():
            contexts["env"] = dict(into)
            value = (
                evaluate_value(str(raw), EvalContext(contexts=contexts))
                if isinstance(raw, str)
                else raw
            )
            into[name] = to_display_string(value)

    # -- the job ------------------------------------------------------------------------------

    def __call__(
        self, inst: JobInstance, needs: Mapping[str, Any], cancel: threading.Event
    ) -> JobRun:
        started = time.time()
        name_slug = slug(inst.name)
        workspace = self.settings.workspaces_dir / name_slug
        temp = self.settings.run_dir / "tmp" / name_slug
        state = JobState(inst=inst, workspace=workspace, temp=temp, tool_cache=temp / "_tool")
        steps: list[StepRun] = []
        status = Status.SUCCESS
        reason = ""
        try:
            create_workspace(self.settings.root, workspace, self.settings.workspace_files)
            temp.mkdir(parents=True, exist_ok=True)
            state.tool_cache.mkdir(parents=True, exist_ok=True)
            status, reason = self._run_steps(state, needs, cancel, steps)
            self._collect(state)
        except AmoskysError as err:
            status, reason = Status.FAILURE, self.masker.mask(str(err))
            self.reporter.step_line(inst, "set up job", self.masker.mask(reason))
        finally:
            for pgid in state.process_groups:  # orphans a step left behind, as GitHub cleans up
                kill_process_group(pgid, getattr(signal, "SIGKILL", signal.SIGTERM))
            if not self.settings.keep:
                remove_workspace(workspace)
                remove_workspace(temp)  # RUNNER_TEMP is emptied at the end of a job
        outputs, output_error = self._job_outputs(state, needs)
        if output_error and not status.is_failure:
            status, reason = Status.FAILURE, output_error
            self.reporter.step_line(inst, "complete job", output_error)
        conclusion = status
        if status.is_failure and continue_on_error(
            inst.job.continue_on_error, self._contexts(state, needs, {})
        ):
            conclusion = Status.SUCCESS
        return JobRun(
            key=inst.key,
            name=inst.name,
            job_id=inst.job_id,
            status=status,
            conclusion=conclusion,
            reason=reason,
            matrix=dict(inst.matrix),
            outputs=outputs,
            steps=tuple(steps),
            started=started,
            finished=time.time(),
            runner="local",
        )

    def _collect(self, state: JobState) -> None:
        """Test results and coverage from the probe's reports and the job's workspace."""
        reports, warnings = find_probe_reports(self.settings.reports_dir(state.inst))
        seen = {path.resolve() for path in reports}
        for path in find_reports(state.workspace):
            if path.resolve() not in seen:
                reports.append(path)
        tests, metrics, more = collect_reports(reports, root=state.workspace, mask=self.masker.mask)
        for path in reports:  # the probe's reports stay under .amoskys/: no secret in them
            if path.resolve().is_relative_to(self.settings.run_dir.resolve()):
                mask_file(path, self.masker)
        warnings.extend(more)
        findings, extra = read_results(self.settings.results_file(state.inst))
        chosen = self._finish_selection(state)
        if any(m.name == "select.partial" for m in chosen):
            # the user's own pytest-cov report (coverage.xml) measured a subset of the tests
            metrics = [m for m in metrics if not m.name.startswith("coverage.")]
        extra.extend(chosen)
        self.reporter.job_collected(state.inst, tests, [*metrics, *extra], warnings)
        if findings:
            self.reporter.job_findings(state.inst, findings)

    def _select(
        self, state: JobState, process_env: dict[str, str], log: Callable[[str], None]
    ) -> None:
        """Give the step's pytest processes the job's test selection (decided once per
        job and ``python``, at its first ``run:`` step with that PATH)."""
        selection = self.settings.selection
        if selection is None or self.settings.probe_dir is None:
            return
        path = process_env.get("PATH", "")
        if path not in state.selections:
            from amoskys.select.in_run import selection_folder

            number = len(state.selections)
            folder = selection_folder(self.settings.run_dir, slug(state.inst.name), number)
            try:
                state.selections[path] = selection.decide(
                    folder, process_env, log, workspace=state.workspace
                )
            except AmoskysError as err:
                log(f"amoskys: no test selection: {err}")
                state.selections[path] = None
        chosen = state.selections[path]
        if chosen is None:
            return
        process_env.update(chosen.environment())
        addopts = process_env.get("PYTEST_ADDOPTS", "")
        process_env["PYTEST_ADDOPTS"] = f"{addopts} -p amoskys_select_plugin".strip()
        if not chosen.plan.full:
            process_env.pop("AMOSKYS_COVERAGE", None)  # a subset's coverage means nothing

    def _finish_selection(self, state: JobState) -> list[Metric]:
        """Store the maps the job's full pytest runs recorded; mark a selection's results."""
        selection = self.settings.selection
        metrics: list[Metric] = []
        if selection is None:
            return metrics
        for chosen in state.selections.values():
            if chosen is None:
                continue
            try:
                more, line = selection.finish(
                    state.inst.name, chosen, state.workspace, ok=not state.cancelled
                )
            except (AmoskysError, OSError) as err:  # the job's own result stands
                text = err.message if isinstance(err, AmoskysError) else str(err)
                line = f"amoskys: warning: test map not stored: {text}"
                self.reporter.step_line(state.inst, "test selection", self.masker.mask(line))
                continue
            metrics.extend(more)
            if line:
                self.reporter.step_line(state.inst, "test selection", line)
                self._summary_note(state, f"**Test selection:** {line.removeprefix('amoskys: ')}")
        return metrics

    def _summary_note(self, state: JobState, text: str) -> None:
        """Append ``text`` to the job's summary; a file that cannot be written costs a warning,
        never the job's result."""
        target = self.settings.run_dir / "summaries" / f"{slug(state.inst.name)}.md"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("a", encoding="utf-8") as handle:
                handle.write(f"\n{text}\n")
        except OSError as err:
            warning = f"amoskys: warning: job summary not written: {err}"
            self.reporter.step_line(state.inst, "test selection", warning)

    def _job_outputs(self, state: JobState, needs: Mapping[str, Any]) -> tuple[dict[str, str], str]:
        """The job's outputs and why they could not be evaluated ("" when they could).

        As GitHub's runner does when a job completes, whatever its result: an output that holds
        a secret is skipped (not passed on masked), and one that does not evaluate fails the
        job.
        """
        contexts = self._contexts(state, needs, state.env)
        result: dict[str, str] = {}
        for name, template in state.inst.job.outputs.items():
            try:
                value = interpolate(template, EvalContext(contexts))
            except ExpressionError as err:
                return {}, self.masker.mask(f"job output '{name}' cannot be evaluated: {err}")
            if value and self.masker.mask(value) != value:
                note = f"warning: output '{name}' is skipped: it may contain a secret"
                self.reporter.step_line(state.inst, "complete job", note)
            elif value:
                result[name] = value
        return result, ""

    def _base_env(self, state: JobState, needs: Mapping[str, Any]) -> dict[str, str]:
        """Workflow env < job env, evaluated."""
        inst = state.inst
        env: dict[str, str] = dict(self.settings.extra_env)
        workflow = self.settings.workflows.get(inst.workflow)
        contexts = self._contexts(state, needs, env)
        if workflow is not None:
            self._eval_env(workflow.env, contexts, env)
        self._eval_env(inst.job.env, contexts, env)
        return env

    def _run_steps(
        self,
        state: JobState,
        needs: Mapping[str, Any],
        cancel: threading.Event,
        out: list[StepRun],
    ) -> tuple[Status, str]:
        inst = state.inst
        job = inst.job
        contexts = self._contexts(state, needs, {})
        timeout = _number(
            (
                evaluate_value(str(job.timeout_minutes), EvalContext(contexts))
                if isinstance(job.timeout_minutes, str)
                else job.timeout_minutes
            ),
            "timeout-minutes",
        )
        deadline = time.monotonic() + (timeout if timeout is not None else 360) * MINUTE
        job_env = self._base_env(state, needs)
        timed_out = False
        for step in job.steps:
            if time.monotonic() >= deadline:
                timed_out = True
            result = self._run_step(state, step, needs, job_env, cancel, deadline)
            out.append(result)
            if result.outcome is Status.TIMED_OUT and time.monotonic() >= deadline:
                timed_out = True
        state.cancelled = cancel.is_set()  # post steps (caches) save nothing for a cancelled job
        state.post_log = lambda text: self.reporter.step_line(inst, "post", self.masker.mask(text))
        for post in reversed(state.posts):
            try:
                post()
            except (AmoskysError, ActionFailed, OSError) as err:
                self.reporter.step_line(inst, "post", self.masker.mask(f"post step failed: {err}"))
        if timed_out:
            minutes = timeout if timeout is not None else 360
            return Status.TIMED_OUT, f"the job exceeded its timeout of {minutes:g} minutes"
        if cancel.is_set():
            return Status.CANCELLED, "cancelled"
        if state.failed:
            failed = [s for s in out if s.conclusion.is_failure]
            if not failed:
                return Status.FAILURE, "failed"
            reason = f"step '{failed[0].name}' failed"
            if network_evidence([failed[0].message]) is not None:
                reason += ": it could not reach the network service it needs (offline?)"
            after = out[out.index(failed[0]) + 1 :]
            skipped = [s.name for s in after if s.outcome is Status.SKIPPED]
            if skipped:
                reason += "; not run after it: " + ", ".join(skipped)
            return Status.FAILURE, reason
        return Status.SUCCESS, ""

    # -- one step -----------------------------------------------------------------------------

    def _run_step(
        self,
        state: JobState,
        step: Step,
        needs: Mapping[str, Any],
        job_env: Mapping[str, str],
        cancel: threading.Event,
        deadline: float,
        *,
        inputs: Mapping[str, Any] | None = None,
        steps_ctx: dict[str, dict[str, Any]] | None = None,
        action_dir: Path | None = None,
    ) -> StepRun:
        inst = state.inst
        index = state.next_index()
        scope_steps = state.steps if steps_ctx is None else steps_ctx
        env: dict[str, str] = {**job_env, **state.env}
        contexts = self._contexts(state, needs, env, inputs=inputs, steps=scope_steps)
        name = step.display_name
        if step.name is not None:  # shown, logged and stored: GitHub masks it too
            try:
                name = self.masker.mask(interpolate(step.name, EvalContext(contexts)))
            except ExpressionError:
                pass  # GitHub's runner keeps the default name; the step is not failed for it
        try:
            condition = step.if_ if step.if_ is not None and step.if_.strip() else "success()"
            status = StatusState(failed=state.failed, cancelled=cancel.is_set())
            run_it = evaluate_condition(condition, EvalContext(contexts, status=status))
            if time.monotonic() >= deadline and run_it:
                run_it = False
        except ExpressionError as err:
            # GitHub's runner fails such a step outright: continue-on-error is applied only
            # to a step that ran
            return self._finish_step(
                state,
                step,
                index,
                name,
                Status.FAILURE,
                None,
                time.time(),
                self.masker.mask(str(err)),
                scope_steps,
                may_continue=False,
            )
        if not run_it:
            return self._finish_step(
                state, step, index, name, Status.SKIPPED, None, time.time(), "", scope_steps
            )
        started = time.time()
        log_path = self.settings.logs_dir / slug(inst.name) / f"{index:02d}-{slug(name)}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.reporter.step_started(inst, index, name, log_path)
        with LogWriter(log_path, sync_on_close=False) as writer:

            def log(text: str) -> None:
                masked = self.masker.mask(text)
                writer.write_line(masked)
                self.reporter.step_line(inst, name, masked)

            try:
                outcome, exit_code, message, outputs = self._execute_with_retry(
                    state, step, contexts, env, cancel, deadline, log, action_dir, name
                )
            except (AmoskysError, ExpressionError) as err:
                outcome, exit_code, message, outputs = Status.FAILURE, None, str(err), {}
            if message:
                log(message)
        self.reporter.step_log_size(inst, index, writer.line_count, writer.byte_count)
        return self._finish_step(
            state,
            step,
            index,
            name,
            outcome,
            exit_code,
            started,
            message,
            scope_steps,
            outputs=outputs,
            contexts=contexts,
        )

    def _finish_step(
        self,
        state: JobState,
        step: Step,
        index: int,
        name: str,
        outcome: Status,
        exit_code: int | None,
        started: float,
        message: str,
        scope_steps: dict[str, dict[str, Any]],
        *,
        outputs: Mapping[str, str] | None = None,
        contexts: dict[str, Any] | None = None,
        may_continue: bool = True,
    ) -> StepRun:
        conclusion = outcome
        if (
            may_continue
            and outcome.is_failure
            and continue_on_error(step.continue_on_error, contexts or {})
        ):
            conclusion = Status.SUCCESS
        if conclusion.is_failure:
            state.failed = True
        if step.id is not None:
            scope_steps[step.id] = {
                "outputs": dict(outputs or {}),
                "outcome": outcome.as_result,
                "conclusion": conclusion.as_result,
            }
        result = StepRun(
            index=index,
            name=name,
            id=step.id,
            outcome=outcome,
            conclusion=conclusion,
            exit_code=exit_code,
            started=started,
            finished=time.time(),
            outputs=dict(outputs or {}),
            message=message,
        )
        self.reporter.step_finished(state.inst, result)
        return result

    def _execute_with_retry(
        self,
        state: JobState,
        step: Step,
        contexts: dict[str, Any],
        env: dict[str, str],
        cancel: threading.Event,
        deadline: float,
        log: Callable[[str], None],
        action_dir: Path | None,
        name: str,
    ) -> tuple[Status, int | None, str, dict[str, str]]:
        """:meth:`_execute_step`, again after a backoff while a ``run:`` step fails with a
        transient network error in its log (:mod:`amoskys.run.transient`); nothing else is
        retried."""
        config = self.settings.retry
        seen: deque[str] = deque(maxlen=400)

        def logged(text: str) -> None:
            seen.append(text)
            log(text)

        attempt = 1
        while True:
            seen.clear()
            result = self._execute_step(
                state, step, contexts, env, cancel, deadline, logged, action_dir
            )
            if result[0] is not Status.FAILURE or step.run is None or attempt > config.attempts:
                return result
            why = find_transient(list(seen), indexes=configured_indexes(env))
            wait = delay(attempt, config)
            if why is None or cancel.is_set() or time.monotonic() + wait >= deadline:
                return result
            attempt += 1
            log(result[2])
            log(retry_note(name, attempt, config, why))
            if cancel.wait(wait):
                return result

    def _execute_step(
        self,
        state: JobState,
        step: Step,
        contexts: dict[str, Any],
        env: dict[str, str],
        cancel: threading.Event,
        deadline: float,
        log: Callable[[str], None],
        action_dir: Path | None,
    ) -> tuple[Status, int | None, str, dict[str, str]]:
        """Run one step; (outcome, exit code, message for the log, outputs)."""
        ctx = EvalContext(contexts)
        self._eval_env(step.env, contexts, env)
        contexts["env"] = dict(env)
        timeout = deadline - time.monotonic()
        if step.timeout_minutes is not None:
            raw = step.timeout_minutes
            minutes = _number(
                evaluate_value(raw, ctx) if isinstance(raw, str) else raw, "timeout-minutes"
            )
            if minutes is not None:
                timeout = min(timeout, minutes * MINUTE)
        if step.uses is not None:
            return self._execute_uses(state, step, contexts, env, cancel, deadline, log, timeout)
        assert step.run is not None  # the parser guarantees run or uses  # nosec B101
        script_text = interpolate(step.run, ctx)
        workflow = self.settings.workflows.get(state.inst.workflow)
        shell = step.shell or state.inst.job.defaults.shell
        if shell is None and workflow is not None:
            shell = workflow.defaults.shell
        workdir = step.working_directory or state.inst.job.defaults.working_directory
        if workdir is None and workflow is not None:
            workdir = workflow.defaults.working_directory
        cwd = state.workspace
        if workdir:
            cwd = state.workspace / interpolate(workdir, ctx)
        if action_dir is not None and workdir is None:
            cwd = state.workspace
        files = self._file_commands(state)
        process_env = self._process_env(state, env, files)
        self._select(state, process_env, log)
        if not cwd.is_dir():
            return Status.FAILURE, None, f"working-directory {cwd} does not exist", {}
        script = write_script(script_text, shell, state.temp)
        try:
            return self._run_script(
                state, script, shell, cwd, process_env, files, cancel, timeout, log
            )
        finally:
            script.unlink(missing_ok=True)  # it may hold interpolated secrets

    def _run_script(
        self,
        state: JobState,
        script: Path,
        shell: str | None,
        cwd: Path,
        process_env: dict[str, str],
        files: dict[str, Path],
        cancel: threading.Event,
        timeout: float,
        log: Callable[[str], None],
    ) -> tuple[Status, int | None, str, dict[str, str]]:
        """Run a written ``run:`` script to its end; apply its file commands."""
        argv = shell_command(shell, script, platform=sys.platform, env_path=process_env["PATH"])
        processor = CommandProcessor()
        recent: deque[str] = deque(maxlen=400)

        def on_line(line: str) -> None:
            recent.append(line)
            outcome = processor.feed(line)
            if outcome.mask:
                self.masker.add(outcome.mask)
            if outcome.annotation is not None:
                self.reporter.annotation(state.inst, outcome.annotation)
            if outcome.error:
                log(outcome.error)
            if outcome.display is not None:
                log(outcome.display)

        # A step that starts after the run was cancelled (``if: always()``) runs to its end.
        result = run_process(
            argv,
            cwd=cwd,
            env=process_env,
            timeout=max(0.0, timeout),
            on_line=on_line,
            masker=self.masker,
            cancel=None if cancel.is_set() else cancel,
        )
        state.process_groups.append(result.pid)
        outputs = self._apply_file_commands(state, files)
        if result.timed_out:
            return Status.TIMED_OUT, None, "the step timed out; its processes were killed", outputs
        if result.cancelled:
            return Status.CANCELLED, None, "the step was cancelled", outputs
        if result.exit_code != 0:
            return (
                Status.FAILURE,
                result.exit_code,
                failure_message(result.exit_code, recent),
                outputs,
            )
        return Status.SUCCESS, 0, "", outputs

    def _file_commands(self, state: JobState) -> dict[str, Path]:
        """The job's GITHUB_ENV/OUTPUT/PATH/STATE/STEP_SUMMARY files, empty for the next step.

        They are created once per job; :meth:`_apply_file_commands` empties the ones a step
        wrote, so each step starts with empty files, as on GitHub, without five new files a
        step.
        """
        if state.command_files:
            return state.command_files
        folder = state.temp / "_runner_file_commands"
        folder.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.monotonic_ns()}"
        files = {
            name: folder / f"{name.lower()}_{stamp}"
            for name in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STATE")
        }
        files["GITHUB_STEP_SUMMARY"] = folder / f"step_summary_{stamp}"
        for path in files.values():
            path.write_bytes(b"")
        state.command_files = files
        return files

    def _apply_file_commands(self, state: JobState, files: Mapping[str, Path]) -> dict[str, str]:
        """Apply what the step wrote to its files, then empty them for the next step.

        An empty file (the usual case) is only ``stat``-ed, never opened.
        """
        written = {name for name, path in files.items() if _size(path) != 0}
        try:
            return self._read_file_commands(state, files, written)
        finally:
            for name in written:
                files[name].write_bytes(b"")  # also recreates one the step deleted

    def _read_file_commands(
        self, state: JobState, files: Mapping[str, Path], written: set[str]
    ) -> dict[str, str]:
        if "GITHUB_ENV" in written:
            values, notes = parse_github_env(files["GITHUB_ENV"])
            state.env.update(values)
            for note in notes:
                self.reporter.annotation(state.inst, note)
        if "GITHUB_PATH" in written:
            state.path = prepend_paths(state.path, parse_path_file(files["GITHUB_PATH"]))
        outputs = parse_env_file(files["GITHUB_OUTPUT"]) if "GITHUB_OUTPUT" in written else {}
        if "GITHUB_STEP_SUMMARY" not in written:
            return outputs
        try:
            summary = step_summary_markdown(files["GITHUB_STEP_SUMMARY"])
        except StepSummaryTooLargeError as err:
            self.reporter.annotation(state.inst, err.annotation)
            summary = ""
        if summary:
            target = self.settings.run_dir / "summaries" / f"{slug(state.inst.name)}.md"
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("a", encoding="utf-8") as handle:
                handle.write(self.masker.mask(summary))
        return outputs

    def _process_env(
        self, state: JobState, env: Mapping[str, str], files: Mapping[str, Path]
    ) -> dict[str, str]:
        """Clean base < GitHub's variables < workflow/job/GITHUB_ENV/step env; PATH additions."""
        github = self.settings.github
        inst = state.inst
        process_env = dict(self.settings.base_env)
        process_env.update(
            {
                "CI": "true",
                "GITHUB_ACTIONS": "true",
                "AMOSKYS_RUN_ID": self.settings.run_id,
                "GITHUB_WORKSPACE": str(state.workspace),
                "GITHUB_SHA": str(github.get("sha", "")),
                "GITHUB_REF": str(github.get("ref", "")),
                "GITHUB_REF_NAME": str(github.get("ref_name", "")),
                "GITHUB_REF_TYPE": str(github.get("ref_type", "")),
                "GITHUB_BASE_REF": str(github.get("base_ref", "")),
                "GITHUB_HEAD_REF": str(github.get("head_ref", "")),
                "GITHUB_EVENT_NAME": str(github.get("event_name", "")),
                "GITHUB_EVENT_PATH": str(self.settings.event_path),
                "GITHUB_REPOSITORY": str(github.get("repository", "")),
                "GITHUB_REPOSITORY_OWNER": str(github.get("repository_owner", "")),
                "GITHUB_ACTOR": str(github.get("actor", "")),
                "GITHUB_TRIGGERING_ACTOR": str(github.get("actor", "")),
                "GITHUB_RUN_ID": self.settings.run_id,
                "GITHUB_RUN_NUMBER": "1",
                "GITHUB_RUN_ATTEMPT": "1",
                "GITHUB_JOB": inst.job_id.rsplit("/", 1)[-1],
                "GITHUB_WORKFLOW": inst.workflow,
                "GITHUB_SERVER_URL": str(github.get("server_url", "")),
                "GITHUB_API_URL": str(github.get("api_url", "")),
                "GITHUB_GRAPHQL_URL": str(github.get("graphql_url", "")),
                "RUNNER_OS": runner_os_name(current_os()),
                "RUNNER_ARCH": runner_arch(),
                "RUNNER_NAME": "amoskys-local",
                "RUNNER_TEMP": str(state.temp),
                "RUNNER_TOOL_CACHE": str(state.tool_cache),
                "RUNNER_ENVIRONMENT": "self-hosted",
            }
        )
        process_env.update({name: str(path) for name, path in files.items()})
        process_env["AMOSKYS_RESULTS"] = str(self.settings.results_file(inst))
        process_env.update(env)
        probe = self.settings.probe_dir
        if probe is not None:
            sep = ";" if sys.platform.startswith("win") else ":"
            paths = [p for p in (process_env.get("PYTHONPATH", ""), str(probe)) if p]
            process_env["PYTHONPATH"] = sep.join(paths)
            addopts = process_env.get("PYTEST_ADDOPTS", "")
            process_env["PYTEST_ADDOPTS"] = f"{addopts} -p amoskys_pytest_probe".strip()
            process_env["AMOSKYS_REPORT_DIR"] = str(self.settings.reports_dir(inst))
            keys = self.settings.coverage_keys
            if keys is None or state.inst.key in keys:
                process_env["AMOSKYS_COVERAGE"] = "1"
            for key, value in self.settings.probe_env.items():
                process_env.setdefault(key, value)  # a step's own env wins
        if state.path:
            base_path = process_env.get("PATH", "")
            sep = ";" if sys.platform.startswith("win") else ":"
            process_env["PATH"] = (
                sep.join([*state.path, base_path]) if base_path else sep.join(state.path)
            )
        return process_env

    # -- uses: ---------------------------------------------------------------------------------

    def _execute_uses(
        self,
        state: JobState,
        step: Step,
        contexts: dict[str, Any],
        env: dict[str, str],
        cancel: threading.Event,
        deadline: float,
        log: Callable[[str], None],
        timeout: float,
    ) -> tuple[Status, int | None, str, dict[str, str]]:
        from amoskys.run.actions import builtin_action, is_remote

        assert step.uses is not None  # nosec B101
        uses = step.uses
        ctx = EvalContext(contexts)
        inputs = {k: to_display_string(evaluate_value(str(v), ctx)) for k, v in step.with_.items()}
        if uses.startswith("./"):
            return self._composite(state, step, inputs, env, cancel, deadline, log)
        action = builtin_action(uses)
        if action is None:
            if is_remote(uses) and self.settings.skip_unsupported:
                return Status.SKIPPED, None, f"skipped: {uses} is not available offline", {}
            return (
                Status.FAILURE,
                None,
                f"the action {uses} is not available offline: Amoskys runs actions/checkout, "
                "actions/setup-python, actions/cache, actions/upload-artifact, "
                "actions/download-artifact and codecov/codecov-action natively, plus local "
                "composite actions; use --skip-unsupported to skip this step",
                {},
            )
        step_ctx = StepContext(
            job=state, settings=self.settings, inputs=inputs, env=env, log=log, masker=self.masker
        )
        try:
            action(step_ctx)
        except ActionFailed as err:
            return Status.FAILURE, None, str(err), dict(step_ctx.outputs)
        return Status.SUCCESS, None, "", dict(step_ctx.outputs)

    def _composite(
        self,
        state: JobState,
        step: Step,
        inputs: Mapping[str, str],
        env: dict[str, str],
        cancel: threading.Event,
        deadline: float,
        log: Callable[[str], None],
    ) -> tuple[Status, int | None, str, dict[str, str]]:
        from amoskys.workflow.parse import load_local_action

        assert step.uses is not None  # nosec B101
        action: CompositeAction = load_local_action(self.settings.root, step.uses, step.location)
        given: dict[str, Any] = {}
        for spec in action.inputs:
            if spec.name in inputs:
                given[spec.name] = inputs[spec.name]
            elif spec.default is not None:
                given[spec.name] = spec.default
            elif spec.required:
                return Status.FAILURE, None, f"input '{spec.name}' is required by {step.uses}", {}
            else:
                given[spec.name] = ""
        inner_steps: dict[str, dict[str, Any]] = {}
        inner_failed = False
        saved_failed = state.failed
        state.failed = False
        try:
            for inner in action.steps:
                result = self._run_step(
                    state,
                    inner,
                    {},
                    env,
                    cancel,
                    deadline,
                    inputs=given,
                    steps_ctx=inner_steps,
                    action_dir=self.settings.root / step.uses,
                )
                inner_failed = inner_failed or result.conclusion.is_failure
        finally:
            state.failed = saved_failed
        contexts = self._contexts(state, {}, env, inputs=given, steps=inner_steps)
        outputs: dict[str, str] = {}
        for name, template in action.outputs.items():
            try:
                outputs[name] = interpolate(str(template), EvalContext(contexts))
            except ExpressionError:
                outputs[name] = ""
        if inner_failed:
            return Status.FAILURE, None, f"a step of {step.uses} failed", outputs
        return Status.SUCCESS, None, "", outputs


def _size(path: Path) -> int:
    """The file's size; -1 if it is missing (a step deleted it)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


def instances_by_key(instances: Sequence[JobInstance]) -> dict[str, JobInstance]:
    return {i.key: i for i in instances}
