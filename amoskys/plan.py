"""Planning: which job instances run for an event, with what matrix, in what order.

Pure functions over the model. The planner expands matrices as GitHub documents, expands
local reusable workflows into their jobs, evaluates ``runs-on`` against this machine, and
orders the instances so that every instance comes after what it needs. It does not evaluate
``if:`` conditions: those depend on results known only while running.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from amoskys.contexts import RepoFacts, github_context
from amoskys.errors import AmoskysError, ExpressionError, Location, Problem, WorkflowError
from amoskys.model import Job, Matrix, Workflow
from amoskys.platforms import LocalRunner
from amoskys.workflow.events import Event, TriggerDecision, resolve_inputs, trigger_decision
from amoskys.workflow.expressions import EvalContext, evaluate_value

#: Loads a local reusable workflow named by ``uses`` (the parser's ``load_reusable``).
ReusableLoader = Callable[[str, Location], Workflow]

Combination = dict[str, Any]


# --------------------------------------------------------------------------- matrices


MAX_MATRIX_JOBS = 256  # "A matrix will generate a maximum of 256 jobs per workflow run"


def _value_matches(value: Any, wanted: Any) -> bool:
    """A filter value matches key by key inside objects, as GitHub's matrix builder does."""
    if isinstance(wanted, dict) and isinstance(value, dict):
        return all(k in value and _value_matches(value[k], v) for k, v in wanted.items())
    return json.dumps(value, sort_keys=True) == json.dumps(wanted, sort_keys=True)


def _matches(combo: Mapping[str, Any], entry: Mapping[str, Any], keys: Iterable[str]) -> bool:
    return all(k in combo and _value_matches(combo[k], entry[k]) for k in keys)


def expand_matrix(
    axes: Sequence[tuple[str, Sequence[Any]]],
    include: Sequence[Mapping[str, Any]] = (),
    exclude: Sequence[Mapping[str, Any]] = (),
) -> list[Combination]:
    """Expand a matrix exactly as GitHub documents it.

    1. The cartesian product of the axes, in the order the keys were written.
    2. ``exclude`` entries remove every combination they match (partial matches count).
    3. Each ``include`` entry is added to every combination whose *original* axis values it
       does not overwrite; values that earlier includes added may be overwritten. An entry that
       fits no combination becomes a combination of its own.
    """
    keys = [k for k, _ in axes]
    combos: list[Combination] = []
    if axes:
        for values in itertools.product(*(list(v) for _, v in axes)):
            combos.append(dict(zip(keys, values)))
    combos = [c for c in combos if not any(_matches(c, e, e.keys()) for e in exclude)]
    original = set(keys)
    added: list[Combination] = []
    for entry in include:
        axis_keys = [k for k in entry if k in original]
        fitted = False
        for combo in combos:
            if _matches(combo, entry, axis_keys):
                for k, v in entry.items():
                    if k not in original:
                        combo[k] = v
                fitted = True
        if not fitted:
            added.append(dict(entry))
    return combos + added


def matrix_suffix(combo: Mapping[str, Any], keys: Iterable[str] | None = None) -> str:
    """``(ubuntu-latest, 3.12)``: the values GitHub appends to a matrix job's name.

    Only the matrix's own keys count (values that ``include`` adds to a combination do not);
    a combination that ``include`` created shows all its values. Nested lists and objects
    show their scalars; empty values are left out.
    """
    chosen = [k for k in (keys or ()) if k in combo] or list(combo)
    parts: list[str] = []
    for key in chosen:
        parts.extend(_flatten_for_name(combo[key]))
    return "(" + ", ".join(p for p in parts if p) + ")"


