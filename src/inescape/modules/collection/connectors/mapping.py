"""A flat row (CSV, Parquet) into the record's shape by a column mapping.

The mapping names, for each record field, the column holding it: ``{"mrn": "MRN",
"birth_date": "DOB", "histology": "Histology", "staging.t": "cT"}``. A dotted field goes into a
section: ``condition.*`` (the primary condition), ``staging.*`` (one staging, clinical unless
``staging.kind`` says otherwise, assessed on the diagnosis date unless mapped),
``outcome.*`` and ``risk_factors.*``. Common condition, staging and outcome fields may be
named bare (``histology``, ``stage_group``, ``vital_status``). Empty cells are left out.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

SECTIONS = {"condition": "conditions", "staging": "staging", "outcome": "outcome", "risk_factors": None}
PATIENT_FIELDS = frozenset(
    {
        "source_record_id",
        "sex",
        "birth_date",
        "given_name",
        "family_name",
        "mrn",
        "national_id",
        "ethnicity",
        "country",
        "province",
        "address",
        "phone",
        "email",
    }
)
BARE = {
    **dict.fromkeys(
        (
            "diagnosis_date",
            "histology",
            "morphology_code",
            "topography_code",
            "location",
            "siewert",
            "grade",
            "tumour_length_cm",
        ),
        "condition",
    ),
    **dict.fromkeys(("t", "n", "m", "stage_group", "assessed_on"), "staging"),
    **dict.fromkeys(
        (
            "vital_status",
            "last_follow_up",
            "death_date",
            "cause_of_death",
            "recurrence_date",
            "progression_date",
        ),
        "outcome",
    ),
}


def target_of(field: str) -> tuple[str | None, str] | None:
    """(section, field) a mapping key writes to; None if the record has no such place."""
    section, _, name = field.rpartition(".")
    if not section:
        if field in PATIENT_FIELDS:
            return None, field
        return (BARE[field], field) if field in BARE else None
    return (section, name) if section in SECTIONS and name else None


def unknown_fields(mapping: Mapping[str, str]) -> list[str]:
    return [field for field in mapping if target_of(field) is None]


@functools.lru_cache(maxsize=64)
def _targets(pairs: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str | None, str], ...]:
    """(column, section, field) of each mapped field the record has a place for, in order."""
    found = ((column, target_of(field)) for field, column in pairs)
    return tuple((column, *target) for column, target in found if target is not None)


def record_from_row(row: Mapping[str, str], mapping: Mapping[str, str]) -> dict[str, Any]:
    """The record (JSON-shaped, strings as read) the mapped cells of ``row`` make."""
    record: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for column, section, name in _targets(tuple(mapping.items())):
        value = (row.get(column) or "").strip()
        if not value:
            continue
        if section is None:
            record[name] = value
        else:
            sections.setdefault(section, {})[name] = value
    condition = sections.get("condition")
    if condition:
        record["conditions"] = [condition]
    staging = sections.get("staging")
    if staging:
        staging.setdefault("kind", "clinical")
        if condition and "diagnosis_date" in condition:
            staging.setdefault("assessed_on", condition["diagnosis_date"])
        record["staging"] = [staging]
    for name in ("outcome", "risk_factors"):
        if name in sections:
            record[name] = sections[name]
    return record
