"""patients: fitness for surgery, tumour invasion facts and comorbidities

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 17:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fit_for_surgery", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("fitness_assessed_by", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("fitness_assessed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("fitness_note", sa.Text(), nullable=True))
    with op.batch_alter_table("patient_conditions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lymphovascular_invasion", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("invades_airway_or_great_vessels", sa.Boolean(), nullable=True))
    op.create_table(
        "patient_comorbidities",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("system", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("display", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=True),
        sa.Column("recorded_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_patient_comorbidities_patient", "patient_comorbidities", ["patient_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_patient_comorbidities_patient", table_name="patient_comorbidities")
    op.drop_table("patient_comorbidities")
    with op.batch_alter_table("patient_conditions", schema=None) as batch_op:
        batch_op.drop_column("invades_airway_or_great_vessels")
        batch_op.drop_column("lymphovascular_invasion")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_column("fitness_note")
        batch_op.drop_column("fitness_assessed_on")
        batch_op.drop_column("fitness_assessed_by")
        batch_op.drop_column("fit_for_surgery")
