"""The history database's tables, as SQLAlchemy Core metadata (no ORM).

``runs`` → ``job_runs`` → ``step_runs`` → ``logs`` is the tree of one run; ``test_results``,
``metrics``, ``artifacts`` and ``findings`` hang off a run or one of its jobs. Every foreign
key down from ``runs`` is ``ON DELETE CASCADE``.

Two kinds of columns and tables are *summaries maintained on write*, so that ``amoskys runs``
and ``amoskys stats`` read a few thousand rows instead of millions:

* ``runs.jobs_total``, ``jobs_failed``, ``tests_*`` and ``coverage`` are recomputed from the
  run's own rows whenever a job, test result or metric of the run is written;
* ``durations`` counts, per UTC day, workflow, job id (or test id) and success, the durations
  in log-spaced buckets 2 % wide: ``stats`` reads job success rates (exact) and duration
  percentiles (within 2 %) from a few thousand of its rows.

Test identities (id, file, name, class) live once in ``test_cases``; ``test_results`` points
at them, which keeps the biggest table at a few dozen bytes a row.

This module is the *current* picture; ``migrations/versions`` holds how databases get there.
A test checks that the two agree.
"""

from __future__ import annotations

import sqlalchemy as sa

#: Integer primary keys: 64-bit on servers, SQLite's rowid alias (``INTEGER``) on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _text(name: str, default: str = "") -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=False, server_default=default)


def _count(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=False, server_default="0")


def _ref(column: str, target: str, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(column, BigId, sa.ForeignKey(target, ondelete="CASCADE"), nullable=nullable)


runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    _text("workflow"),
    _text("trigger"),
    _text("event"),
    _text("ref"),
    _text("branch"),
    _text("sha"),
    _text("actor"),
    _text("workflow_sha256"),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("started", sa.Double(), nullable=False),
    sa.Column("finished", sa.Double(), nullable=True),
    sa.Column("pid", sa.Integer(), nullable=True),
    sa.Column("host", sa.Text(), nullable=True),
    _text("run_dir"),
    # summaries maintained on write
    _count("jobs_total"),
    _count("jobs_failed"),
    _count("tests_total"),
    _count("tests_passed"),  # plain passes only
    _count("tests_skipped"),
    _count("tests_flaky"),  # failed, then passed on a re-run
    sa.Column("coverage", sa.Double(), nullable=True),  # mean of the jobs' coverage.line
    sa.Column("forgotten", sa.Double(), nullable=True),  # when logs/artifacts were let go
    sa.Index(None, "started"),
    sa.Index(None, "status", "started"),
    sa.Index(None, "branch", "started"),
)

job_runs = sa.Table(
    "job_runs",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    _text("key"),
    _text("name"),
    _text("job_id"),
    _text("matrix", "{}"),  # JSON text, keys in the matrix's own order
    _text("runner"),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("conclusion", sa.Text(), nullable=True),
    _text("reason"),
    sa.Column("started", sa.Double(), nullable=True),
    sa.Column("finished", sa.Double(), nullable=True),
    sa.Index(None, "run_id"),
)

