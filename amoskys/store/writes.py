"""The write side's helpers: rows in, and the summaries that follow them kept current.

Every function takes the connection of the transaction it is part of (see
:class:`amoskys.store.db.Store`). Summaries (``runs.jobs_*``, ``runs.tests_*``,
``runs.coverage``) are recounted from the run's own rows rather than incremented, so a
retried or repeated write cannot skew them; the ``durations`` histograms are incremented,
once per job end and per test result.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from typing import Any, Iterable, Mapping, Sequence, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from amoskys.store import histogram, stats
from amoskys.store.records import TestCaseResult
from amoskys.store.schema import (
    artifacts,
    durations,
    job_runs,
    logs,
    metrics,
    runs,
    step_runs,
    test_cases,
    test_results,
)

T = TypeVar("T")

FAILED_JOB = ("failure", "timed_out")
CHUNK = 500  # ids per IN (...) list
COVERAGE = "coverage.line"


def insert_row(connection: sa.Connection, table: sa.Table, values: Mapping[str, Any]) -> int:
    """Insert one row; its new id.

    The values go as parameters of the table's one INSERT statement, not into a new
    statement each time: SQLAlchemy then finds the compiled form at once (a run inserts a
    row per step).
    """
    result = connection.execute(table.insert(), dict(values))
    key = result.inserted_primary_key
    if key is None:  # every table written through here has an integer primary key
        raise RuntimeError(f"no primary key came back from {table.name}")
    return int(key[0])


def job_values(
    run_id: int, key: str, name: str, job_id: str, matrix: Mapping[str, Any], runner: str
) -> dict[str, Any]:
    """A job row's identity columns; the matrix as JSON text in its own key order."""
    return dict(
        run_id=run_id,
        key=key,
        name=name,
        job_id=job_id,
        matrix=json.dumps(dict(matrix), default=str),
        runner=runner,
    )


def add_job(connection: sa.Connection, run_id: int, values: Mapping[str, Any]) -> int:
    """Insert a job row and recount the run's jobs."""
    lock_run(connection, run_id)
    job_run_id = insert_row(connection, job_runs, values)
    refresh_jobs(connection, run_id)
    return job_run_id


def lock_run(connection: sa.Connection, run_id: int) -> None:
    """Serialise summary updates of one run (a row lock on servers; SQLite's write
    transactions are serial already). Unknown runs are a caller's bug."""
    query = sa.select(runs.c.id).where(runs.c.id == run_id).with_for_update()
    if connection.execute(query).scalar() is None:
        raise LookupError(f"no run {run_id} in the history database")


def run_of_job(connection: sa.Connection, job_run_id: int) -> int:
    """The run a job instance belongs to, locked for a summary update."""
    query = sa.select(job_runs.c.run_id).where(job_runs.c.id == job_run_id)
    run_id = connection.execute(query).scalar()
    if run_id is None:
        raise LookupError(f"no job run {job_run_id} in the history database")
    lock_run(connection, run_id)
    return int(run_id)


def refresh_jobs(connection: sa.Connection, run_id: int) -> None:
    """Recount ``runs.jobs_total`` / ``jobs_failed`` from the run's job rows."""
    mine = job_runs.c.run_id == run_id
    failed = sa.func.sum(sa.case((job_runs.c.status.in_(FAILED_JOB), 1), else_=0))
    total, bad = connection.execute(sa.select(sa.func.count(), failed).where(mine)).one()
    connection.execute(
        runs.update().where(runs.c.id == run_id).values(jobs_total=total, jobs_failed=bad or 0)
    )


def count_job(connection: sa.Connection, run_id: int, job_run_id: int) -> None:
    """Add a job that ran to the duration histograms of its run's day."""
    job = connection.execute(
        sa.select(
            job_runs.c.job_id, job_runs.c.status, job_runs.c.started, job_runs.c.finished
        ).where(job_runs.c.id == job_run_id)
    ).one()
    if stats.job_ran(job.status, job.started, job.finished):
        sample = (job.job_id, job.status == "success", job.finished - job.started)
        _add_durations(connection, run_id, "job", [sample])


