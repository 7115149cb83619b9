"""patients: on PostgreSQL, a narrow index for the cohort reads that need no outcome detail

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 16:00:00.000000

Counts, ages and overall survival read the cohort index's grouping columns, the birth year and
three dates. The full cohort index (0011) also holds the id, the cause of death and the
recurrence and progression dates for the other endpoints, and is 186 MB on a million patients;
this one is 81 MB, and PostgreSQL's planner reads it where it is enough (an index-only scan
costs by the pages and the columns of each entry). SQLite counts cell by cell through the full
index and sorts nothing, so it gets no second index to write.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# As in inescape.modules.patients.models (a migration keeps its own copy: the model may change).
COHORT_READ = "deleted_at IS NULL AND diagnosis_date IS NOT NULL"
COHORT_OS_COLUMNS = [
    "histology",
    "stage_group",
    "sex",
    "location",
    "vital_status",
    "origin",
    "birth_year",
    "diagnosis_date",
    "last_follow_up",
    "death_date",
]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # CONCURRENTLY: patients stay writable while a big table is indexed (outside a transaction).
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_patients_cohort_os",
            "patients",
            COHORT_OS_COLUMNS,
            unique=False,
            postgresql_where=sa.text(COHORT_READ),
            postgresql_concurrently=True,
            if_not_exists=True,
        )
        op.execute("ANALYZE patients")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    with op.get_context().autocommit_block():
        op.drop_index(
            "ix_patients_cohort_os", table_name="patients", postgresql_concurrently=True, if_exists=True
        )