step_runs = sa.Table(
    "step_runs",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column(
        "job_run_id",
        sa.Integer(),
        sa.ForeignKey("job_runs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("index", sa.Integer(), nullable=False),
    _text("name"),
    sa.Column("step_id", sa.Text(), nullable=True),
    sa.Column("outcome", sa.Text(), nullable=True),
    sa.Column("conclusion", sa.Text(), nullable=True),
    sa.Column("exit_code", sa.Integer(), nullable=True),
    sa.Column("started", sa.Double(), nullable=True),
    sa.Column("finished", sa.Double(), nullable=True),
    sa.Index(None, "job_run_id"),
)

logs = sa.Table(
    "logs",
    metadata,
    _ref("step_run_id", "step_runs.id"),
    _text("path"),  # relative to the state folder
    _count("lines"),
    sa.Column("bytes", sa.BigInteger(), nullable=False, server_default="0"),
    sa.Column("compressed", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.PrimaryKeyConstraint("step_run_id"),
)

artifacts = sa.Table(
    "artifacts",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "job_run_id",
        sa.Integer(),
        sa.ForeignKey("job_runs.id", ondelete="CASCADE"),
        nullable=True,
    ),
    _text("name"),
    sa.Column("size", sa.BigInteger(), nullable=False, server_default="0"),
    _text("sha256"),
    _text("path"),  # relative to the run folder
    sa.Index(None, "run_id"),
    sa.Index(None, "job_run_id"),
)

test_cases = sa.Table(
    "test_cases",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("test_id", sa.Text(), nullable=False),
    sa.Column("file", sa.Text(), nullable=True),
    _text("name"),
    _text("classname"),
    sa.UniqueConstraint("test_id"),
)

test_results = sa.Table(
    "test_results",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column(
        "job_run_id",
        sa.Integer(),
        sa.ForeignKey("job_runs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("case_id", sa.Integer(), sa.ForeignKey("test_cases.id"), nullable=False),
    sa.Column("outcome", sa.Text(), nullable=False),
    sa.Column("duration", sa.Double(), nullable=False),
    _text("message"),
    sa.Index(None, "job_run_id"),
    sa.Index(None, "case_id"),
)

durations = sa.Table(
    "durations",
    metadata,
    sa.Column("day", sa.Integer(), nullable=False),  # UTC day (Unix days) of the run's start
    _text("workflow"),  # the run's workflow, so that stats can be asked per workflow
    sa.Column("kind", sa.Text(), nullable=False),  # "job" (subject: job id) | "test" (test id)
    sa.Column("subject", sa.Text(), nullable=False),
    sa.Column("ok", sa.Boolean(), nullable=False),  # job succeeded / test passed
    sa.Column("bucket", sa.Integer(), nullable=False),  # amoskys.store.histogram.bucket_of
    sa.Column("n", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint("day", "workflow", "kind", "subject", "ok", "bucket"),
    sqlite_with_rowid=False,
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", BigId, primary_key=True),
    sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "job_run_id",
        sa.Integer(),
        sa.ForeignKey("job_runs.id", ondelete="CASCADE"),
        nullable=True,
    ),
    _text("name"),
    sa.Column("value", sa.Double(), nullable=False),
    _text("unit"),
    _text("scope", "job"),
    sa.Index(None, "name", "run_id"),
    sa.Index(None, "run_id"),
    sa.Index(None, "job_run_id"),
)

findings = sa.Table(
    "findings",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    sa.Column(
        "job_run_id",
        sa.Integer(),
        sa.ForeignKey("job_runs.id", ondelete="CASCADE"),
        nullable=True,
    ),
    _text("tool"),
    _text("rule"),
    _text("severity"),
    sa.Column("file", sa.Text(), nullable=True),
    sa.Column("line", sa.Integer(), nullable=True),
    sa.Column("col", sa.Integer(), nullable=True),
    _text("message"),
    _text("fingerprint"),
    sa.Column("suppressed", sa.Boolean(), nullable=False, server_default=sa.false()),
    _text("suppress_reason"),
    sa.Index(None, "run_id"),
    sa.Index(None, "job_run_id"),
    sa.Index(None, "fingerprint"),
)

#: Test impact maps (:mod:`amoskys.select.mapstore`): one per (commit, interpreter), replaced
#: when that commit is recorded again; ``data`` is the map's JSON, zlib-compressed.
test_maps = sa.Table(
    "test_maps",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True),
    sa.Column("commit", sa.Text(), nullable=False),
    sa.Column("interpreter", sa.Text(), nullable=False),
    sa.Column("created", sa.Double(), nullable=False),
    _count("tests"),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.UniqueConstraint("commit", "interpreter"),
)
