"""The history store, against SQLite and a real PostgreSQL (see conftest.py)."""

from __future__ import annotations

import math
import os
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess  # nosec B404 - concurrent writers and a dead pid
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from amoskys.errors import AmoskysError, HistoryError
from amoskys.gates import GatesConfig, TestSummary, evaluate
from amoskys.report import html as report_html
from amoskys.store import engine as store_engine
from amoskys.store import histogram, migrate, stats
from amoskys.store.db import URL_VARIABLE, StepEnd, Store, open_store
from amoskys.store.records import ArtifactRecord, Metric
from amoskys.store.records import TestCaseResult as CaseResult
from amoskys.store.schema import metadata

REPO = Path(__file__).resolve().parents[2]
NOW = time.time()
DAY = 86_400.0
TABLES = (
    "runs",
    "job_runs",
    "step_runs",
    "logs",
    "artifacts",
    "test_results",
    "metrics",
    "findings",
)


# -- helpers ----------------------------------------------------------------------------------


def new_run(store: Store, started: float = NOW, **fields: Any) -> int:
    values: dict[str, Any] = dict(
        workflow=".github/workflows/ci.yml",
        trigger="cli",
        event="push",
        ref="refs/heads/main",
        branch="main",
        sha="a" * 40,
        actor="dev",
        workflow_sha256="f" * 64,
        started=started,
        run_dir="runs/x",
    )
    values.update(fields)
    return store.create_run(**values)


def new_job(
    store: Store, run_id: int, job_id: str = "test", started: float = NOW, **kw: Any
) -> int:
    matrix = kw.pop("matrix", {})
    return store.start_job(
        run_id,
        key=kw.pop("key", job_id),
        name=kw.pop("name", job_id),
        job_id=job_id,
        matrix=matrix,
        runner="ubuntu-latest",
        started=started,
    )


def ran_job(
    store: Store, run_id: int, job_id: str, started: float, seconds: float, status: str = "success"
) -> int:
    job = new_job(store, run_id, job_id, started)
    store.finish_job(job, status=status, conclusion=status, reason="", finished=started + seconds)
    return job


def case(
    test_id: str, outcome: str = "passed", duration: float = 0.1, message: str = ""
) -> CaseResult:
    file, _, name = test_id.partition("::")
    return CaseResult(
        test_id, file or None, name, file.replace("/", "."), outcome, duration, message
    )


def count(store: Store, table: str) -> int:
    with store.database.engine.connect() as connection:
        return int(
            connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
        )  # nosec B608


def execute(store: Store, sql: str, **params: Any) -> None:
    with store.database.engine.begin() as connection:
        connection.execute(sa.text(sql), params)


# -- opening ----------------------------------------------------------------------------------


def test_a_new_sqlite_store_is_in_wal_mode_with_foreign_keys(state_dir: Path) -> None:
    with open_store(state_dir) as store:
        assert (state_dir / "amoskys.db").is_file()
        assert store.migration is not None and store.migration.before is None
        with store.database.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert pragma("PRAGMA busy_timeout").scalar() == store_engine.BUSY_TIMEOUT_MS


