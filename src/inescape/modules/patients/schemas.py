"""What crosses ``/api/v1/patients`` beside the record's DTOs (those are in ``api.py``)."""

from __future__ import annotations

from typing import Any

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


__all__ = ["SUB_RESOURCES", "BulkCreated", "Created", "PatientPage"]
