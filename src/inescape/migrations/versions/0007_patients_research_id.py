"""patients: the stored research id (sort and lookup for de-identified views)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 20:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Left empty here: the id is keyed by the de-identification secret, which the migration
    # does not hold; the platform stamps the rows on first research use.
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("research_id", sa.String(length=64), nullable=True))
    op.create_index("ix_patients_research_id", "patients", ["research_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_patients_research_id", table_name="patients")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("research_id")
