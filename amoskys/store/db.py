"""The history store: :func:`open_store` and :class:`Store`, the one way in and out.

The database is SQLite at ``<state>/amoskys.db`` unless ``AMOSKYS_DATABASE_URL`` (or ``url``)
names another (PostgreSQL). Opening it migrates it to this Amoskys's schema; a database
from a newer Amoskys is refused. Every method is one transaction, retried while the
database is busy (see :mod:`amoskys.store.engine`).

Summary columns on ``runs`` and the ``durations`` histograms are maintained by the same
transaction that writes what they summarise (:mod:`amoskys.store.writes`).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

import sqlalchemy as sa

from amoskys.collect.flakiness import Flakiness
from amoskys.collect.flakiness import scores as flakiness_scores
from amoskys.errors import AmoskysError
from amoskys.store import migrate, reads, stats, testmaps, writes
from amoskys.store.engine import (
    Database,
    server_database,
    sqlite_database,
    store_refused,
    transaction,
)
from amoskys.store.quick import head_in_files as _head_in_files
from amoskys.store.records import (
    ArtifactRecord,
    Metric,
    RunDetail,
    RunRecord,
    Stats,
    TestCaseResult,
)
from amoskys.store.schema import (
    artifacts,
    findings,
    job_runs,
    logs,
    metrics,
    runs,
    step_runs,
    test_results,
)

T = TypeVar("T")

DATABASE_FILE = "amoskys.db"
URL_VARIABLE = "AMOSKYS_DATABASE_URL"


def open_store(state_dir: Path, url: str | None = None) -> Store:
    """Open (creating or migrating) the history database; see the module docstring."""
    url = url or os.environ.get(URL_VARIABLE) or None
    if url:
        database = server_database(url)
    else:
        state_dir.mkdir(parents=True, exist_ok=True)
        database = sqlite_database(state_dir / DATABASE_FILE)
    store = Store(database)
    try:
        store.migration = store._migrate()
    except BaseException:
        store.close()
        raise
    return store


@dataclass(frozen=True)
class StepEnd:
    """How a step ended, as :meth:`Store.finish_step` records it."""

    outcome: str
    conclusion: str
    exit_code: int | None
    finished: float
    log_lines: int
    log_bytes: int


class Store:
    """Runs, jobs, steps, logs, artifacts, test results and metrics, written and read."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.migration: migrate.Migration | None = None

    @property
    def where(self) -> str:
        """The database's file or URL (without password), for messages."""
        return self.database.where

    def close(self) -> None:
        """Release every connection (the file stays as it is)."""
        self.database.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- transactions ---------------------------------------------------------------------

    def _write(self, work: Callable[[sa.Connection], T]) -> T:
        return self._transaction(work, write=True)

    def _read(self, work: Callable[[sa.Connection], T]) -> T:
        return self._transaction(work, write=False)

    def _transaction(self, work: Callable[[sa.Connection], T], *, write: bool) -> T:
        """One transaction; what the database refuses for a reason outside Amoskys (a
        read-only, removed or damaged file, a full disk, a lost server) is a
        :class:`HistoryError` that says what and where."""
        try:
            return transaction(self.database, work, write=write)
        except (sa.exc.DBAPIError, sqlite3.Error) as exc:
            refused = store_refused(exc, self.where, write=write)
            if refused is None:
                raise
            raise refused from exc

    def write_many(self, changes: Sequence[Callable[[Store], object]]) -> None:
        """Make several writes in one transaction, in order: one commit for many small ones.

        Each change calls methods of the store it is given, which all run in this one
        transaction (the run recorder's group commit). The whole batch is retried from the
        start while the database is busy, so a change must not count on running only once.
        """
        if not changes:
            return

        def work(connection: sa.Connection) -> None:
            bound = _InTransaction(self.database, connection)
            for change in changes:
                change(bound)

        self._write(work)

    def _migrate(self) -> migrate.Migration:
        """Bring the database to head; what a user can get wrong becomes an AmoskysError
        (unreachable server, a file that is not a database)."""
        sqlite_file = self.database.sqlite_file
        existed = bool(sqlite_file and sqlite_file.exists() and sqlite_file.stat().st_size)
        backup_of = sqlite_file if existed else None
        try:
            head = _head_in_files(migrate.MIGRATIONS) if existed or sqlite_file is None else None
            if (
                head is not None
                and transaction(self.database, _stamped_revision, write=False) == head
            ):
                return migrate.Migration(head, head)  # current: Alembic is not even imported
            return transaction(
                self.database,
                lambda c: migrate.upgrade(c, where=self.where, sqlite_file=backup_of),
                write=True,
                foreign_keys=False,
            )
        except sa.exc.OperationalError as exc:
            raise AmoskysError(
                f"cannot use the history database {self.where}: {_first_line(exc.orig)}",
                hint="check AMOSKYS_DATABASE_URL, or that the file is an Amoskys database",
            ) from None
        except sa.exc.DatabaseError as exc:
            if "not a database" not in str(exc.orig):
                raise
            raise AmoskysError(
                f"{self.where} is not a SQLite database",
                hint="move it away; Amoskys will start a new history",
            ) from None

    # -- writing runs, jobs and steps -----------------------------------------------------

    def create_run(
        self,
        *,
        workflow: str,
        trigger: str,
        event: str,
        ref: str,
        branch: str,
        sha: str,
        actor: str,
        workflow_sha256: str,
        started: float,
        run_dir: str,
    ) -> int:
        """A new run in status ``running``, owned by this process on this host."""
        values = dict(
            workflow=workflow,
            trigger=trigger,
            event=event,
            ref=ref,
            branch=branch,
            sha=sha,
            actor=actor,
            workflow_sha256=workflow_sha256,
            status="running",
            started=started,
            pid=os.getpid(),
            host=socket.gethostname(),
            run_dir=run_dir,
        )
        return self._write(lambda c: writes.insert_row(c, runs, values))

    def finish_run(self, run_id: int, *, status: str, finished: float) -> None:
        """Record the run's final status and end time."""
        update = runs.update().where(runs.c.id == run_id)
        self._write(lambda c: c.execute(update.values(status=status, finished=finished)))

    def start_job(
        self,
        run_id: int,
        *,
        key: str,
        name: str,
        job_id: str,
        matrix: Mapping[str, Any],
        runner: str,
        started: float,
    ) -> int:
        """A job instance that starts running now."""
        values = writes.job_values(run_id, key, name, job_id, matrix, runner)
        values.update(status="running", started=started)
        return self._write(lambda c: writes.add_job(c, run_id, values))

    def finish_job(
        self, job_run_id: int, *, status: str, conclusion: str, reason: str, finished: float
    ) -> None:
        """Record how a job instance ended (its duration is counted once, on the first
        call: finishing a job twice does not count it twice)."""
        was = sa.select(job_runs.c.status).where(job_runs.c.id == job_run_id)

        def work(connection: sa.Connection) -> None:
            run_id = writes.run_of_job(connection, job_run_id)
            first_end = connection.execute(was).scalar() == "running"
            connection.execute(
                job_runs.update()
                .where(job_runs.c.id == job_run_id)
                .values(status=status, conclusion=conclusion, reason=reason, finished=finished)
            )
            if first_end:
                writes.count_job(connection, run_id, job_run_id)
            writes.refresh_jobs(connection, run_id)

        self._write(work)

    def record_job(
        self,
        run_id: int,
        *,
        key: str,
        name: str,
        job_id: str,
        matrix: Mapping[str, Any],
        runner: str,
        status: str,
        conclusion: str | None,
        reason: str,
        started: float | None,
        finished: float | None,
    ) -> int:
        """A job instance recorded whole: one that never ran (skipped, not run, cancelled
        before it started), or one whose start and end are known at once."""
        values = writes.job_values(run_id, key, name, job_id, matrix, runner)
        values.update(
            status=status, conclusion=conclusion, reason=reason, started=started, finished=finished
        )

        def work(connection: sa.Connection) -> int:
            job_run_id = writes.add_job(connection, run_id, values)
            writes.count_job(connection, run_id, job_run_id)
            return job_run_id

        return self._write(work)

    def start_step(
        self,
        job_run_id: int,
        *,
        index: int,
        name: str,
        step_id: str | None,
        started: float,
        log_path: str | None,
        ended: StepEnd | None = None,
    ) -> int:
        """A step that starts now; its log (if any) is indexed at ``log_path``.

        With ``ended``, a step that is already over is written whole (one row, no update).
        """
        values: dict[str, Any] = dict(
            job_run_id=job_run_id, index=index, name=name, step_id=step_id, started=started
        )
        log_values: dict[str, Any] = {}
        if ended is not None:
            values.update(
                outcome=ended.outcome,
                conclusion=ended.conclusion,
                exit_code=ended.exit_code,
                finished=ended.finished,
            )
            log_values.update(lines=ended.log_lines, bytes=ended.log_bytes)

        def work(connection: sa.Connection) -> int:
            step_run_id = writes.insert_row(connection, step_runs, values)
            if log_path is not None:
                connection.execute(
                    logs.insert(), dict(step_run_id=step_run_id, path=log_path, **log_values)
                )
            return step_run_id

        return self._write(work)

    def finish_step(
        self,
        step_run_id: int,
        *,
        outcome: str,
        conclusion: str,
        exit_code: int | None,
        finished: float,
        log_lines: int,
        log_bytes: int,
    ) -> None:
        """Record how a step ended and how long its log became."""
        step = step_runs.update().where(step_runs.c.id == step_run_id)
        log = logs.update().where(logs.c.step_run_id == step_run_id)

        def work(connection: sa.Connection) -> None:
            connection.execute(
                step.values(
                    outcome=outcome, conclusion=conclusion, exit_code=exit_code, finished=finished
                )
            )
            connection.execute(log.values(lines=log_lines, bytes=log_bytes))

        self._write(work)

    # -- writing results ------------------------------------------------------------------

    def add_artifact(
        self, run_id: int, record: ArtifactRecord, job_run_id: int | None = None
    ) -> None:
        """Index an artifact stored under the run's folder."""
        values = dict(
            run_id=run_id,
            job_run_id=job_run_id,
            name=record.name,
            size=record.size,
            sha256=record.sha256,
            path=record.path,
        )
        self._write(lambda c: c.execute(artifacts.insert().values(values)))

    def add_test_results(self, job_run_id: int, results: Sequence[TestCaseResult]) -> None:
        """Store a job instance's test cases (one bulk insert)."""
        if not results:
            return
        self._write(lambda c: writes.add_tests(c, job_run_id, results))

    def add_metrics(
        self, run_id: int, metrics_: Sequence[Metric], job_run_id: int | None = None
    ) -> None:
        """Store numbers measured for a run, or for one of its job instances."""
        if not metrics_:
            return
        rows = [
            dict(
                run_id=run_id,
                job_run_id=job_run_id,
                name=m.name,
                value=m.value,
                unit=m.unit,
                scope=m.scope,
            )
            for m in metrics_
        ]

        def work(connection: sa.Connection) -> None:
            writes.lock_run(connection, run_id)
            connection.execute(metrics.insert(), rows)
            if any(m.name == writes.COVERAGE for m in metrics_):
                writes.refresh_coverage(connection, run_id)

        self._write(work)

    def add_findings(
        self,
        run_id: int,
        items: Sequence[Mapping[str, Any]],
        job_run_id: int | None = None,
    ) -> None:
        """Store findings (as ``amoskys lint``/``security-scan`` report them in JSON)."""
        if not items:
            return

        def text(item: Mapping[str, Any], key: str) -> str:
            value = item.get(key)
            return "" if value is None else str(value)

        def number(item: Mapping[str, Any], key: str) -> int | None:
            value = item.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else None

        rows = [
            dict(
                run_id=run_id,
                job_run_id=job_run_id,
                tool=text(item, "tool"),
                rule=text(item, "rule"),
                severity=text(item, "severity"),
                file=item.get("file") if isinstance(item.get("file"), str) else None,
                line=number(item, "line"),
                col=number(item, "column"),
                message=text(item, "message"),
                fingerprint=text(item, "fingerprint"),
                suppressed=bool(item.get("suppressed")),
                suppress_reason=text(item, "suppress_reason"),
            )
            for item in items
        ]

        def work(connection: sa.Connection) -> None:
            writes.lock_run(connection, run_id)
            connection.execute(findings.insert(), rows)

        self._write(work)

    def count_findings(self, run_id: int) -> dict[str, int]:
        """Unsuppressed findings of a run by tool."""
        query = (
            sa.select(findings.c.tool, sa.func.count())
            .where(findings.c.run_id == run_id, findings.c.suppressed == sa.false())
            .group_by(findings.c.tool)
        )
        return {str(tool): int(n) for tool, n in self._read(lambda c: list(c.execute(query)))}

    def mark_interrupted(self) -> list[int]:
        """Runs left ``running`` by a process of this host that is gone: mark them (and their
        running jobs and steps) ``interrupted``, ended now. Returns their ids."""
        host = socket.gethostname()
        query = sa.select(runs.c.id, runs.c.pid).where(
            runs.c.status == "running", runs.c.host == host
        )
        candidates = self._read(lambda c: c.execute(query).all())
        dead = sorted(run_id for run_id, pid in candidates if not writes.pid_alive(pid))
        if dead:
            self._write(lambda c: writes.interrupt(c, dead, time.time()))
        return dead

    # -- reading --------------------------------------------------------------------------

    def list_runs(
        self, *, limit: int = 20, status: str | None = None, branch: str | None = None
    ) -> list[RunRecord]:
        """The newest runs first (optionally of one status and/or branch)."""
        query = sa.select(*reads.RUN_COLUMNS).order_by(runs.c.started.desc(), runs.c.id.desc())
        if status is not None:
            query = query.where(runs.c.status == status)
        if branch is not None:
            query = query.where(runs.c.branch == branch)
        query = query.limit(max(0, limit))
        return self._read(lambda c: [reads.run_record(row._mapping) for row in c.execute(query)])

    def resolve_run(self, ref: str) -> int:
        """A run id from what a user typed: a number (``12`` or ``#12``) or ``last``."""
        text = ref.strip().lstrip("#")
        if text.lower() in ("last", "latest"):
            query = sa.select(runs.c.id).order_by(runs.c.started.desc(), runs.c.id.desc())
            found = self._read(lambda c: c.execute(query.limit(1)).scalar())
            if found is None:
                raise AmoskysError("no run is recorded yet", hint="start one with `amoskys run`")
            return int(found)
        if not text.isdigit():
            raise AmoskysError(
                f"{ref!r} is not a run", hint="give a run number from `amoskys runs` or 'last'"
            )
        run_id = int(text)
        query = sa.select(runs.c.id).where(runs.c.id == run_id)
        if self._read(lambda c: c.execute(query).scalar()) is None:
            raise AmoskysError(f"there is no run {run_id}", hint="`amoskys runs` lists them")
        return run_id

    def get_run(self, run_id: int) -> RunDetail:
        """One run with its jobs (in start order), their steps, tests (failures first) and
        metrics, the run's own metrics and its artifacts."""
        return self._read(lambda c: reads.run_detail(c, run_id))

    def recent_job_durations(self, keys: Sequence[str]) -> dict[str, float]:
        """Expected seconds per job instance key, from the newest runs (see
        :func:`amoskys.store.reads.recent_job_durations`)."""
        return self._read(lambda c: reads.recent_job_durations(c, keys))

    def find_job(self, run_id: int, key: str) -> reads.FinishedJob | None:
        """Job instance ``key`` of run ``run_id``; None when it or its run is gone."""
        return self._read(lambda c: reads.find_job(c, run_id, key))

    def copy_job_results(self, source_job_run_id: int, run_id: int, key: str) -> None:
        """Copy a job instance's test results, metrics and findings to job ``key`` of run
        ``run_id`` (a job the result cache served), in SQL, and recount the run's summaries.
        The copies do not count again in the duration histograms: nothing ran again."""

        def work(connection: sa.Connection) -> None:
            target = connection.execute(
                sa.select(job_runs.c.id)
                .where(job_runs.c.run_id == run_id, job_runs.c.key == key)
                .order_by(job_runs.c.id.desc())
                .limit(1)
            ).scalar()
            if target is None:
                raise LookupError(f"no job {key!r} in run {run_id}")
            writes.lock_run(connection, run_id)
            _copy_rows(connection, test_results, source_job_run_id, target, {})
            _copy_rows(connection, metrics, source_job_run_id, target, {"run_id": run_id})
            _copy_rows(connection, findings, source_job_run_id, target, {"run_id": run_id})
            writes._refresh_tests(connection, run_id)
            writes.refresh_coverage(connection, run_id)

        self._write(work)

    def stats(self, *, since: float, workflow: str | None = None) -> Stats:
        """Pipeline metrics for runs started at ``since`` or later (see :mod:`.stats`)."""
        return self._read(lambda c: stats.compute(c, since=since, workflow=workflow))

    def flakiness(
        self, *, last_runs: int = 50, test_ids: Sequence[str] | None = None
    ) -> list[Flakiness]:
        """Flakiness scores of the tests over the newest ``last_runs`` runs, highest first
        (without ``test_ids``: only tests that did not always pass there)."""
        histories = self._read(
            lambda c: reads.test_histories(c, last_runs=last_runs, test_ids=test_ids)
        )
        return flakiness_scores(histories)

    # -- test impact maps -----------------------------------------------------------------

    def save_test_map(
        self, *, commit: str, interpreter: str, created: float, tests: int, data: bytes
    ) -> None:
        """Store a test map (compressed bytes), replacing that commit's and interpreter's."""
        self._write(
            lambda c: testmaps.save(
                c,
                commit=commit,
                interpreter=interpreter,
                created=created,
                tests=tests,
                data=data,
            )
        )

    def latest_test_map(
        self, commits: Sequence[str], interpreter: str
    ) -> testmaps.StoredMap | None:
        """The map of the newest of ``commits`` (``git rev-list HEAD`` order) recorded with
        ``interpreter``, else the newest of any interpreter; None when there is none."""
        return self._read(lambda c: testmaps.latest(c, commits, interpreter))

    def recent_test_failures(self, *, days: float = 14.0, limit: int = 200) -> list[str]:
        """Test ids whose latest result in stored runs of the last ``days`` days is a failure
        or an error, newest first."""
        return self._read(lambda c: testmaps.recent_failures(c, days=days, limit=limit))

    # -- garbage collection ---------------------------------------------------------------

    def runs_older_than(self, *, keep_days: int, keep_runs: int) -> list[tuple[int, str]]:
        """(run id, run folder) of finished runs whose logs and artifacts may go: started
        more than ``keep_days`` ago and not among the newest ``keep_runs``; oldest first.
        Runs already let go (:meth:`forget_details`) are not listed again."""
        cutoff = time.time() - keep_days * 86_400
        newest = (
            sa.select(runs.c.id)
            .order_by(runs.c.started.desc(), runs.c.id.desc())
            .limit(max(0, keep_runs))
        )
        query = (
            sa.select(runs.c.id, runs.c.run_dir)
            .where(
                runs.c.started < cutoff,
                runs.c.status != "running",
                runs.c.forgotten.is_(None),
                runs.c.id.not_in(newest.scalar_subquery()),
            )
            .order_by(runs.c.started, runs.c.id)
        )
        return self._read(lambda c: [(int(i), str(d)) for i, d in c.execute(query)])

    def run_starts(self, run_ids: Sequence[int]) -> dict[int, float]:
        """Run id -> start time of those of ``run_ids`` still in the store."""
        return self._read(lambda c: reads.run_starts(c, run_ids))

    def forget_details(self, run_ids: Sequence[int]) -> None:
        """Drop the log index and artifact rows of these runs (their files are the caller's
        to delete). Runs, jobs, steps, test results and metrics stay."""
        ids = list(run_ids)
        if ids:
            self._write(lambda c: writes.forget(c, ids, time.time()))