def _flatten_for_name(value: Any) -> list[str]:
    if isinstance(value, dict):
        out: list[str] = []
        for v in value.values():
            out.extend(_flatten_for_name(v))
        return out
    if isinstance(value, list):
        items: list[str] = []
        for v in value:
            items.extend(_flatten_for_name(v))
        return items
    if value is None:
        return [""]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, float) and value.is_integer():
        return [str(int(value))]
    return [str(value)]


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class JobInstance:
    """One job with one matrix combination: the unit the engine schedules."""

    key: str  # unique in the plan: "<workflow>#<job path>" plus the matrix suffix
    job_id: str  # "test-matrix"; "caller/inner" for jobs of a reusable workflow
    name: str  # "test-matrix (ubuntu-latest, 3.12)"
    workflow: str
    job: Job
    matrix: Mapping[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # job ids, as written
    needs_keys: tuple[str, ...] = ()  # the instance keys it waits for
    runs_on: tuple[str, ...] = ()
    runnable: bool = True
    reason: str = ""
    strategy_index: int = 0
    strategy_total: int = 1
    fail_fast: bool = True
    max_parallel: int | None = None
    group: str = ""  # instances of one job share a group (fail-fast, max-parallel)
    caller: str | None = None  # the calling job's key for reusable-workflow jobs
    inputs: Mapping[str, Any] = field(default_factory=dict)
    # The ``secrets:`` of each call that leads to this job, outermost first: "inherit" or a
    # mapping of names to templates over the caller's secrets (a missing one passes none)
    secret_calls: tuple[Mapping[str, Any] | str, ...] = ()
    # ``on.workflow_call.outputs`` of each call that leads to this job, by the calling job's
    # id ("lint", "lint/inner"): output name -> expression over that workflow's ``jobs``
    call_outputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.job_id,
            "key": self.key,
            "name": self.name,
            "workflow": self.workflow,
            "needs": list(self.needs),
            "needs_keys": list(self.needs_keys),
            "runs_on": list(self.runs_on),
            "matrix": dict(self.matrix),
            "runnable": self.runnable,
            "reason": self.reason,
            "strategy": {
                "job_index": self.strategy_index,
                "job_total": self.strategy_total,
                "fail_fast": self.fail_fast,
                "max_parallel": self.max_parallel,
            },
        }


@dataclass(frozen=True)
class WorkflowDecision:
    workflow: Workflow
    decision: TriggerDecision


@dataclass(frozen=True)
class Plan:
    event: Event
    decisions: tuple[WorkflowDecision, ...]
    instances: tuple[JobInstance, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "event": {
                "name": self.event.name,
                "ref": self.event.ref,
                "base_ref": self.event.base_ref,
                "changed_paths": (
                    None if self.event.changed_paths is None else list(self.event.changed_paths)
                ),
                "inputs": dict(self.event.inputs),
            },
            "workflows": [
                {
                    "path": d.workflow.path,
                    "name": d.workflow.display_name,
                    "triggered": d.decision.triggered,
                    "reason": d.decision.reason,
                }
                for d in self.decisions
            ],
            "jobs": [i.to_json() for i in self.instances],
        }


@dataclass(frozen=True)
class _Scope:
    """Where jobs are being planned: a workflow file, or a reusable workflow called by a job."""

    workflow: Workflow
    key_prefix: str  # "<workflow path>#" at top level, "<caller key>/" inside a call
    id_prefix: str  # "" at top level, "caller/" inside a call
    name_prefix: str  # "" or "Caller name / "
    contexts: Mapping[str, Any]
    outer_needs_keys: tuple[str, ...] = ()
    secret_calls: tuple[Mapping[str, Any] | str, ...] = ()
    call_outputs: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def _eval(value: Any, contexts: Mapping[str, Any], where: Location, what: str) -> Any:
    """Evaluate a template or a JSON-like value holding templates, as a planning problem."""
    try:
        if isinstance(value, str):
            return evaluate_value(value, EvalContext(contexts=contexts))
        if isinstance(value, list):
            return [_eval(v, contexts, where, what) for v in value]
        if isinstance(value, dict):
            return {k: _eval(v, contexts, where, what) for k, v in value.items()}
        return value
    except ExpressionError as err:
        raise WorkflowError(
            [Problem(f"cannot evaluate {what}: {err.message}", where, err.hint)]
        ) from None


