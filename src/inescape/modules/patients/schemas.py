"""What crosses ``/api/v1/patients`` beside the record's DTOs (those are in ``api.py``)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from inescape.modules.patients.api import Biomarker, Condition, Observation, Staging, Treatment

# The entries a record gains one at a time: ``POST /api/v1/patients/{id}/{kind}``.
SUB_RESOURCES: dict[str, type[msgspec.Struct]] = {
    "staging": Staging,
    "treatments": Treatment,
    "observations": Observation,
    "biomarkers": Biomarker,
    "conditions": Condition,
}


class Created(msgspec.Struct, frozen=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(description="The new record's id (GET /api/v1/patients/{id} reads it).")]


class BulkCreated(msgspec.Struct, frozen=True, kw_only=True):
    ids: Annotated[list[str], msgspec.Meta(description="The new records' ids, in the order sent.")]
    count: Annotated[int, msgspec.Meta(description="How many records were created (all of those sent).")]


class PatientPage(msgspec.Struct, frozen=True, kw_only=True):
    items: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(
            description=(
                "One row per patient: id, sex, birth_year, origin, source, histology, location, "
                "stage_group (AJCC 8th), diagnosis_date, vital_status, created_at, and given_name, "
                "family_name and mrn for those who may see a whole record. A researcher's row is "
                "de-identified and holds only research_id, sex, birth_year (age_group 90+ over 89), "
                "histology, location, stage_group, diagnosis_date (shifted by the patient's date "
                "offset) and vital_status."
            )
        ),
    ]
    next_cursor: Annotated[
        str | None, msgspec.Meta(description="The cursor of the next page; null on the last one.")
    ]


__all__ = ["SUB_RESOURCES", "BulkCreated", "Created", "PatientPage"]
