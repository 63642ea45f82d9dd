"""The read side's helpers: rows out as the frozen records of :mod:`amoskys.store.records`.

One run's detail is read in six queries whatever its size (run, jobs, steps with their log
index, tests, metrics, artifacts): never one query per job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import sqlalchemy as sa

from amoskys.collect.flakiness import Attempt
from amoskys.errors import AmoskysError
from amoskys.store.records import (
    ArtifactRecord,
    JobRecord,
    Metric,
    RunDetail,
    RunRecord,
    StepRecord,
    TestCaseResult,
)
from amoskys.store.schema import (
    artifacts,
    job_runs,
    logs,
    metrics,
    runs,
    step_runs,
    test_cases,
    test_results,
)

RUN_COLUMNS = (
    runs.c.id,
    runs.c.workflow,
    runs.c.trigger,
    runs.c.event,
    runs.c.ref,
    runs.c.branch,
    runs.c.sha,
    runs.c.actor,
    runs.c.workflow_sha256,
    runs.c.status,
    runs.c.started,
    runs.c.finished,
    runs.c.jobs_total,
    runs.c.jobs_failed,
    sa.select(sa.func.count())
    .where(job_runs.c.run_id == runs.c.id, job_runs.c.status.in_(("success", "skipped")))
    .correlate(runs)
    .scalar_subquery()
    .label("jobs_ok"),
)
"""The columns of a :class:`RunRecord`; ``jobs_ok`` counts the jobs that passed or were
skipped (``jobs_total - jobs_failed`` also counted cancelled and not-run jobs as ok)."""


def run_record(row: Mapping[Any, Any]) -> RunRecord:
    return RunRecord(**row)


def run_detail(connection: sa.Connection, run_id: int) -> RunDetail:
    head = connection.execute(
        sa.select(*RUN_COLUMNS, runs.c.run_dir).where(runs.c.id == run_id)
    ).one_or_none()
    if head is None:
        raise AmoskysError(f"there is no run {run_id}", hint="`amoskys runs` lists them")
    fields = head._asdict()
    run_dir = fields.pop("run_dir")
    steps = _steps_of(connection, run_id)
    tests = _tests_of(connection, run_id)
    job_metrics, run_metrics = _metrics_of(connection, run_id)
    in_start_order = (
        sa.select(job_runs)
        .where(job_runs.c.run_id == run_id)
        .order_by(job_runs.c.started.asc().nulls_last(), job_runs.c.id)
    )
    jobs = [
        _job_record(
            row._mapping,
            steps.get(row.id, ()),
            tests.get(row.id, ()),
            job_metrics.get(row.id, ()),
        )
        for row in connection.execute(in_start_order)
    ]
    found = connection.execute(
        sa.select(artifacts.c.name, artifacts.c.size, artifacts.c.sha256, artifacts.c.path)
        .where(artifacts.c.run_id == run_id)
        .order_by(artifacts.c.id)
    )
    return RunDetail(
        run=RunRecord(**fields),
        jobs=tuple(jobs),
        metrics=tuple(run_metrics),
        artifacts=tuple(ArtifactRecord(**row._asdict()) for row in found),
        run_dir=run_dir,
    )


def _job_record(
    row: Mapping[Any, Any],
    steps: Sequence[StepRecord],
    tests: Sequence[TestCaseResult],
    metrics_: Sequence[Metric],
) -> JobRecord:
    fields = {k: v for k, v in row.items() if k != "run_id"}
    return JobRecord(
        **{**fields, "matrix": json.loads(fields["matrix"])},
        steps=tuple(steps),
        tests=tuple(tests),
        metrics=tuple(metrics_),
    )


def _steps_of(connection: sa.Connection, run_id: int) -> dict[int, list[StepRecord]]:
    query = (
        sa.select(step_runs, logs.c.path, logs.c.lines)
        .join(job_runs, job_runs.c.id == step_runs.c.job_run_id)
        .outerjoin(logs, logs.c.step_run_id == step_runs.c.id)
        .where(job_runs.c.run_id == run_id)
        .order_by(step_runs.c.job_run_id, step_runs.c["index"], step_runs.c.id)
    )
    found: dict[int, list[StepRecord]] = {}
    for row in connection.execute(query):
        fields = dict(row._mapping)
        job_run_id = fields.pop("job_run_id")
        fields["log_path"] = fields.pop("path")
        fields["log_lines"] = fields.pop("lines") or 0
        found.setdefault(job_run_id, []).append(StepRecord(**fields))
    return found


def _tests_of(connection: sa.Connection, run_id: int) -> dict[int, list[TestCaseResult]]:
    failed_first = sa.case((test_results.c.outcome.in_(("failed", "error")), 0), else_=1)
    query = (
        sa.select(
            test_results.c.job_run_id,
            test_cases.c.test_id,
            test_cases.c.file,
            test_cases.c.name,
            test_cases.c.classname,
            test_results.c.outcome,
            test_results.c.duration,
            test_results.c.message,
        )
        .join(test_cases, test_cases.c.id == test_results.c.case_id)
        .join(job_runs, job_runs.c.id == test_results.c.job_run_id)
        .where(job_runs.c.run_id == run_id)
        .order_by(test_results.c.job_run_id, failed_first, test_results.c.id)
    )
    found: dict[int, list[TestCaseResult]] = {}
    for row in connection.execute(query):
        fields = row._asdict()
        found.setdefault(fields.pop("job_run_id"), []).append(TestCaseResult(**fields))
    return found


def _metrics_of(
    connection: sa.Connection, run_id: int
) -> tuple[dict[int, list[Metric]], list[Metric]]:
    query = (
        sa.select(
            metrics.c.job_run_id, metrics.c.name, metrics.c.value, metrics.c.unit, metrics.c.scope
        )
        .where(metrics.c.run_id == run_id)
        .order_by(metrics.c.id)
    )
    of_jobs: dict[int, list[Metric]] = {}
    of_run: list[Metric] = []
    for job_run_id, name, value, unit, scope in connection.execute(query):
        metric = Metric(name=name, value=value, unit=unit, scope=scope)
        if job_run_id is None:
            of_run.append(metric)
        else:
            of_jobs.setdefault(job_run_id, []).append(metric)
    return of_jobs, of_run


CACHED_REASON_PREFIX = "cached (run "
"""How a job served by the result cache starts its reason (:mod:`amoskys.run.result_cache`)."""


def test_histories(
    connection: sa.Connection, *, last_runs: int = 50, test_ids: Sequence[str] | None = None
) -> dict[str, list[Attempt]]:
    """The outcomes of tests over the newest ``last_runs`` runs, oldest first, for the
    flakiness score (:mod:`amoskys.collect.flakiness`).

    Without ``test_ids``, only tests that did not pass somewhere in those runs (failed, error,
    flaky) are read: the others score 0. A run's inputs are its commit, its workflow files'
    hashes and the job instance, so that matrix instances are never compared to each other.
    """
    newest = sa.select(runs.c.id).order_by(runs.c.id.desc()).limit(max(1, last_runs)).subquery()
    # A job the result cache served ran nothing: its copied results are no new evidence.
    in_window = test_results.c.job_run_id.in_(
        sa.select(job_runs.c.id).where(
            job_runs.c.run_id.in_(sa.select(newest.c.id)),
            ~job_runs.c.reason.like(f"{CACHED_REASON_PREFIX}%"),
        )
    )
    if test_ids is None:
        cases = (
            sa.select(test_results.c.case_id)
            .where(in_window, test_results.c.outcome.in_(("failed", "error", "flaky")))
            .distinct()
        )
    else:
        cases = sa.select(test_cases.c.id).where(test_cases.c.test_id.in_(list(test_ids)))
    query = (
        sa.select(
            test_cases.c.test_id,
            runs.c.id,
            runs.c.sha,
            runs.c.workflow_sha256,
            job_runs.c.key,
            test_results.c.outcome,
        )
        .join(test_cases, test_cases.c.id == test_results.c.case_id)
        .join(job_runs, job_runs.c.id == test_results.c.job_run_id)
        .join(runs, runs.c.id == job_runs.c.run_id)
        .where(in_window, test_results.c.case_id.in_(cases))
        .order_by(runs.c.id, test_results.c.id)
    )
    found: dict[str, list[Attempt]] = {}
    for test_id, run_id, sha, workflow_sha, job_key, outcome in connection.execute(query):
        inputs = f"{sha}|{workflow_sha}|{job_key}"
        found.setdefault(test_id, []).append(Attempt(int(run_id), inputs, outcome))
    return found


def recent_job_durations(
    connection: sa.Connection, keys: Sequence[str], *, last_runs: int = 20
) -> dict[str, float]:
    """Per job instance key: the median duration (seconds) of its newest five runs among the
    newest ``last_runs`` runs, counting only jobs that ran their steps to an end (succeeded,
    failed or timed out): a cached, skipped, cancelled or not-run job says nothing of its
    length. Reads a bounded window through the ``runs`` and ``job_runs.run_id`` indexes,
    whatever the size of the history."""
    if not keys:
        return {}
    newest = sa.select(runs.c.id).order_by(runs.c.id.desc()).limit(max(1, last_runs)).subquery()
    query = (
        sa.select(job_runs.c.key, job_runs.c.started, job_runs.c.finished)
        .where(
            job_runs.c.run_id.in_(sa.select(newest.c.id)),
            job_runs.c.key.in_(list(keys)),
            job_runs.c.status.in_(("success", "failure", "timed_out")),
            job_runs.c.started.is_not(None),
            job_runs.c.finished.is_not(None),
            ~job_runs.c.reason.like(f"{CACHED_REASON_PREFIX}%"),
        )
        .order_by(job_runs.c.id.desc())
    )
    seen: dict[str, list[float]] = {}
    for key, started, finished in connection.execute(query):
        durations = seen.setdefault(str(key), [])
        if len(durations) < 5:
            durations.append(max(0.0, float(finished) - float(started)))
    return {key: sorted(d)[len(d) // 2] for key, d in seen.items()}


@dataclass(frozen=True)
class FinishedJob:
    """A job instance's row as the result cache checks it before reusing it."""

    id: int
    status: str
    conclusion: str | None
    run_dir: str  # the run's folder, relative to the state folder
    run_started: float  # when its run started: a recreated history reuses run ids


def find_job(connection: sa.Connection, run_id: int, key: str) -> FinishedJob | None:
    """The job instance ``key`` of run ``run_id`` (the newest row if there are several);
    None when it, or its run, is no longer in the store."""
    row = connection.execute(
        sa.select(
            job_runs.c.id, job_runs.c.status, job_runs.c.conclusion, runs.c.run_dir, runs.c.started
        )
        .join(runs, runs.c.id == job_runs.c.run_id)
        .where(job_runs.c.run_id == run_id, job_runs.c.key == key)
        .order_by(job_runs.c.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    return FinishedJob(
        id=int(row.id),
        status=str(row.status),
        conclusion=row.conclusion,
        run_dir=str(row.run_dir),
        run_started=float(row.started),
    )


def run_starts(connection: sa.Connection, run_ids: Sequence[int]) -> dict[int, float]:
    """When each of ``run_ids`` that is still in the store started (the others are absent)."""
    ids = sorted(set(run_ids))
    found: dict[int, float] = {}
    for start in range(0, len(ids), 500):
        query = sa.select(runs.c.id, runs.c.started).where(runs.c.id.in_(ids[start : start + 500]))
        found.update((int(i), float(t)) for i, t in connection.execute(query))
    return found