def _copy_rows(
    connection: sa.Connection,
    table: sa.Table,
    source_job_run_id: int,
    target_job_run_id: int,
    fixed: Mapping[str, Any],
) -> None:
    """INSERT ... SELECT a job's rows of ``table`` as rows of another job (new ids)."""
    columns = [c for c in table.columns if c.name not in ("id", "job_run_id", *fixed)]
    values = [
        *(sa.literal(v).label(k) for k, v in fixed.items()),
        sa.literal(target_job_run_id).label("job_run_id"),
        *columns,
    ]
    names = [*fixed, "job_run_id", *(c.name for c in columns)]
    chosen = sa.select(*values).where(table.c.job_run_id == source_job_run_id).order_by(table.c.id)
    connection.execute(table.insert().from_select(names, chosen))


class _InTransaction(Store):
    """A store whose every method runs in one already open transaction (:meth:`write_many`)."""

    def __init__(self, database: Database, connection: sa.Connection) -> None:
        super().__init__(database)
        self._connection = connection

    def _write(self, work: Callable[[sa.Connection], T]) -> T:
        return work(self._connection)

    def _read(self, work: Callable[[sa.Connection], T]) -> T:
        return work(self._connection)


def _stamped_revision(connection: sa.Connection) -> str | None:
    """The revision in ``alembic_version`` (None without that table or with several rows)."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    return str(rows[0][0]) if len(rows) == 1 else None


def _first_line(error: BaseException | None) -> str:
    text = str(error or "").strip()
    return text.splitlines()[0] if text else "unknown error"