def _add_durations(
    connection: sa.Connection, run_id: int, kind: str, samples: Iterable[tuple[str, bool, float]]
) -> None:
    """Count (subject, ok, seconds) samples into ``durations``, on the run's day."""
    started, workflow = connection.execute(
        sa.select(runs.c.started, runs.c.workflow).where(runs.c.id == run_id)
    ).one()
    day = int(started // stats.DAY)
    buckets = Counter((s, ok, histogram.bucket_of(seconds)) for s, ok, seconds in samples)
    rows = [
        dict(day=day, workflow=workflow, kind=kind, subject=s, ok=ok, bucket=b, n=n)
        for (s, ok, b), n in sorted(buckets.items())
    ]
    if rows:
        _upsert_add(connection, rows)


def _upsert_add(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE n = n + excluded.n, on SQLite and PostgreSQL."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(durations)
    statement = statement.on_conflict_do_update(
        index_elements=[c.name for c in durations.primary_key.columns],
        set_={"n": durations.c.n + statement.excluded.n},
    )
    connection.execute(statement, rows)


def add_tests(
    connection: sa.Connection, job_run_id: int, results: Sequence[TestCaseResult]
) -> None:
    """Bulk-insert a job's test results, count their durations, recount the run's tests."""
    run_id = run_of_job(connection, job_run_id)
    case_ids = _case_ids(connection, results)
    connection.execute(
        test_results.insert(),
        [
            dict(
                job_run_id=job_run_id,
                case_id=case_ids[r.test_id],
                outcome=r.outcome,
                duration=r.duration,
                message=r.message,
            )
            for r in results
        ],
    )
    timed = [
        (r.test_id, r.outcome == "passed", r.duration)
        for r in results
        if stats.test_timed(r.outcome)
    ]
    _add_durations(connection, run_id, "test", timed)
    _refresh_tests(connection, run_id)


def _case_ids(connection: sa.Connection, results: Sequence[TestCaseResult]) -> dict[str, int]:
    """The ``test_cases`` id of every test id in ``results``, adding the new ones."""
    wanted = {r.test_id: r for r in results}
    found = _known_cases(connection, list(wanted))
    missing = [r for test_id, r in wanted.items() if test_id not in found]
    if missing:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(test_cases).on_conflict_do_nothing(index_elements=["test_id"])
        rows = [
            dict(test_id=r.test_id, file=r.file, name=r.name, classname=r.classname)
            for r in missing
        ]
        connection.execute(statement, rows)
        found.update(_known_cases(connection, [r.test_id for r in missing]))
    return found


def _known_cases(connection: sa.Connection, test_ids: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(test_ids):
        query = sa.select(test_cases.c.test_id, test_cases.c.id).where(
            test_cases.c.test_id.in_(chunk)
        )
        found.update((t, int(i)) for t, i in connection.execute(query))
    return found


def _refresh_tests(connection: sa.Connection, run_id: int) -> None:
    """Recount the run's ``tests_total``, ``tests_passed``, ``tests_skipped`` and
    ``tests_flaky``: as the run's report counts them, a flaky test (failed, then passed on a
    re-run) apart from the plain passes; the total holds every outcome."""
    outcome = test_results.c.outcome
    query = (
        sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((outcome == "passed", 1), else_=0)),
            sa.func.sum(sa.case((outcome == "skipped", 1), else_=0)),
            sa.func.sum(sa.case((outcome == "flaky", 1), else_=0)),
        )
        .select_from(test_results.join(job_runs, job_runs.c.id == test_results.c.job_run_id))
        .where(job_runs.c.run_id == run_id)
    )
    total, passed, skipped, flaky = connection.execute(query).one()
    connection.execute(
        runs.update()
        .where(runs.c.id == run_id)
        .values(
            tests_total=total,
            tests_passed=passed or 0,
            tests_skipped=skipped or 0,
            tests_flaky=flaky or 0,
        )
    )


def refresh_coverage(connection: sa.Connection, run_id: int) -> None:
    """``runs.coverage``: the mean of the jobs' line coverage (the run's own if no job has
    one)."""
    mine = sa.and_(metrics.c.run_id == run_id, metrics.c.name == COVERAGE)
    of_jobs = sa.select(sa.func.avg(metrics.c.value)).where(mine, metrics.c.job_run_id.is_not(None))
    value = connection.execute(of_jobs).scalar()
    if value is None:
        of_run = sa.select(sa.func.avg(metrics.c.value)).where(mine)
        value = connection.execute(of_run).scalar()
    connection.execute(runs.update().where(runs.c.id == run_id).values(coverage=value))


def interrupt(connection: sa.Connection, run_ids: list[int], now: float) -> None:
    """Mark these runs, and their running jobs and unfinished steps, interrupted at ``now``."""
    for chunk in _chunks(run_ids):
        their_jobs = sa.select(job_runs.c.id).where(job_runs.c.run_id.in_(chunk))
        connection.execute(
            step_runs.update()
            .where(step_runs.c.job_run_id.in_(their_jobs), step_runs.c.outcome.is_(None))
            .values(outcome="interrupted", conclusion="interrupted", finished=now)
        )
        connection.execute(
            job_runs.update()
            .where(job_runs.c.run_id.in_(chunk), job_runs.c.status == "running")
            .values(status="interrupted", finished=now)
        )
        connection.execute(
            runs.update()
            .where(runs.c.id.in_(chunk), runs.c.status == "running")
            .values(status="interrupted", finished=now)
        )
    for run_id in run_ids:
        refresh_jobs(connection, run_id)


def forget(connection: sa.Connection, run_ids: list[int], now: float) -> None:
    """Delete the log index and artifact rows of these runs; remember when."""
    for chunk in _chunks(run_ids):
        their_steps = (
            sa.select(step_runs.c.id)
            .join(job_runs, job_runs.c.id == step_runs.c.job_run_id)
            .where(job_runs.c.run_id.in_(chunk))
        )
        connection.execute(logs.delete().where(logs.c.step_run_id.in_(their_steps)))
        connection.execute(artifacts.delete().where(artifacts.c.run_id.in_(chunk)))
        connection.execute(runs.update().where(runs.c.id.in_(chunk)).values(forgotten=now))


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id exists on this host (None: unknown, taken as gone)."""
    if pid is None or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    except OSError:
        return False
    return True


def _windows_pid_alive(pid: int) -> bool:
    """On Windows ``os.kill(pid, 0)`` sends Ctrl+C (0 is CTRL_C_EVENT): ask the kernel."""
    if sys.platform != "win32":
        return False
    import ctypes

    synchronize, timeout = 0x00100000, 0x00000102
    handle = ctypes.windll.kernel32.OpenProcess(synchronize, False, pid)
    if not handle:
        return False
    try:
        return bool(ctypes.windll.kernel32.WaitForSingleObject(handle, 0) == timeout)
    finally:
        ctypes.windll.kernel32.CloseHandle(handle)
