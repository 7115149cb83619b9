"""De-identification on ingest, for a source configured research-only: identifiers dropped,
every date shifted by the patient's own offset (the install's de-identifier: the same offset
and research id it gives the patient everywhere else), the source's id replaced by the
research id (stable, so collecting again still upserts the same record)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import msgspec

from inescape.kernel.errors import Invalid
from inescape.modules.auth.api import Deidentifier
from inescape.modules.patients.api import PatientCreate

IDENTIFYING = ("given_name", "family_name", "mrn", "national_id", "address", "phone", "email")
DATES = frozenset(
    {
        "birth_date",
        "diagnosis_date",
        "assessed_on",
        "measured_on",
        "start_date",
        "end_date",
        "observed_on",
        "last_follow_up",
        "death_date",
        "recurrence_date",
    }
)
_PROBE = date(2000, 1, 1)


def offset_of(deidentifier: Deidentifier, key: str) -> timedelta:
    shifted = deidentifier.deidentify({"diagnosis_date": _PROBE.isoformat()}, patient_id=key)
    value = shifted.get("diagnosis_date")
    if not isinstance(value, str):
        raise Invalid("de-identification on ingest needs the de-identifier's date mode 'shift'")
    return date.fromisoformat(value) - _PROBE


def _shift(node: Any, offset: timedelta) -> Any:
    if isinstance(node, dict):
        return {
            k: (date.fromisoformat(v) + offset).isoformat() if k in DATES and v else _shift(v, offset)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_shift(v, offset) for v in node]
    return node


def deidentified(deidentifier: Deidentifier, record: PatientCreate) -> PatientCreate:
    key = f"{record.source}:{record.source_record_id}"
    plain = msgspec.to_builtins(record)
    plain = _shift({k: v for k, v in plain.items() if k not in IDENTIFYING}, offset_of(deidentifier, key))
    plain["source_record_id"] = deidentifier.research_id(key)
    return msgspec.convert(plain, PatientCreate)