def _matrix_combinations(
    job: Job, contexts: Mapping[str, Any]
) -> tuple[list[Combination], list[str]] | None:
    """The job's combinations and its own matrix keys; None when it has no matrix."""
    if job.strategy is None or job.strategy.matrix is None:
        return None
    matrix: Matrix = job.strategy.matrix
    where = job.location
    if matrix.expression is not None:
        whole = _eval(matrix.expression, contexts, where, "strategy.matrix")
        if not isinstance(whole, dict):
            raise WorkflowError(
                [Problem("strategy.matrix must evaluate to an object", where, "use fromJSON()")]
            )
        axes_src = [(k, v) for k, v in whole.items() if k not in ("include", "exclude")]
        include: Any = whole.get("include", [])
        exclude: Any = whole.get("exclude", [])
    else:
        axes_src = list(matrix.axes)
        include = matrix.include
        exclude = matrix.exclude
    axes: list[tuple[str, list[Any]]] = []
    for key, values in axes_src:
        values = _eval(values, contexts, where, f"matrix.{key}")
        if not isinstance(values, list):
            values = [values]
        if not values:
            raise WorkflowError(
                [Problem(f"matrix vector '{key}' does not contain any values", where)]
            )
        axes.append((key, values))
    include = _eval(
        list(include) if not isinstance(include, str) else include,
        contexts,
        where,
        "matrix.include",
    )
    exclude = _eval(
        list(exclude) if not isinstance(exclude, str) else exclude,
        contexts,
        where,
        "matrix.exclude",
    )
    for label, entries in (("include", include), ("exclude", exclude)):
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise WorkflowError([Problem(f"matrix.{label} must be a list of objects", where)])
    combos = expand_matrix(axes, include, exclude)
    if len(combos) > MAX_MATRIX_JOBS:
        raise WorkflowError(
            [
                Problem(
                    f"the matrix of job '{job.id}' generates {len(combos)} jobs",
                    where,
                    f"GitHub allows at most {MAX_MATRIX_JOBS} per workflow run",
                )
            ]
        )
    return combos, [key for key, _ in axes]


