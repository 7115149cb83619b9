"""One page of source items into records: mapped, stamped with their source, de-identified
when asked, validated one by one by the clinical core. A bad item becomes a reject with its
location and reason; it never fails the page or the job."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec

from inescape.kernel.errors import Invalid
from inescape.modules.auth.api import Deidentifying
from inescape.modules.collection.connectors.base import Connector, Item
from inescape.modules.collection.deid import deidentified, latest_date, offset_of
from inescape.modules.patients.api import ClinicalCodecs, PatientCreate, PatientsApi


class Reject(msgspec.Struct, frozen=True, kw_only=True):
    location: str
    source_id: str | None
    reason: str
    errors: list[dict[str, str]]


class Mapped(msgspec.Struct, kw_only=True):
    records: list[PatientCreate]
    rejects: list[Reject]
    repeats: int  # a source id seen earlier in the same page: the first one counts


def _reject(item: Item, reason: str, errors: list[dict[str, str]] | None = None) -> Reject:
    return Reject(
        location=item.location,
        source_id=item.source_id,
        reason=reason,
        errors=errors or [{"field": "record", "message": reason}],
    )


class Checks:
    """What an item is checked with: the clinical core's rules and codecs, and the install's
    de-identifier when the source is research-only."""

    def __init__(
        self, *, patients: PatientsApi, codecs: ClinicalCodecs, deid: Deidentifying | None, today: date
    ) -> None:
        self.patients = patients
        self.codecs = codecs
        self.deid = deid
        self.today = today  # the clinical core's today or before: a shift past it is checked again


def _record(checks: Checks, connector: Connector, config: Any, item: Item, *, source: str) -> Any:
    """The record, or the Reject saying why not."""
    deid = checks.deid
    if item.problem:
        return _reject(item, item.problem)
    if not item.source_id:
        return _reject(
            item, "the record has no id in the source", [{"field": "source_record_id", "message": "missing"}]
        )
    moved_past_today = False
    try:
        record = connector.to_record(item, config, codecs=checks.codecs)
        record = msgspec.structs.replace(
            record, origin="real", source=source, source_record_id=item.source_id
        )
        checks.patients.check_record(record)
        if deid is not None:
            # the shift keeps every interval, so only a date moved past today can fail now
            offset = offset_of(deid, f"{source}:{item.source_id}")  # Invalid: this record's reject
            moved_past_today = latest_date(record) + offset > checks.today
            record = deidentified(deid, record, offset=offset)
    except Invalid as exc:
        return _reject(item, exc.detail, list(exc.errors) or None)
    if moved_past_today:
        # a recent date moved later can pass today: the clinical core refuses that, so it is
        # this record's reject, not the page's failure
        try:
            checks.patients.check_record(record)
        except Invalid as exc:
            shifted = " once de-identified (dates shifted by the patient's offset)"
            errors = [{**e, "message": e.get("message", "invalid") + shifted} for e in exc.errors]
            return _reject(item, exc.detail + shifted, errors or None)
    return record


def map_page(checks: Checks, connector: Connector, config: Any, items: list[Item], *, source: str) -> Mapped:
    mapped = Mapped(records=[], rejects=[], repeats=0)
    seen: set[str] = set()
    for item in items:
        found = _record(checks, connector, config, item, source=source)
        if isinstance(found, Reject):
            mapped.rejects.append(found)
        elif found.source_record_id in seen:
            mapped.repeats += 1
        else:
            seen.add(str(found.source_record_id))
            mapped.records.append(found)
    return mapped
