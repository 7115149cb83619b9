"""A record as the rows of the clinical core's tables (what INSERT, COPY and updates write)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from inescape.infra.crypto import field_cipher
from inescape.kernel.ids import new_id
from inescape.modules.patients.api import (
    Biomarker,
    Comorbidity,
    Condition,
    Observation,
    Outcome,
    PatientCreate,
    Staging,
    SurgicalFitness,
    Treatment,
)
from inescape.modules.patients.models import CHILDREN

CHILD_TYPES: dict[str, type[msgspec.Struct]] = {
    "conditions": Condition,
    "staging": Staging,
    "biomarkers": Biomarker,
    "treatments": Treatment,
    "observations": Observation,
    "comorbidities": Comorbidity,
}
STAGE_ORDER = {"post_neoadjuvant": 3, "pathological": 2, "clinical": 1}


def lookup_index(value: str, column: str) -> str:
    return field_cipher().blind_index(value, context=f"patients.{column}")


def summary_columns(record: PatientCreate) -> dict[str, Any]:
    """The primary condition's and the latest staging's facts, kept on the patient row."""
    first = min(record.conditions, key=lambda c: c.diagnosis_date, default=None)
    stage = max(record.staging, key=lambda s: (s.assessed_on, STAGE_ORDER[s.kind]), default=None)
    return {
        "histology": first.histology if first else None,
        "location": first.location if first else None,
        "diagnosis_date": first.diagnosis_date if first else None,
        "stage_group": stage.stage_group if stage else None,
    }


def outcome_columns(outcome: Outcome | None) -> dict[str, Any]:
    if outcome is None:
        return dict.fromkeys(
            (
                "vital_status",
                "last_follow_up",
                "death_date",
                "cause_of_death",
                "recurrence_date",
                "recurrence_site",
                "progression_date",
            )
        )
    return msgspec.structs.asdict(outcome)


def fitness_columns(fitness: SurgicalFitness | None) -> dict[str, Any]:
    """The patient row's columns of a fitness-for-surgery assessment (all None without one)."""
    return {
        "fit_for_surgery": fitness.fit if fitness else None,
        "fitness_assessed_by": fitness.assessed_by if fitness else None,
        "fitness_assessed_on": fitness.assessed_on if fitness else None,
        "fitness_note": fitness.note if fitness else None,
    }


def patient_row(
    record: PatientCreate, *, patient_id: str, now: datetime, digest: str | None = None
) -> dict[str, Any]:
    row = {
        "id": patient_id,
        "version": 1,
        "sex": record.sex,
        "birth_date": record.birth_date.isoformat(),
        "birth_year": record.birth_date.year,
        "given_name": record.given_name,
        "family_name": record.family_name,
        "mrn": record.mrn,
        "mrn_index": lookup_index(record.mrn, "mrn") if record.mrn else None,
        "national_id": record.national_id,
        "national_id_index": lookup_index(record.national_id, "national_id") if record.national_id else None,
        "address": record.address,
        "phone": record.phone,
        "email": record.email,
        "ethnicity": record.ethnicity,
        "country": record.country,
        "province": record.province,
        "origin": record.origin,
        "source": record.source,
        "source_record_id": record.source_record_id,
        "source_digest": digest,
        "synthetic_risk": record.synthetic_risk,
        "risk_factors": msgspec.to_builtins(record.risk_factors),
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    return (
        row
        | summary_columns(record)
        | outcome_columns(record.outcome)
        | fitness_columns(record.fitness_for_surgery)
    )


def child_rows(record: PatientCreate, patient_id: str) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in CHILDREN:
        items = getattr(record, name)
        rows[name] = [
            {"id": new_id(), "patient_id": patient_id, **msgspec.structs.asdict(item)} for item in items
        ]
    return rows