def _runs_on_labels(job: Job, contexts: Mapping[str, Any]) -> tuple[str, ...]:
    if job.runs_on is None:
        return ()
    if job.runs_on.expression is not None:
        value = _eval(job.runs_on.expression, contexts, job.location, "runs-on")
    else:
        value = [_eval(label, contexts, job.location, "runs-on") for label in job.runs_on.labels]
    if isinstance(value, dict):
        value = value.get("labels", [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise WorkflowError([Problem("runs-on must be a label or a list of labels", job.location)])
    labels = tuple(str(v) for v in value if v not in (None, ""))
    if job.runs_on.group:
        return (f"group:{job.runs_on.group}",) + labels
    return labels


def _job_display(
    job: Job, contexts: Mapping[str, Any], combo: Combination | None, keys: Sequence[str]
) -> str:
    if job.name is not None:
        shown = str(_eval(job.name, contexts, job.location, "name"))
        if combo and "${{" not in job.name:
            shown = f"{shown} {matrix_suffix(combo, keys)}"
        return shown
    if combo:
        return f"{job.id} {matrix_suffix(combo, keys)}"
    return job.id


def _needs_matrix(job: Job) -> bool:
    """True when the matrix is computed from ``needs`` outputs (known only while running)."""
    matrix = job.strategy.matrix if job.strategy else None
    if matrix is None:
        return False
    text = json.dumps([matrix.expression, matrix.axes, matrix.include, matrix.exclude])
    return "needs." in text


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0")
    return bool(value)


def _plan_scope(
    scope: _Scope,
    runner: LocalRunner,
    load_reusable: ReusableLoader | None,
    out: list[JobInstance],
    depth: int = 0,
) -> dict[str, tuple[str, ...]]:
    """Plan every job of a scope; return each job id's instance keys (what dependants wait on)."""
    workflow = scope.workflow
    keys_of: dict[str, tuple[str, ...]] = {}
    for job in _in_needs_order(workflow.jobs):
        needs_keys = tuple(itertools.chain.from_iterable(keys_of.get(n, ()) for n in job.needs)) + (
            scope.outer_needs_keys if not job.needs else ()
        )
        base_ctx = dict(scope.contexts)
        if _needs_matrix(job):
            key = f"{scope.key_prefix}{job.id}"
            out.append(
                JobInstance(
                    key=key,
                    job_id=scope.id_prefix + job.id,
                    name=scope.name_prefix
                    + (job.name if job.name and "${{" not in job.name else job.id),
                    workflow=workflow.path,
                    job=job,
                    needs=job.needs,
                    needs_keys=needs_keys,
                    runnable=False,
                    reason="its matrix comes from needs outputs, which Amoskys cannot expand "
                    "locally yet",
                    group=key,
                )
            )
            keys_of[job.id] = (key,)
            continue
        expanded = _matrix_combinations(job, base_ctx)
        combos, axis_keys = expanded if expanded is not None else (None, [])
        strategy = job.strategy
        fail_fast = _to_bool(
            _eval(strategy.fail_fast, base_ctx, job.location, "fail-fast") if strategy else True
        )
        max_parallel: int | None = None
        if strategy and strategy.max_parallel is not None:
            raw = _eval(strategy.max_parallel, base_ctx, job.location, "max-parallel")
            try:
                max_parallel = int(raw)
            except (TypeError, ValueError):
                raise WorkflowError(
                    [Problem(f"max-parallel must be a number, got {raw!r}", job.location)]
                ) from None
        group = f"{scope.key_prefix}{job.id}"
        instance_combos: list[Combination | None] = list(combos) if combos is not None else [None]
        job_keys: list[str] = []
        for index, combo in enumerate(instance_combos):
            ctx = dict(base_ctx)
            ctx["matrix"] = dict(combo or {})
            ctx["strategy"] = {
                "fail-fast": fail_fast,
                "job-index": index,
                "job-total": len(instance_combos),
                "max-parallel": max_parallel or len(instance_combos),
            }
            display = scope.name_prefix + _job_display(job, ctx, combo, axis_keys)
            key = group + (f" {json.dumps(combo, separators=(',', ':'))}" if combo else "")
            job_id = scope.id_prefix + job.id
            if job.uses is not None:
                called_keys = _plan_call(
                    job, key, display, ctx, needs_keys, scope, runner, load_reusable, out, depth
                )
                job_keys.extend(called_keys)
                continue
            labels = _runs_on_labels(job, ctx)
            why = runner.why_not(labels)
            out.append(
                JobInstance(
                    key=key,
                    job_id=job_id,
                    name=display,
                    workflow=workflow.path,
                    job=job,
                    matrix=dict(combo or {}),
                    needs=job.needs,
                    needs_keys=needs_keys,
                    runs_on=labels,
                    runnable=why is None,
                    reason=why or "",
                    strategy_index=index,
                    strategy_total=len(instance_combos),
                    fail_fast=fail_fast,
                    max_parallel=max_parallel,
                    group=group,
                    caller=scope.key_prefix[:-1] if scope.id_prefix else None,
                    inputs=dict(scope.contexts.get("inputs", {})),
                    secret_calls=scope.secret_calls,
                    call_outputs=scope.call_outputs,
                )
            )
            job_keys.append(key)
        keys_of[job.id] = tuple(job_keys)
    return keys_of


def _plan_call(
    job: Job,
    key: str,
    display: str,
    ctx: Mapping[str, Any],
    needs_keys: tuple[str, ...],
    scope: _Scope,
    runner: LocalRunner,
    load_reusable: ReusableLoader | None,
    out: list[JobInstance],
    depth: int,
) -> list[str]:
    """Expand a job that calls a reusable workflow; remote ones are planned as not runnable."""
    assert job.uses is not None  # the caller checked  # nosec B101
    if not job.uses.startswith("./") or load_reusable is None:
        out.append(
            JobInstance(
                key=key,
                job_id=scope.id_prefix + job.id,
                name=display,
                workflow=scope.workflow.path,
                job=job,
                needs=job.needs,
                needs_keys=needs_keys,
                runnable=False,
                reason=f"remote reusable workflow {job.uses} is not available offline",
                group=key,
            )
        )
        return [key]
    if depth >= 10:
        raise WorkflowError(
            [Problem("reusable workflows nest more than 10 levels deep", job.location)]
        )
    called = load_reusable(job.uses, job.location)
    call_trigger = called.trigger("workflow_call")
    given = {k: _eval(v, ctx, job.location, f"with.{k}") for k, v in job.with_.items()}
    inputs: dict[str, Any] = {}
    if call_trigger is not None:
        try:
            inputs = resolve_inputs(call_trigger, {k: _as_text(v) for k, v in given.items()})
        except AmoskysError as err:  # re-located at the calling job
            raise WorkflowError([Problem(err.message, job.location, err.hint)]) from None
    contexts = dict(scope.contexts)
    contexts["inputs"] = inputs
    contexts.pop("matrix", None)
    contexts.pop("strategy", None)
    inner = _Scope(
        workflow=called,
        key_prefix=f"{key}/",
        id_prefix=f"{scope.id_prefix}{job.id}/",
        name_prefix=f"{display} / ",
        contexts=contexts,
        outer_needs_keys=needs_keys,
        secret_calls=(*scope.secret_calls, job.secrets if job.secrets is not None else {}),
        call_outputs={
            **scope.call_outputs,
            scope.id_prefix
            + job.id: {o.name: o.value for o in (call_trigger.outputs if call_trigger else ())},
        },
    )
    keys_of = _plan_scope(inner, runner, load_reusable, out, depth + 1)
    return [k for keys in keys_of.values() for k in keys]


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _in_needs_order(jobs: Sequence[Job]) -> list[Job]:
    """Jobs ordered so each comes after its needs, otherwise in file order (Kahn's algorithm)."""
    by_id = {j.id: j for j in jobs}
    done: set[str] = set()
    ordered: list[Job] = []
    pending = list(jobs)
    while pending:
        progressed = False
        for job in list(pending):
            if all(n in done or n not in by_id for n in job.needs):
                ordered.append(job)
                done.add(job.id)
                pending.remove(job)
                progressed = True
                break
        if not progressed:
            cycle = " -> ".join(j.id for j in pending)
            raise WorkflowError(
                [Problem(f"jobs depend on each other in a cycle: {cycle}", pending[0].location)]
            )
    return ordered


def plan(
    workflows: Sequence[Workflow],
    event: Event,
    *,
    runner: LocalRunner | None = None,
    facts: RepoFacts | None = None,
    load_reusable: ReusableLoader | None = None,
    extra_contexts: Mapping[str, Any] | None = None,
) -> Plan:
    """Decide which workflows ``event`` triggers and plan their job instances."""
    runner = runner or LocalRunner.here()
    facts = facts or RepoFacts()
    decisions: list[WorkflowDecision] = []
    instances: list[JobInstance] = []
    problems: list[Problem] = []
    for workflow in workflows:
        decision = trigger_decision(workflow, event)
        decisions.append(WorkflowDecision(workflow, decision))
        if not decision.triggered:
            continue
        inputs: dict[str, Any] = {}
        trig = workflow.trigger(event.name)
        if trig is not None and event.name in ("workflow_dispatch", "workflow_call"):
            inputs = resolve_inputs(trig, event.inputs)
        contexts: dict[str, Any] = {
            "github": github_context(event, facts),
            "inputs": inputs,
            "vars": {},
            "needs": {},
            "env": {},
            "secrets": {},
        }
        if extra_contexts:
            contexts.update(extra_contexts)
        scope = _Scope(
            workflow=workflow,
            key_prefix=f"{workflow.path}#",
            id_prefix="",
            name_prefix="",
            contexts=contexts,
        )
        try:
            _plan_scope(scope, runner, load_reusable, instances)
        except WorkflowError as err:
            problems.extend(err.problems)
    if problems:
        raise WorkflowError(problems)
    return Plan(event=event, decisions=tuple(decisions), instances=tuple(instances))
