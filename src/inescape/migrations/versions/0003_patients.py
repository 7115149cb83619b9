"""patients

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:54:40.099835
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "patients",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(length=8), nullable=False),
        sa.Column("birth_date", sa.Text(), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("given_name", sa.Text(), nullable=True),
        sa.Column("family_name", sa.Text(), nullable=True),
        sa.Column("mrn", sa.Text(), nullable=True),
        sa.Column("mrn_index", sa.String(length=64), nullable=True),
        sa.Column("national_id", sa.Text(), nullable=True),
        sa.Column("national_id_index", sa.String(length=64), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("ethnicity", sa.String(length=200), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("province", sa.String(length=200), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("source_record_id", sa.String(length=200), nullable=True),
        sa.Column("synthetic_risk", sa.Float(), nullable=True),
        sa.Column("risk_factors", sa.JSON(), nullable=False),
        sa.Column("histology", sa.String(length=32), nullable=True),
        sa.Column("location", sa.String(length=16), nullable=True),
        sa.Column("stage_group", sa.String(length=8), nullable=True),
        sa.Column("diagnosis_date", sa.Date(), nullable=True),
        sa.Column("vital_status", sa.String(length=8), nullable=True),
        sa.Column("last_follow_up", sa.Date(), nullable=True),
        sa.Column("death_date", sa.Date(), nullable=True),
        sa.Column("cause_of_death", sa.String(length=200), nullable=True),
        sa.Column("recurrence_date", sa.Date(), nullable=True),
        sa.Column("recurrence_site", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patients")),
    )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.create_index("ix_patients_cohort", ["histology", "stage_group", "sex"], unique=False)
        batch_op.create_index(batch_op.f("ix_patients_mrn_index"), ["mrn_index"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_patients_national_id_index"), ["national_id_index"], unique=False
        )
        batch_op.create_index("ix_patients_origin_source", ["origin", "source"], unique=False)

    op.create_table(
        "patient_biomarkers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=16), nullable=False),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_biomarkers_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_biomarkers")),
    )
    with op.batch_alter_table("patient_biomarkers", schema=None) as batch_op:
        batch_op.create_index("ix_patient_biomarkers_patient", ["patient_id"], unique=False)

    op.create_table(
        "patient_conditions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("diagnosis_date", sa.Date(), nullable=False),
        sa.Column("histology", sa.String(length=32), nullable=False),
        sa.Column("morphology_code", sa.String(length=8), nullable=False),
        sa.Column("topography_code", sa.String(length=8), nullable=False),
        sa.Column("location", sa.String(length=16), nullable=False),
        sa.Column("siewert", sa.String(length=4), nullable=True),
        sa.Column("grade", sa.String(length=4), nullable=False),
        sa.Column("tumour_length_cm", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_conditions_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_conditions")),
    )
    with op.batch_alter_table("patient_conditions", schema=None) as batch_op:
        batch_op.create_index("ix_patient_conditions_patient", ["patient_id"], unique=False)

    op.create_table(
        "patient_observations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("observed_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_observations_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_observations")),
    )
    with op.batch_alter_table("patient_observations", schema=None) as batch_op:
        batch_op.create_index("ix_patient_observations_patient", ["patient_id"], unique=False)

    op.create_table(
        "patient_staging",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("t", sa.String(length=8), nullable=False),
        sa.Column("n", sa.String(length=8), nullable=False),
        sa.Column("m", sa.String(length=8), nullable=False),
        sa.Column("grade", sa.String(length=4), nullable=True),
        sa.Column("location", sa.String(length=16), nullable=True),
        sa.Column("stage_group", sa.String(length=8), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_staging_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_staging")),
    )
    with op.batch_alter_table("patient_staging", schema=None) as batch_op:
        batch_op.create_index("ix_patient_staging_patient", ["patient_id"], unique=False)

    op.create_table(
        "patient_treatments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("intent", sa.String(length=16), nullable=True),
        sa.Column("procedure", sa.String(length=200), nullable=True),
        sa.Column("regimen", sa.String(length=200), nullable=True),
        sa.Column("agents", sa.JSON(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("margin", sa.String(length=4), nullable=True),
        sa.Column("dose_gy", sa.Float(), nullable=True),
        sa.Column("fractions", sa.Integer(), nullable=True),
        sa.Column("pathologic_complete_response", sa.Boolean(), nullable=True),
        sa.Column("tumour_regression_grade", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_patient_treatments_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patient_treatments")),
    )
    with op.batch_alter_table("patient_treatments", schema=None) as batch_op:
        batch_op.create_index("ix_patient_treatments_patient", ["patient_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("patient_treatments", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_treatments_patient")

    op.drop_table("patient_treatments")
    with op.batch_alter_table("patient_staging", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_staging_patient")

    op.drop_table("patient_staging")
    with op.batch_alter_table("patient_observations", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_observations_patient")

    op.drop_table("patient_observations")
    with op.batch_alter_table("patient_conditions", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_conditions_patient")

    op.drop_table("patient_conditions")
    with op.batch_alter_table("patient_biomarkers", schema=None) as batch_op:
        batch_op.drop_index("ix_patient_biomarkers_patient")

    op.drop_table("patient_biomarkers")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index("ix_patients_origin_source")
        batch_op.drop_index(batch_op.f("ix_patients_national_id_index"))
        batch_op.drop_index(batch_op.f("ix_patients_mrn_index"))
        batch_op.drop_index("ix_patients_cohort")

    op.drop_table("patients")
