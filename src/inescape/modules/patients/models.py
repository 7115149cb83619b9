"""Tables of the clinical core. Identifying fields are encrypted (AES-256-GCM, key id per
value) with a keyed hash beside the ones looked up by exact value (MRN, national id)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    text,
)

from inescape.infra.crypto import EncryptedString
from inescape.infra.db import metadata

SOURCE_KEYED = "origin = 'real' AND source IS NOT NULL AND source_record_id IS NOT NULL"
# The cohort analytics (counts, ages, survival tallies) read only live, diagnosed records and
# these columns of them: an index holding all of them is read instead of the wide rows (a
# covering index scan on SQLite, an index-only scan on PostgreSQL once vacuumed). ``deleted_at``
# is always NULL in it, but SQLite counts an index as covering only if it holds every column
# the query names.
COHORT_READ = "deleted_at IS NULL AND diagnosis_date IS NOT NULL"
COHORT_READ_COLUMNS = (
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
)
# The leading columns of both cohort indexes, every column survival can be grouped by among
# them: a GROUP BY on them walks an index in its order (SQLite counts survival cell by cell so).
COHORT_CELL_COLUMNS = COHORT_READ_COLUMNS[: COHORT_READ_COLUMNS.index("origin") + 1]
# What counts, ages and overall survival read (no id, cause of death, recurrence or progression
# date): on PostgreSQL a second, narrower index (81 MB against 186 MB on a million patients),
# which its planner reads where it is enough. SQLite reads the full one cell by cell.
COHORT_OS_COLUMNS = (*COHORT_CELL_COLUMNS, "birth_year", "diagnosis_date", "last_follow_up", "death_date")


def _child(name: str, *columns: Column) -> Table:  # type: ignore[type-arg]
    return Table(
        name,
        metadata,
        Column("id", String(36), primary_key=True),
        Column("patient_id", String(36), ForeignKey("patients.id", ondelete="CASCADE"), nullable=False),
        *columns,
        Index(f"ix_{name}_patient", "patient_id"),
    )


patients = Table(
    "patients",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("version", Integer, nullable=False, default=1),
    Column("sex", String(8), nullable=False),
    Column("birth_date", EncryptedString("patients.birth_date"), nullable=False),
    Column("birth_year", Integer, nullable=False),  # Safe Harbor keeps the year; it filters ages
    Column("given_name", EncryptedString("patients.given_name")),
    Column("family_name", EncryptedString("patients.family_name")),
    Column("mrn", EncryptedString("patients.mrn")),
    Column("mrn_index", String(64), index=True),
    Column("national_id", EncryptedString("patients.national_id")),
    Column("national_id_index", String(64), index=True),
    Column("address", EncryptedString("patients.address")),
    Column("phone", EncryptedString("patients.phone")),
    Column("email", EncryptedString("patients.email")),
    Column("ethnicity", String(200)),
    Column("country", String(2)),
    Column("province", String(200)),
    Column("origin", String(16), nullable=False),
    Column("source", String(200)),
    Column("source_record_id", String(200)),
    Column("source_digest", String(64)),  # SHA-256 of the collected record: unchanged is a no-op
    Column("synthetic_risk", Float),
    Column("risk_factors", JSON, nullable=False),
    # The primary condition's facts, copied here so lists and cohorts filter without joins.
    Column("histology", String(32)),
    Column("location", String(16)),
    Column("stage_group", String(8)),
    Column("diagnosis_date", Date),
    # Outcome (one per patient): what survival analysis reads.
    Column("vital_status", String(8)),
    Column("last_follow_up", Date),
    Column("death_date", Date),
    Column("cause_of_death", String(200)),
    Column("recurrence_date", Date),
    Column("recurrence_site", String(200)),
    Column("progression_date", Date),
    # Fitness for surgery (one current assessment): who judged it is staff identity and the
    # note is free text, so both are encrypted like the patient's identifiers.
    Column("fit_for_surgery", Boolean),
    Column("fitness_assessed_by", EncryptedString("patients.fitness_assessed_by")),
    Column("fitness_assessed_on", Date),
    Column("fitness_note", EncryptedString("patients.fitness_note")),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
    # The research id a researcher knows the record by (an HMAC of the id under the gateway's
    # de-identification secret), stamped on first research use so lists sort and lookups seek
    # by it; re-stamped when the secret changes (see PatientService.stamp_research_ids).
    Column("research_id", String(64)),
    Index("ix_patients_research_id", "research_id"),
    Index("ix_patients_cohort", "histology", "stage_group", "sex"),
    Index("ix_patients_origin_source", "origin", "source"),
    Index(
        "ix_patients_cohort_read",
        *COHORT_READ_COLUMNS,
        postgresql_where=text(COHORT_READ),
        sqlite_where=text(COHORT_READ),
    ),
    Index("ix_patients_cohort_os", *COHORT_OS_COLUMNS, postgresql_where=text(COHORT_READ)).ddl_if(
        dialect="postgresql"
    ),
    # A collected (real) record is keyed by where it came from: collecting it again upserts.
    Index(
        "uq_patients_source_record",
        "source",
        "source_record_id",
        unique=True,
        postgresql_where=text(SOURCE_KEYED),
        sqlite_where=text(SOURCE_KEYED),
    ),
)

conditions = _child(
    "patient_conditions",
    Column("diagnosis_date", Date, nullable=False),
    Column("histology", String(32), nullable=False),
    Column("morphology_code", String(8), nullable=False),
    Column("topography_code", String(8), nullable=False),
    Column("location", String(16), nullable=False),
    Column("siewert", String(4)),
    Column("grade", String(4), nullable=False),
    Column("tumour_length_cm", Float),
    Column("lymphovascular_invasion", Boolean),
    Column("invades_airway_or_great_vessels", Boolean),
)

staging = _child(
    "patient_staging",
    Column("kind", String(20), nullable=False),
    Column("t", String(8), nullable=False),
    Column("n", String(8), nullable=False),
    Column("m", String(8), nullable=False),
    Column("grade", String(4)),
    Column("location", String(16)),
    Column("stage_group", String(8), nullable=False),
    Column("assessed_on", Date, nullable=False),
    Column("method", String(200), nullable=False),
)

biomarkers = _child(
    "patient_biomarkers",
    Column("kind", String(16), nullable=False),
    Column("value", String(16), nullable=False),
    Column("measured_on", Date, nullable=False),
)

treatments = _child(
    "patient_treatments",
    Column("kind", String(24), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("intent", String(16)),
    Column("procedure", String(200)),
    Column("regimen", String(200)),
    Column("agents", JSON, nullable=False),
    Column("line", Integer),
    Column("margin", String(4)),
    Column("dose_gy", Float),
    Column("fractions", Integer),
    Column("pathologic_complete_response", Boolean),
    Column("tumour_regression_grade", Integer),
)

observations = _child(
    "patient_observations",
    Column("code", String(16), nullable=False),
    Column("value", Float, nullable=False),
    Column("unit", String(32)),
    Column("observed_on", Date, nullable=False),
)

comorbidities = _child(
    "patient_comorbidities",
    Column("system", String(64), nullable=False),
    Column("code", String(32), nullable=False),
    Column("display", String(200), nullable=False),
    Column("category", String(40)),
    Column("recorded_on", Date),
)

# The keyed hashes of the name words of each record (see repository/names.py): what a name
# search looks candidates up by, since the names themselves are encrypted with a random nonce.
name_terms = Table(
    "patient_name_terms",
    metadata,
    Column("term", String(16), primary_key=True),
    Column("patient_id", String(36), ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_patient_name_terms_patient", "patient_id"),
)

CHILDREN = {
    "conditions": conditions,
    "staging": staging,
    "biomarkers": biomarkers,
    "treatments": treatments,
    "observations": observations,
    "comorbidities": comorbidities,
}

# Saved cohorts: a definition (the list's filters as a document), applied whenever it is used.
cohorts = Table(
    "patient_cohorts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", String(2000)),
    Column("filters", JSON, nullable=False),
    Column("created_by", String(128)),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
