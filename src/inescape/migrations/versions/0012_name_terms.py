"""patients: the name words' keyed hashes, what a name search looks candidates up by

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 04:00:00.000000

The hashes need the field key, which migrations never load: the records stored before this
revision are indexed by the server (PatientService.index_names, run before a name search).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patient_name_terms",
        sa.Column("term", sa.String(length=16), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_name_terms_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("term", "patient_id", name=op.f("pk_patient_name_terms")),
    )
    op.create_index("ix_patient_name_terms_patient", "patient_name_terms", ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_patient_name_terms_patient", table_name="patient_name_terms")
    op.drop_table("patient_name_terms")