def test_the_url_comes_from_the_environment(
    state_dir: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMOSKYS_DATABASE_URL", postgres_url.replace("+psycopg", ""))
    with open_store(state_dir) as store:
        new_run(store)
        assert store.database.engine.dialect.name == "postgresql"
    assert not (state_dir / "amoskys.db").exists()


def test_reopening_a_current_database_changes_nothing(
    store: Store, state_dir: Path, backend: str | None
) -> None:
    run_id = new_run(store)
    store.close()
    with open_store(state_dir, backend) as again:
        assert again.migration is not None
        assert again.migration.before == again.migration.after == migrate.head_revision()
        assert again.migration.backup is None
        assert [r.id for r in again.list_runs()] == [run_id]
    assert not list(state_dir.glob("*.bak-*"))


def test_migrations_build_exactly_the_schema_module(store: Store) -> None:
    with store.database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_a_database_from_a_newer_amoskys_is_refused(
    store: Store, state_dir: Path, backend: str | None
) -> None:
    execute(store, "UPDATE alembic_version SET version_num = '9999_future'")
    store.close()
    with pytest.raises(AmoskysError) as caught:
        open_store(state_dir, backend)
    assert "was written by a newer Amoskys (revision 9999_future)" in caught.value.message
    assert caught.value.hint and "upgrade Amoskys" in caught.value.hint


SECOND_REVISION = """\
\"\"\"A later Amoskys's revision: runs get a note (SQLite rebuilds the table to add it).\"\"\"
import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "HEAD"
branch_labels = None
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("runs", recreate="always" if sqlite else "auto") as batch:
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
    BROKEN


def downgrade() -> None:
    op.drop_column("runs", "note")
"""


HEAD = migrate.head_revision()


def _migrations_with_second_revision(tmp_path: Path, broken: str = "") -> Path:
    """A copy of the shipped migrations plus a revision 9001 after the shipped head (optionally
    with a bad step)."""
    copy = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    text = SECOND_REVISION.replace("BROKEN", broken or "pass").replace("HEAD", HEAD)
    (copy / "versions" / "r9001_note.py").write_text(text)
    return copy


def _run_with_children(store: Store) -> int:
    run_id = new_run(store)
    job = new_job(store, run_id)
    step = store.start_step(job, index=0, name="s", step_id=None, started=NOW, log_path="x.log")
    store.finish_step(
        step,
        outcome="success",
        conclusion="success",
        exit_code=0,
        finished=NOW,
        log_lines=1,
        log_bytes=1,
    )
    store.add_test_results(job, [case("t.py::a")])
    store.add_metrics(run_id, [Metric("coverage.line", 70.0, "%")], job_run_id=job)
    return run_id


def test_an_older_database_is_migrated_after_a_backup(
    store: Store,
    state_dir: Path,
    backend: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run_id = _run_with_children(store)
    before = {t: count(store, t) for t in TABLES}
    store.close()
    monkeypatch.setattr(migrate, "MIGRATIONS", _migrations_with_second_revision(tmp_path))
    with open_store(state_dir, backend) as newer:
        assert newer.migration is not None
        assert (newer.migration.before, newer.migration.after) == (HEAD, "9001")
        with newer.database.engine.connect() as connection:
            note = connection.execute(sa.text("SELECT note FROM runs WHERE id = :i"), {"i": run_id})
            assert note.scalar_one_or_none() is None
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert version.scalar_one() == "9001"
        # rebuilding ``runs`` did not cascade into the rows under it
        assert {t: count(newer, t) for t in TABLES} == before
        assert newer.get_run(run_id).jobs[0].tests
        if newer.database.sqlite_file is not None:
            with newer.database.engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    if backend is None:
        backup = state_dir / f"amoskys.db.bak-{HEAD}"
        assert newer.migration.backup == backup
        copy = sqlite3.connect(backup)
        try:
            assert copy.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
            assert copy.execute("SELECT id FROM runs").fetchall() == [(run_id,)]
        finally:
            copy.close()
    else:
        assert newer.migration.backup is None


def test_a_migration_that_would_orphan_rows_is_rolled_back(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(state_dir) as store:
        run_id = _run_with_children(store)
    broken = 'op.execute("DELETE FROM runs")'
    monkeypatch.setattr(migrate, "MIGRATIONS", _migrations_with_second_revision(tmp_path, broken))
    with pytest.raises(RuntimeError, match="rows pointing nowhere"):
        open_store(state_dir)
    monkeypatch.undo()
    with open_store(state_dir) as store:
        assert store.migration is not None and store.migration.before == HEAD
        assert store.get_run(run_id).jobs[0].tests


def test_a_file_that_is_not_a_database_is_refused(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    (state_dir / "amoskys.db").write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(AmoskysError, match="is not a SQLite database"):
        open_store(state_dir)


def test_a_write_the_file_refuses_is_a_history_write_error(state_dir: Path) -> None:
    with open_store(state_dir) as store:
        new_run(store)
        for path in state_dir.glob("amoskys.db*"):
            path.unlink()
        state_dir.joinpath("amoskys.db").write_bytes(b"this is not SQLite" * 100)
        store.close()  # the next write opens the replaced file
        with pytest.raises(HistoryError) as caught:
            new_run(store)
    assert str(caught.value).startswith(f"{state_dir / 'amoskys.db'}: cannot write to the ")
    assert "file is not a database" in str(caught.value)
    assert caught.value.hint == "move the file away; Amoskys will start a new history"


def test_a_read_the_file_refuses_is_a_history_error(state_dir: Path) -> None:
    with open_store(state_dir) as store:
        run_id = new_run(store)
        for path in state_dir.glob("amoskys.db*"):
            path.unlink()
        state_dir.joinpath("amoskys.db").write_bytes(b"this is not SQLite" * 100)
        store.close()
        with pytest.raises(HistoryError) as caught:
            store.find_job(run_id, "test")
    assert "cannot read the history database: file is not a database" in str(caught.value)


def test_a_bug_in_a_write_is_not_dressed_as_the_users_error(store: Store) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="nothing"):
        store._write(lambda c: c.execute(sa.text("UPDATE runs SET nothing = 1")))


def test_a_foreign_database_with_a_runs_table_is_refused(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    foreign = sqlite3.connect(state_dir / "amoskys.db")
    foreign.execute("CREATE TABLE runs (x INTEGER)")
    foreign.commit()
    foreign.close()
    with pytest.raises(AmoskysError, match="no Amoskys schema revision"):
        open_store(state_dir)


def test_an_unreachable_server_is_a_clear_error(state_dir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(AmoskysError, match="cannot use the history database") as caught:
        open_store(state_dir, f"postgresql://nobody@127.0.0.1:{port}/none?connect_timeout=3")
    assert "127.0.0.1" in str(caught.value)


def test_a_bad_url_is_a_clear_error(state_dir: Path) -> None:
    with pytest.raises(AmoskysError, match="not a database URL"):
        open_store(state_dir, "not a url at all")


# -- runs, jobs, steps ------------------------------------------------------------------------


def test_a_run_records_its_process_and_host(store: Store) -> None:
    run_id = new_run(store, branch="feature/x", sha="b" * 40)
    with store.database.engine.connect() as connection:
        row = connection.execute(sa.text("SELECT status, pid, host FROM runs")).one()
    assert tuple(row) == ("running", os.getpid(), socket.gethostname())
    [listed] = store.list_runs()
    assert (listed.id, listed.status, listed.branch, listed.finished) == (
        run_id,
        "running",
        "feature/x",
        None,
    )
    store.finish_run(run_id, status="success", finished=NOW + 12.5)
    [listed] = store.list_runs()
    assert (listed.status, listed.duration) == ("success", pytest.approx(12.5))


def test_list_runs_newest_first_with_filters_and_job_counts(store: Store) -> None:
    ids = []
    for i in range(30):
        run_id = new_run(store, started=NOW + i, branch="main" if i % 2 else "dev")
        for k, status in enumerate(("success", "failure", "timed_out", "cancelled")[: i % 5]):
            ran_job(store, run_id, f"job{k}", NOW + i, 1.0, status)
        store.finish_run(
            run_id, status="failure" if i % 3 == 0 else "success", finished=NOW + i + 1
        )
        ids.append(run_id)
    listed = store.list_runs()
    assert [r.id for r in listed] == ids[::-1][:20]
    assert [r.id for r in store.list_runs(limit=3)] == ids[::-1][:3]
    assert all(r.branch == "dev" for r in store.list_runs(branch="dev", limit=100))
    assert len(store.list_runs(branch="dev", limit=100)) == 15
    failed = store.list_runs(status="failure", limit=100)
    assert [r.id for r in failed] == [ids[i] for i in range(29, -1, -1) if i % 3 == 0]
    newest = listed[0]  # i = 29: 4 jobs, two of them failed (failure, timed_out)
    assert (newest.jobs_total, newest.jobs_failed) == (4, 2)
    # `amoskys runs` shows jobs_ok: the cancelled job is not ok (total - failed said 2/4).
    assert newest.jobs_ok == 1


def test_cancelled_and_not_run_jobs_are_not_counted_ok(store: Store) -> None:
    run_id = new_run(store)
    for k, status in enumerate(("success", "skipped", "cancelled", "not_run", "timed_out")):
        ran_job(store, run_id, f"job{k}", NOW, 1.0, status)
    store.finish_run(run_id, status="cancelled", finished=NOW + 2)
    listed = store.list_runs()[0]
    assert (listed.jobs_total, listed.jobs_failed, listed.jobs_ok) == (5, 1, 2)
    assert store.get_run(run_id).run.jobs_ok == 2


def test_get_run_jobs_steps_tests_metrics_and_artifacts(store: Store) -> None:
    run_id = new_run(store, run_dir="runs/7")
    second = new_job(store, run_id, "lint", started=NOW + 5)
    first = new_job(store, run_id, "test", started=NOW + 1, matrix={"python": "3.12"})
    never = store.record_job(
        run_id,
        key="deploy",
        name="deploy",
        job_id="deploy",
        matrix={},
        runner="ubuntu-latest",
        status="skipped",
        conclusion="skipped",
        reason="needs a job that failed",
        started=None,
        finished=None,
    )
    logged = store.start_step(
        first,
        index=0,
        name="Run tests",
        step_id="t",
        started=NOW + 1,
        log_path="runs/7/logs/test/0.log",
    )
    store.finish_step(
        logged,
        outcome="failure",
        conclusion="failure",
        exit_code=1,
        finished=NOW + 3,
        log_lines=42,
        log_bytes=4200,
    )
    quiet = store.start_step(
        first, index=1, name="Upload", step_id=None, started=NOW + 3, log_path=None
    )
    store.finish_step(
        quiet,
        outcome="skipped",
        conclusion="skipped",
        exit_code=None,
        finished=NOW + 3,
        log_lines=0,
        log_bytes=0,
    )
    store.add_test_results(
        first,
        [
            case("tests/test_a.py::test_ok", "passed", 0.5),
            case("tests/test_a.py::test_bad", "failed", 1.5, "AssertionError: 1 != 2"),
            case("tests/test_a.py::test_skip", "skipped", 0.0, "not on Linux"),
            case("tests/test_b.py::test_err", "error", 0.1, "fixture exploded"),
        ],
    )
    store.add_metrics(run_id, [Metric("coverage.line", 81.0, "%")], job_run_id=first)
    store.add_metrics(run_id, [Metric("duration", 12.0, "s", scope="run")])
    store.add_artifact(
        run_id,
        ArtifactRecord("coverage", 1234, "c" * 64, "artifacts/coverage.zip"),
        job_run_id=first,
    )
    store.add_artifact(run_id, ArtifactRecord("report", 99, "d" * 64, "report.html"))
    store.finish_job(
        first, status="failure", conclusion="failure", reason="step failed", finished=NOW + 4
    )

    detail = store.get_run(run_id)
    assert detail.run_dir == "runs/7"
    assert [j.id for j in detail.jobs] == [first, second, never]
    job = detail.jobs[0]
    assert (job.status, job.conclusion, job.reason, job.matrix) == (
        "failure",
        "failure",
        "step failed",
        {"python": "3.12"},
    )
    assert job.duration == pytest.approx(3.0)
    assert [
        (s.index, s.name, s.step_id, s.outcome, s.exit_code, s.log_path, s.log_lines)
        for s in job.steps
    ] == [
        (0, "Run tests", "t", "failure", 1, "runs/7/logs/test/0.log", 42),
        (1, "Upload", None, "skipped", None, None, 0),
    ]
    assert [t.outcome for t in job.tests] == ["failed", "error", "passed", "skipped"]
    assert job.tests[0] == case(
        "tests/test_a.py::test_bad", "failed", 1.5, "AssertionError: 1 != 2"
    )
    assert job.metrics == (Metric("coverage.line", 81.0, "%", "job"),)
    assert detail.metrics == (Metric("duration", 12.0, "s", "run"),)
    assert [a.name for a in detail.artifacts] == ["coverage", "report"]
    assert detail.artifacts[0] == ArtifactRecord(
        "coverage", 1234, "c" * 64, "artifacts/coverage.zip"
    )
    skipped = detail.jobs[2]
    assert (skipped.status, skipped.started, skipped.reason, skipped.steps) == (
        "skipped",
        None,
        "needs a job that failed",
        (),
    )
    assert (detail.run.jobs_total, detail.run.jobs_failed) == (3, 1)


def test_matrix_values_round_trip_as_json(store: Store) -> None:
    matrix = {
        "python": "3.13",
        "os": "ubuntu-latest",
        "include": [{"experimental": True, "n": 3}],
        "flags": None,
        "ratio": 0.5,
        "ünïcode": "✓",
    }
    run_id = new_run(store)
    job = new_job(store, run_id, matrix=matrix)
    [found] = store.get_run(run_id).jobs
    assert found.id == job
    assert found.matrix == matrix
    assert list(found.matrix) == list(matrix)  # the matrix's own order


def test_test_cases_are_shared_between_runs(store: Store) -> None:
    for _ in range(3):
        run_id = new_run(store)
        job = new_job(store, run_id)
        store.add_test_results(job, [case("t.py::a"), case("t.py::b"), case("t.py::a")])
    assert count(store, "test_cases") == 2
    assert count(store, "test_results") == 9
    store.add_test_results(job, [])
    assert count(store, "test_results") == 9


def test_a_thousand_test_results_in_one_call(store: Store) -> None:
    run_id = new_run(store)
    job = new_job(store, run_id)
    store.add_test_results(
        job, [case(f"t.py::test_{i}", "failed" if i % 100 == 0 else "passed") for i in range(1000)]
    )
    tests = store.get_run(run_id).jobs[0].tests
    assert len(tests) == 1000
    assert [t.test_id for t in tests[:10]] == [f"t.py::test_{i}" for i in range(0, 1000, 100)]


def test_writes_for_unknown_rows_are_bugs_not_user_errors(store: Store) -> None:
    with pytest.raises(LookupError):
        new_job(store, 999)
    with pytest.raises(LookupError):
        store.add_test_results(999, [case("t.py::a")])


# -- resolve ----------------------------------------------------------------------------------


def test_resolve_run(store: Store) -> None:
    with pytest.raises(AmoskysError, match="no run is recorded yet"):
        store.resolve_run("last")
    older = new_run(store, started=NOW)
    newer = new_run(store, started=NOW + 10)
    assert store.resolve_run("last") == newer
    assert store.resolve_run(str(older)) == older
    assert store.resolve_run(f"#{older}") == older
    with pytest.raises(AmoskysError, match="there is no run 12345"):
        store.resolve_run("12345")
    with pytest.raises(AmoskysError, match="is not a run"):
        store.resolve_run("yesterday")
    with pytest.raises(AmoskysError, match="there is no run 12345"):
        store.get_run(12345)


# -- interrupted runs -------------------------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # nosec B603
    child.wait()
    return child.pid


def test_mark_interrupted_takes_runs_whose_process_is_gone(store: Store) -> None:
    dead = new_run(store)
    job = new_job(store, dead)
    done = ran_job(store, dead, "lint", NOW, 1.0)
    step = store.start_step(job, index=0, name="s", step_id=None, started=NOW, log_path=None)
    ended = store.start_step(job, index=1, name="e", step_id=None, started=NOW, log_path=None)
    store.finish_step(
        ended,
        outcome="success",
        conclusion="success",
        exit_code=0,
        finished=NOW + 1,
        log_lines=0,
        log_bytes=0,
    )
    alive = new_run(store)  # this very process
    elsewhere = new_run(store)
    finished = new_run(store)
    store.finish_run(finished, status="success", finished=NOW + 1)
    execute(
        store,
        "UPDATE runs SET pid = :pid WHERE id IN (:a, :f)",
        pid=_dead_pid(),
        a=dead,
        f=finished,
    )
    execute(store, "UPDATE runs SET host = 'another-machine', pid = 1 WHERE id = :e", e=elsewhere)

    before = time.time()
    assert store.mark_interrupted() == [dead]
    assert store.mark_interrupted() == []
    detail = store.get_run(dead)
    assert detail.run.status == "interrupted"
    assert detail.run.finished is not None and detail.run.finished >= before
    jobs = {j.id: j for j in detail.jobs}
    assert jobs[job].status == "interrupted" and jobs[job].finished is not None
    assert jobs[done].status == "success"
    steps = {s.id: s for s in jobs[job].steps}
    assert (steps[step].outcome, steps[step].conclusion) == ("interrupted", "interrupted")
    assert steps[ended].outcome == "success"
    statuses = {r.id: r.status for r in store.list_runs()}
    assert statuses == {
        dead: "interrupted",
        alive: "running",
        elsewhere: "running",
        finished: "success",
    }


# -- stats ------------------------------------------------------------------------------------


def test_stats_over_a_period(store: Store) -> None:
    since = NOW - 7 * DAY
    old = new_run(store, started=since - DAY)  # outside the period
    ran_job(store, old, "test", since - DAY, 1000.0, "failure")
    store.finish_run(old, status="failure", finished=since - DAY + 5000)
    durations_ = [60.0, 120.0, 90.0, 300.0, 30.0]
    statuses = ["success", "success", "failure", "success", "cancelled"]
    for i, (seconds, status) in enumerate(zip(durations_, statuses)):
        start = since + (i + 1) * DAY
        run_id = new_run(store, started=start)
        lint = ran_job(store, run_id, "lint", start, 10.0 + i)
        for python, extra in (("3.11", 0.0), ("3.12", 5.0)):
            job = new_job(
                store, run_id, "test", start, matrix={"python": python}, key=f"test-{python}"
            )
            store.add_test_results(
                job,
                [
                    case("t.py::fast", "passed", 0.01),
                    case("t.py::slow", "failed" if i == 2 else "passed", 2.0 + i),
                    case("t.py::skipped", "skipped", 0.0),
                ]
                + [case(f"t.py::mid_{k}", "passed", 0.5 + k / 10) for k in range(10)],
            )
            store.add_metrics(
                run_id, [Metric("coverage.line", 80.0 + i + extra, "%")], job_run_id=job
            )
            store.finish_job(
                job,
                status="failure" if i == 2 and python == "3.12" else "success",
                conclusion="x",
                reason="",
                finished=start + 20 + extra,
            )
        store.record_job(
            run_id,
            key="deploy",
            name="deploy",
            job_id="deploy",
            matrix={},
            runner="r",
            status="skipped",
            conclusion="skipped",
            reason="",
            started=None,
            finished=None,
        )
        assert lint
        store.finish_run(run_id, status=status, finished=start + seconds)
    running = new_run(store, started=NOW)  # counted, not finished

    result = store.stats(since=since)
    assert result.since == since
    assert result.runs == 6
    assert result.success_rate == pytest.approx(3 / 5)
    assert result.median_duration == pytest.approx(statistics.median(durations_))
    assert result.p95_duration == pytest.approx(
        statistics.quantiles(durations_, n=20, method="inclusive")[-1]
    )
    by_job = {j.name: j for j in result.jobs}
    assert sorted(by_job) == ["lint", "test"]  # skipped jobs did not run
    assert by_job["test"].runs == 10
    assert by_job["test"].success_rate == pytest.approx(0.9)
    assert by_job["test"].median_duration == pytest.approx(22.5, rel=0.02)
    assert by_job["lint"].median_duration == pytest.approx(12.0, rel=0.02)
    assert by_job["lint"].p95_duration == pytest.approx(
        statistics.quantiles([10, 11, 12, 13, 14], n=20, method="inclusive")[-1], rel=0.02
    )
    assert result.tests_total == 5 * 2 * 13
    assert result.tests_passed == 5 * 2 * 13 - 5 * 2 - 2
    assert result.test_pass_rate == pytest.approx((130 - 12) / (130 - 10))
    slowest = result.slowest_tests
    assert len(slowest) == 10
    assert slowest[0][0] == "t.py::slow" and slowest[0][1] == pytest.approx(4.0, rel=0.02)
    assert [t for t, _ in slowest[1:]] == [f"t.py::mid_{k}" for k in range(9, 0, -1)]
    assert "t.py::skipped" not in dict(slowest)
    assert [c for _, c in result.coverage_trend] == pytest.approx([82.5 + i for i in range(5)])
    assert [s for s, _ in result.coverage_trend] == sorted(s for s, _ in result.coverage_trend)
    assert running


def run_totals(store: Store, run_id: int) -> tuple[int, int, int, int]:
    with store.database.engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT tests_total, tests_passed, tests_skipped, tests_flaky"
                " FROM runs WHERE id = :i"
            ),
            {"i": run_id},
        ).one()
    return (int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def test_flaky_tests_have_a_run_total_of_their_own_and_pass_as_the_gate_counts(
    store: Store,
) -> None:
    run_id = new_run(store)
    job = new_job(store, run_id)
    outcomes = ["passed", "passed", "failed", "error", "skipped", "flaky"]
    store.add_test_results(job, [case(f"t.py::t{i}", o) for i, o in enumerate(outcomes)])
    totals = run_totals(store, run_id)
    assert totals == (6, 2, 1, 1)  # a flaky test is never a plain pass
    counts = report_html.test_counts(
        store.get_run(run_id).jobs[0].tests
    )  # as the run's report counts
    assert totals == (counts["total"], counts["passed"], counts["skipped"], counts["flaky"])
    result = store.stats(since=0)
    assert (result.tests_total, result.tests_passed, result.tests_flaky) == (6, 2, 1)
    summary = TestSummary(total=6, passed=2, failed=1, errors=1, skipped=1, flaky=("t.py::t5",))
    verdict = evaluate([], GatesConfig(coverage=None), ran=set(), tests=summary)
    tests_gate = verdict.gate("tests")
    assert tests_gate is not None and tests_gate.evidence.startswith("3 of 5 passed (60.0%")
    assert result.test_pass_rate == pytest.approx(3 / 5)  # the gate's rate, from the totals


def test_the_flaky_totals_of_an_older_database_are_recounted(
    store: Store, state_dir: Path, backend: str | None
) -> None:
    run_id = new_run(store)
    job = new_job(store, run_id)
    store.add_test_results(
        job, [case("t.py::a", "flaky"), case("t.py::b"), case("t.py::c", "flaky")]
    )
    execute(store, "ALTER TABLE runs DROP COLUMN tests_flaky")  # as revision 0002 had it
    execute(store, "UPDATE alembic_version SET version_num = '0002'")
    store.close()
    with open_store(state_dir, backend) as again:
        assert again.migration is not None and again.migration.before == "0002"
        assert run_totals(again, run_id) == (3, 1, 0, 2)


def test_stats_counts_only_runs_from_since_even_within_a_day(store: Store) -> None:
    midday = math.floor(NOW / DAY) * DAY - DAY / 2
    before = new_run(store, started=midday - 60)
    job = ran_job(store, before, "test", midday - 60, 100.0)
    store.add_test_results(job, [case("t.py::x", "passed", 100.0)])
    store.finish_run(before, status="success", finished=midday)
    after = new_run(store, started=midday + 60)
    job = ran_job(store, after, "test", midday + 60, 1.0)
    store.add_test_results(job, [case("t.py::x", "passed", 1.0)])
    store.finish_run(after, status="success", finished=midday + 61)
    result = store.stats(since=midday)
    assert result.runs == 1
    assert result.jobs[0].median_duration == pytest.approx(1.0, rel=0.02)
    assert result.slowest_tests == (("t.py::x", pytest.approx(1.0, rel=0.02)),)
    whole = store.stats(since=midday - DAY)
    assert whole.runs == 2
    assert dict(whole.slowest_tests)["t.py::x"] == pytest.approx(50.5, rel=0.02)


def test_finishing_a_job_twice_counts_it_once(store: Store) -> None:
    run_id = new_run(store)
    job = ran_job(store, run_id, "build", NOW, 10.0)
    store.finish_job(job, status="failure", conclusion="failure", reason="again", finished=NOW + 20)
    [build] = store.stats(since=NOW - DAY).jobs
    assert build.runs == 1
    assert store.get_run(run_id).jobs[0].status == "failure"
    assert store.list_runs()[0].jobs_failed == 1


def test_stats_of_one_workflow_and_of_nothing(store: Store) -> None:
    empty = store.stats(since=NOW - DAY)
    assert (empty.runs, empty.success_rate, empty.median_duration, empty.test_pass_rate) == (
        0,
        0.0,
        None,
        None,
    )
    assert (empty.jobs, empty.slowest_tests, empty.coverage_trend) == ((), (), ())
    for workflow, seconds in (("a.yml", 10.0), ("b.yml", 99.0)):
        run_id = new_run(store, workflow=workflow)
        job = ran_job(store, run_id, "build", NOW, seconds)
        store.add_test_results(job, [case(f"{workflow}::t", "passed", seconds)])
        store.finish_run(run_id, status="success", finished=NOW + seconds)
    only_a = store.stats(since=NOW - DAY, workflow="a.yml")
    assert only_a.runs == 1 and only_a.median_duration == pytest.approx(10.0)
    assert [j.median_duration for j in only_a.jobs] == [pytest.approx(10.0, rel=0.02)]
    assert [t for t, _ in only_a.slowest_tests] == ["a.yml::t"]


def test_exact_percentiles_match_statistics(store: Store) -> None:
    rnd = random.Random(7)
    values = {
        "a": [rnd.uniform(0, 100) for _ in range(101)],
        "b": [rnd.uniform(0, 5) for _ in range(8)],
        "c": [3.0],
    }
    rows = [{"g": g, "v": v} for g, vs in values.items() for v in vs]
    table = sa.table("samples", sa.column("g", sa.Text()), sa.column("v", sa.Double()))
    with store.database.engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE samples (g TEXT, v DOUBLE PRECISION)"))
        connection.execute(table.insert(), rows)
        found = stats.exact_percentiles(
            connection, sa.select(table.c.g, table.c.v).subquery(), (0.5, 0.95)
        )
    for group, vs in values.items():
        expected = [
            statistics.median(vs),
            statistics.quantiles(vs, n=20, method="inclusive")[-1] if len(vs) > 1 else vs[0],
        ]
        assert found[group] == pytest.approx(expected)


def test_histogram_percentiles_are_within_two_percent() -> None:
    rnd = random.Random(3)
    for scale in (0.002, 0.3, 7.0, 900.0):
        samples = [rnd.lognormvariate(math.log(scale), 0.4) for _ in range(999)]
        counts: dict[int, int] = {}
        for seconds in samples:
            counts[histogram.bucket_of(seconds)] = counts.get(histogram.bucket_of(seconds), 0) + 1
        for q in (0.5, 0.95):
            exact = statistics.quantiles(samples, n=1000, method="inclusive")[round(q * 1000) - 1]
            assert histogram.percentile(counts, q) == pytest.approx(exact, rel=0.02)
    assert histogram.percentile({}, 0.5) is None
    assert histogram.bucket_of(0.0) == histogram.bucket_of(float("nan")) == -1
    assert histogram.percentile({-1: 3}, 0.5) == pytest.approx(0.0005)


SAMPLE_SECONDS = [0.0, 0.0004, 0.001, 0.00102, 0.5, 1.0, 1.02, 3.14159, 59.9, 600.0, 86_400.0]


def _sql_buckets(connection: sa.Connection) -> list[int]:
    table = sa.table("seconds", sa.column("v", sa.Double()))
    connection.execute(sa.text("CREATE TEMPORARY TABLE seconds (v DOUBLE PRECISION)"))
    connection.execute(table.insert(), [{"v": v} for v in SAMPLE_SECONDS])
    bucket = stats.bucket_sql(table.c.v)
    return [int(b) for b in connection.execute(sa.select(bucket).order_by(table.c.v)).scalars()]


def test_buckets_in_sql_are_the_buckets_in_python(store: Store) -> None:
    expected = [histogram.bucket_of(v) for v in SAMPLE_SECONDS]
    with store.database.engine.begin() as connection:
        assert _sql_buckets(connection) == expected


def test_buckets_in_sql_without_sqlites_math_functions() -> None:
    engine = sa.create_engine("sqlite://")

    @sa.event.listens_for(engine, "connect")
    def python_math(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        store_engine.register_math(dbapi_connection)  # overrides SQLite's own, if any

    with engine.begin() as connection:
        assert _sql_buckets(connection) == [histogram.bucket_of(v) for v in SAMPLE_SECONDS]
    engine.dispose()


# -- garbage collection -----------------------------------------------------------------------


def test_runs_older_than_keeps_recent_and_newest_runs(store: Store) -> None:
    ids = []
    for age in (40, 35, 31, 20, 1):
        run_id = new_run(store, started=NOW - age * DAY, run_dir=f"runs/{age}")
        store.finish_run(run_id, status="success", finished=NOW - age * DAY + 60)
        ids.append(run_id)
    stuck = new_run(store, started=NOW - 50 * DAY)  # still running: never collected
    assert store.runs_older_than(keep_days=30, keep_runs=0) == [
        (ids[0], "runs/40"),
        (ids[1], "runs/35"),
        (ids[2], "runs/31"),
    ]
    assert store.runs_older_than(keep_days=30, keep_runs=3) == [
        (ids[0], "runs/40"),
        (ids[1], "runs/35"),
    ]
    assert store.runs_older_than(keep_days=30, keep_runs=10) == []
    assert store.runs_older_than(keep_days=0, keep_runs=1) == [
        (i, f"runs/{a}") for i, a in zip(ids, (40, 35, 31, 20))
    ]
    store.forget_details([ids[0]])
    assert store.runs_older_than(keep_days=30, keep_runs=0) == [
        (ids[1], "runs/35"),
        (ids[2], "runs/31"),
    ]
    assert stuck not in [i for i, _ in store.runs_older_than(keep_days=0, keep_runs=0)]


def test_forget_details_keeps_every_summary_row(store: Store) -> None:
    kept = new_run(store)
    gone = new_run(store)
    for run_id in (kept, gone):
        job = new_job(store, run_id)
        step = store.start_step(
            job, index=0, name="s", step_id=None, started=NOW, log_path=f"runs/{run_id}/0.log"
        )
        store.finish_step(
            step,
            outcome="success",
            conclusion="success",
            exit_code=0,
            finished=NOW + 1,
            log_lines=5,
            log_bytes=50,
        )
        store.add_test_results(job, [case("t.py::a", "passed", 0.2)])
        store.add_metrics(run_id, [Metric("coverage.line", 90.0, "%")], job_run_id=job)
        store.add_artifact(run_id, ArtifactRecord("a", 1, "e" * 64, "a.zip"), job_run_id=job)
        store.finish_job(job, status="success", conclusion="success", reason="", finished=NOW + 2)
        store.finish_run(run_id, status="success", finished=NOW + 3)
    stats_before = store.stats(since=NOW - DAY)
    store.forget_details([gone])
    store.forget_details([])
    assert (count(store, "logs"), count(store, "artifacts")) == (1, 1)
    for table, expected in (
        ("runs", 2),
        ("job_runs", 2),
        ("step_runs", 2),
        ("test_results", 2),
        ("metrics", 2),
    ):
        assert count(store, table) == expected, table
    detail = store.get_run(gone)
    assert detail.artifacts == ()
    assert detail.jobs[0].steps[0].log_path is None
    assert detail.jobs[0].steps[0].outcome == "success"
    assert len(detail.jobs[0].tests) == 1 and len(detail.jobs[0].metrics) == 1
    assert store.get_run(kept).jobs[0].steps[0].log_path == f"runs/{kept}/0.log"
    assert store.stats(since=NOW - DAY) == stats_before


def test_deleting_a_run_cascades_to_everything_under_it(store: Store) -> None:
    victim = new_run(store)
    other = new_run(store)
    for run_id in (victim, other):
        job = new_job(store, run_id)
        step = store.start_step(job, index=0, name="s", step_id=None, started=NOW, log_path="l.log")
        store.finish_step(
            step,
            outcome="success",
            conclusion="success",
            exit_code=0,
            finished=NOW,
            log_lines=1,
            log_bytes=1,
        )
        store.add_test_results(job, [case("t.py::a")])
        store.add_metrics(run_id, [Metric("m", 1.0)], job_run_id=job)
        store.add_metrics(run_id, [Metric("r", 1.0, scope="run")])
        store.add_artifact(run_id, ArtifactRecord("a", 1, "0" * 64, "a"), job_run_id=job)
        execute(
            store,
            "INSERT INTO findings (run_id, job_run_id, tool, rule, severity, message, fingerprint)"
            " VALUES (:r, :j, 'bandit', 'B101', 'low', 'assert', 'fp')",
            r=run_id,
            j=job,
        )
    before = {t: count(store, t) for t in TABLES}
    execute(store, "DELETE FROM runs WHERE id = :r", r=victim)
    after = {t: count(store, t) for t in TABLES}
    assert before == {
        "runs": 2,
        "job_runs": 2,
        "step_runs": 2,
        "logs": 2,
        "artifacts": 2,
        "test_results": 2,
        "metrics": 4,
        "findings": 2,
    }
    assert after == {t: n // 2 for t, n in before.items()}
    assert store.get_run(other).jobs[0].tests


# -- concurrency ------------------------------------------------------------------------------

WRITER = """
import sys, time
from pathlib import Path
from amoskys.store.db import open_store
from amoskys.store.records import Metric, TestCaseResult

state, url, name = Path(sys.argv[1]), sys.argv[2] or None, sys.argv[3]
with open_store(state, url) as store:
    for i in range(200):
        run = store.create_run(workflow="w", trigger="cli", event="push", ref="r", branch=name,
                               sha="s", actor=name, workflow_sha256="x", started=time.time(),
                               run_dir=f"runs/{name}-{i}")
        job = store.start_job(run, key="k", name="k", job_id="k", matrix={"i": i}, runner="r",
                              started=time.time())
        store.add_test_results(job, [TestCaseResult(f"t.py::{name}_{i % 7}", "t.py", "t", "t",
                                                    "passed", 0.01)])
        store.add_metrics(run, [Metric("coverage.line", 50.0)], job_run_id=job)
        store.finish_job(job, status="success", conclusion="success", reason="",
                         finished=time.time())
        store.finish_run(run, status="success", finished=time.time())
"""


def test_two_processes_writing_at_once_both_succeed(state_dir: Path, backend: str | None) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [
        subprocess.Popen(  # nosec B603
            [sys.executable, "-c", WRITER, str(state_dir), backend or "", name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("one", "two")
    ]
    outputs = [w.communicate(timeout=300) for w in writers]
    for writer, (out, err) in zip(writers, outputs):
        assert writer.returncode == 0, err
        assert "locked" not in out + err and "busy" not in out + err
    with open_store(state_dir, backend) as store:
        runs = store.list_runs(limit=1000)
        assert len(runs) == 400
        assert {r.branch for r in runs} == {"one", "two"}
        assert all(r.status == "success" and r.jobs_total == 1 for r in runs)
        assert count(store, "test_results") == 400
        assert store.stats(since=NOW - DAY).tests_total == 400


def _hold_write_lock(path: Path, seconds: float, ready: threading.Event) -> None:
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        ready.set()
        time.sleep(seconds)
        holder.execute("COMMIT")
    finally:
        holder.close()


def test_a_locked_database_is_retried_not_reported(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_engine, "BUSY_TIMEOUT_MS", 0)  # SQLite gives up at once: we retry
    with open_store(state_dir) as store:
        ready = threading.Event()
        holder = threading.Thread(
            target=_hold_write_lock, args=(state_dir / "amoskys.db", 0.5, ready)
        )
        holder.start()
        ready.wait(5)
        start = time.monotonic()
        run_id = new_run(store)
        waited = time.monotonic() - start
        holder.join()
        assert waited >= 0.3
        assert store.resolve_run("last") == run_id


def test_a_database_locked_for_too_long_is_our_message(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_engine, "BUSY_TIMEOUT_MS", 0)
    monkeypatch.setattr(store_engine, "RETRY_FOR", 0.3)
    with open_store(state_dir) as store:
        ready = threading.Event()
        holder = threading.Thread(
            target=_hold_write_lock, args=(state_dir / "amoskys.db", 1.5, ready)
        )
        holder.start()
        ready.wait(5)
        try:
            with pytest.raises(AmoskysError) as caught:
                new_run(store)
        finally:
            holder.join()
    assert "stayed locked by another process" in str(caught.value)
    assert "database is locked" not in str(caught.value)


# -- batched writes (the run recorder's group commit) -----------------------------------------


def test_write_many_makes_every_change_in_one_transaction_in_order(store: Store) -> None:
    run_id = new_run(store)
    ids: dict[str, int] = {}

    def start(s: Store) -> None:
        ids["job"] = new_job(s, run_id, "build")

    def whole_step(s: Store) -> None:
        ended = StepEnd("success", "success", 0, NOW + 2, log_lines=3, log_bytes=30)
        s.start_step(
            ids["job"],
            index=1,
            name="one",
            step_id=None,
            started=NOW,
            log_path="a.log",
            ended=ended,
        )

    def broken(s: Store) -> None:
        s.finish_job(ids["job"], status="success", conclusion="success", reason="", finished=1)
        raise RuntimeError("boom")

    store.write_many([start, whole_step])
    (job,) = store.get_run(run_id).jobs
    assert [(s.name, s.outcome, s.exit_code, s.log_path, s.log_lines) for s in job.steps] == [
        ("one", "success", 0, "a.log", 3)
    ]
    assert job.steps[0].duration == pytest.approx(2.0)
    with pytest.raises(RuntimeError):
        store.write_many([broken])
    assert store.get_run(run_id).jobs[0].status == "running"  # the batch was rolled back


def test_opening_a_current_database_does_not_import_alembic(state_dir: Path) -> None:
    open_store(state_dir).close()
    probe = (
        "import sys; from pathlib import Path; from amoskys.store.db import open_store; "
        f"s = open_store(Path({str(state_dir)!r})); print(s.migration.before, s.migration.after, "
        "'alembic' in sys.modules); s.close()"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop(URL_VARIABLE, None)
    done = subprocess.run(  # nosec B603
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    head = migrate.head_revision()
    assert done.stdout.split() == [head, head, "False"]
