"""``runs.tests_flaky``: tests that failed and then passed on a re-run, counted apart.

A flaky test is never a plain pass, so it is not in ``tests_passed``; without a column of its
own the run's totals lost it (``tests_total`` held it, no other count did). Existing runs are
recounted from their test results.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "runs", sa.Column("tests_flaky", sa.Integer(), server_default="0", nullable=False)
    )
    op.execute(
        "UPDATE runs SET tests_flaky = (SELECT count(*) FROM test_results"
        " JOIN job_runs ON job_runs.id = test_results.job_run_id"
        " WHERE job_runs.run_id = runs.id AND test_results.outcome = 'flaky')"
    )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("tests_flaky")
