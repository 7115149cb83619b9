"""patients: an index covering what the cohort analytics read of live, diagnosed records

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-07 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# As in inescape.modules.patients.models (a migration keeps its own copy: the model may change).
COHORT_READ = "deleted_at IS NULL AND diagnosis_date IS NOT NULL"
COHORT_READ_COLUMNS = [
    "histology",
    "stage_group",
    "sex",
    "location",
    "vital_status",
    "origin",
    "source",
    "birth_year",
    "diagnosis_date",
    "last_follow_up",
    "death_date",
    "recurrence_date",
    "progression_date",
    "cause_of_death",
    "id",
    "deleted_at",
]


def upgrade() -> None:
    op.create_index(
        "ix_patients_cohort_read",
        "patients",
        COHORT_READ_COLUMNS,
        unique=False,
        postgresql_where=sa.text(COHORT_READ),
        sqlite_where=sa.text(COHORT_READ),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Statistics for the planner now; the visibility map (index-only scans) follows from
        # autovacuum, or from the VACUUM a bulk load runs.
        op.execute("ANALYZE patients")


def downgrade() -> None:
    op.drop_index("ix_patients_cohort_read", table_name="patients")
