"""Test impact maps: which code each test ran, one map per (commit, interpreter).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "test_maps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commit", sa.Text(), nullable=False),
        sa.Column("interpreter", sa.Text(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("tests", sa.Integer(), server_default="0", nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_maps")),
        sa.UniqueConstraint("commit", "interpreter", name=op.f("uq_test_maps_commit_interpreter")),
    )


def downgrade() -> None:
    op.drop_table("test_maps")
