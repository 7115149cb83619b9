"""patients keyed by (source, source_record_id) for collection's idempotent upsert

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

SOURCE_KEYED = "origin = 'real' AND source IS NOT NULL AND source_record_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_digest", sa.String(length=64), nullable=True))
    op.create_index(
        "uq_patients_source_record",
        "patients",
        ["source", "source_record_id"],
        unique=True,
        postgresql_where=sa.text(SOURCE_KEYED),
        sqlite_where=sa.text(SOURCE_KEYED),
    )


def downgrade() -> None:
    op.drop_index("uq_patients_source_record", table_name="patients")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("source_digest")
