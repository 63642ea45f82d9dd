"""Initial schema: runs, jobs, steps, logs, artifacts, tests, metrics, findings, durations.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

#: 64-bit ids on servers; SQLite's rowid alias (INTEGER) on SQLite.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "durations",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("workflow", sa.Text(), server_default="", nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "workflow", "kind", "subject", "ok", "bucket", name=op.f("pk_durations")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workflow", sa.Text(), server_default="", nullable=False),
        sa.Column("trigger", sa.Text(), server_default="", nullable=False),
        sa.Column("event", sa.Text(), server_default="", nullable=False),
        sa.Column("ref", sa.Text(), server_default="", nullable=False),
        sa.Column("branch", sa.Text(), server_default="", nullable=False),
        sa.Column("sha", sa.Text(), server_default="", nullable=False),
        sa.Column("actor", sa.Text(), server_default="", nullable=False),
        sa.Column("workflow_sha256", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started", sa.Double(), nullable=False),
        sa.Column("finished", sa.Double(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.Text(), nullable=True),
        sa.Column("run_dir", sa.Text(), server_default="", nullable=False),
        sa.Column("jobs_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("jobs_failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tests_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tests_passed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("tests_skipped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("coverage", sa.Double(), nullable=True),
        sa.Column("forgotten", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_branch_started"), "runs", ["branch", "started"])
    op.create_index(op.f("ix_runs_started"), "runs", ["started"])
    op.create_index(op.f("ix_runs_status_started"), "runs", ["status", "started"])

    op.create_table(
        "test_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("test_id", sa.Text(), nullable=False),
        sa.Column("file", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("classname", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_cases")),
        sa.UniqueConstraint("test_id", name=op.f("uq_test_cases_test_id")),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), server_default="", nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("job_id", sa.Text(), server_default="", nullable=False),
        sa.Column("matrix", sa.Text(), server_default="{}", nullable=False),
        sa.Column("runner", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("conclusion", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("started", sa.Double(), nullable=True),
        sa.Column("finished", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_job_runs_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    op.create_index(op.f("ix_job_runs_run_id"), "job_runs", ["run_id"])

    op.create_table(
        "artifacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("job_run_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("size", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("sha256", sa.Text(), server_default="", nullable=False),
        sa.Column("path", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["job_run_id"],
            ["job_runs.id"],
            name=op.f("fk_artifacts_job_run_id_job_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_artifacts_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
    )
    op.create_index(op.f("ix_artifacts_job_run_id"), "artifacts", ["job_run_id"])
    op.create_index(op.f("ix_artifacts_run_id"), "artifacts", ["run_id"])

    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("job_run_id", sa.Integer(), nullable=True),
        sa.Column("tool", sa.Text(), server_default="", nullable=False),
        sa.Column("rule", sa.Text(), server_default="", nullable=False),
        sa.Column("severity", sa.Text(), server_default="", nullable=False),
        sa.Column("file", sa.Text(), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("col", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column("fingerprint", sa.Text(), server_default="", nullable=False),
        sa.Column("suppressed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("suppress_reason", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["job_run_id"],
            ["job_runs.id"],
            name=op.f("fk_findings_job_run_id_job_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_findings_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    op.create_index(op.f("ix_findings_fingerprint"), "findings", ["fingerprint"])
    op.create_index(op.f("ix_findings_job_run_id"), "findings", ["job_run_id"])
    op.create_index(op.f("ix_findings_run_id"), "findings", ["run_id"])

    op.create_table(
        "metrics",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("job_run_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("unit", sa.Text(), server_default="", nullable=False),
        sa.Column("scope", sa.Text(), server_default="job", nullable=False),
        sa.ForeignKeyConstraint(
            ["job_run_id"],
            ["job_runs.id"],
            name=op.f("fk_metrics_job_run_id_job_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_metrics_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics")),
    )
    op.create_index(op.f("ix_metrics_job_run_id"), "metrics", ["job_run_id"])
    op.create_index(op.f("ix_metrics_name_run_id"), "metrics", ["name", "run_id"])
    op.create_index(op.f("ix_metrics_run_id"), "metrics", ["run_id"])

    op.create_table(
        "step_runs",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("job_run_id", sa.Integer(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("step_id", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("conclusion", sa.Text(), nullable=True),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("started", sa.Double(), nullable=True),
        sa.Column("finished", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_run_id"],
            ["job_runs.id"],
            name=op.f("fk_step_runs_job_run_id_job_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_runs")),
    )
    op.create_index(op.f("ix_step_runs_job_run_id"), "step_runs", ["job_run_id"])

    op.create_table(
        "test_results",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("job_run_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("duration", sa.Double(), nullable=False),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["test_cases.id"], name=op.f("fk_test_results_case_id_test_cases")
        ),
        sa.ForeignKeyConstraint(
            ["job_run_id"],
            ["job_runs.id"],
            name=op.f("fk_test_results_job_run_id_job_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_results")),
    )
    op.create_index(op.f("ix_test_results_case_id"), "test_results", ["case_id"])
    op.create_index(op.f("ix_test_results_job_run_id"), "test_results", ["job_run_id"])

    op.create_table(
        "logs",
        sa.Column("step_run_id", BIG_ID, nullable=False),
        sa.Column("path", sa.Text(), server_default="", nullable=False),
        sa.Column("lines", sa.Integer(), server_default="0", nullable=False),
        sa.Column("bytes", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("compressed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["step_run_id"],
            ["step_runs.id"],
            name=op.f("fk_logs_step_run_id_step_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("step_run_id", name=op.f("pk_logs")),
    )


def downgrade() -> None:
    for table in (
        "logs",
        "test_results",
        "step_runs",
        "metrics",
        "findings",
        "artifacts",
        "job_runs",
        "test_cases",
        "runs",
        "durations",
    ):
        op.drop_table(table)  # its indexes go with it
