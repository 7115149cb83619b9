"""What crosses ``/api/v1/patients`` beside the record's DTOs (those are in ``api.py``)."""

from __future__ import annotations

from datetime import datetime
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
    id: str


class BulkCreated(msgspec.Struct, frozen=True, kw_only=True):
    ids: list[str]
    count: int


class PatientPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[dict[str, Any]]
    next_cursor: str | None


FILTERS_DOC = (
    "What the cohort selects: {field: [values]} for sex, histology, location, stage_group, "
    "vital_status, origin, source, treatment (kinds) and biomarker (KIND:value), any value of a "
    "field and every field; min_age and max_age in whole years; scheme (clinical, pathological, "
    "post_neoadjuvant): whose stage groups stage_group selects. The query parameters of "
    "GET /api/v1/patients, as a document."
)


class CohortCreate(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A cohort to keep: its definition, applied whenever it is used (not a list of patients)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, description="What to call it.")]
    description: Annotated[
        Annotated[str, msgspec.Meta(max_length=2000)] | None,
        msgspec.Meta(description="What it is for; null for nothing."),
    ] = None
    filters: Annotated[dict[str, Any], msgspec.Meta(description=FILTERS_DOC)] = msgspec.field(
        default_factory=dict
    )


class SavedCohort(msgspec.Struct, frozen=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(description="The cohort's id: cohort=<id> on the cohort reads.")]
    name: Annotated[str, msgspec.Meta(description="What it is called.")]
    description: Annotated[str | None, msgspec.Meta(description="What it is for.")]
    filters: Annotated[dict[str, Any], msgspec.Meta(description=FILTERS_DOC)]
    created_by: Annotated[str | None, msgspec.Meta(description="The username of who saved it.")]
    created_at: Annotated[datetime, msgspec.Meta(description="When it was saved.")]
    patients: Annotated[
        int | None,
        msgspec.Meta(
            description="How many records it selects now, of those the caller may see; null where "
            "it selects on a field the caller's (de-identified) view hides, so they cannot use it."
        ),
    ]


class CohortPage(msgspec.Struct, frozen=True, kw_only=True):
    items: Annotated[
        list[SavedCohort], msgspec.Meta(description="The saved cohorts on this page, newest first.")
    ]
    next_cursor: Annotated[str | None, msgspec.Meta(description="The next page's cursor; null on the last.")]


__all__ = [
    "SUB_RESOURCES",
    "BulkCreated",
    "CohortCreate",
    "CohortPage",
    "Created",
    "PatientPage",
    "SavedCohort",
]
