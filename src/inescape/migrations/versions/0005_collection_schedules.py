"""collection schedules: cron-like collections a worker submits when due

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-09 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collection_schedules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("research_only", sa.Boolean(), nullable=False),
        sa.Column("cron", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_job_id", sa.String(length=36), nullable=True),
        sa.Column("created_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_schedules")),
    )
    with op.batch_alter_table("collection_schedules", schema=None) as batch_op:
        batch_op.create_index("ix_collection_schedules_due", ["enabled", "next_run_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("collection_schedules", schema=None) as batch_op:
        batch_op.drop_index("ix_collection_schedules_due")
    op.drop_table("collection_schedules")
