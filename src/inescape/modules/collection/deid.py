"""De-identification on ingest, for a source configured research-only: identifiers dropped,
every date shifted by the patient's own offset (the install's de-identifier: the same offset
and research id it gives the patient everywhere else), the source's id replaced by the
research id (stable, so collecting again still upserts the same record).

The record's shape is known, so its date fields are found once, from the schema, and each
record only has those replaced: no generic walk and no round trip through builtins per row.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import msgspec
import msgspec.inspect as mi

from inescape.kernel.errors import Invalid
from inescape.modules.auth.api import Deidentifying
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
        "progression_date",
        "recorded_on",
    }
)
# Who judged fitness for surgery is staff identity and its note free text: neither is kept.
WITHHELD = "withheld on ingest"

Shift = Callable[[Any, timedelta], Any]


def offset_of(deidentifier: Deidentifying, key: str) -> timedelta:
    if deidentifier.date_mode != "shift":
        raise Invalid("de-identification on ingest needs the de-identifier's date mode 'shift'")
    return deidentifier.date_offset(key)


def _bare(t: mi.Type) -> mi.Type:
    """``t`` without the annotations a field's description adds (``Meta(description=...)``)."""
    return _bare(t.type) if isinstance(t, mi.Metadata) else t


def _is_date(t: mi.Type) -> bool:
    t = _bare(t)
    if isinstance(t, mi.UnionType):
        return all(isinstance(_bare(x), mi.DateType | mi.NoneType) for x in t.types)
    return isinstance(t, mi.DateType)


def _shifter(t: mi.Type) -> Shift | None:
    """What shifts the dates of a value of type ``t``; None when it holds no date field."""
    t = _bare(t)
    if isinstance(t, mi.StructType):
        return _struct_shifter(t)
    if isinstance(t, mi.ListType):
        item = _shifter(t.item_type)
        return None if item is None else (lambda v, offset: [item(x, offset) for x in v])
    if isinstance(t, mi.UnionType):
        inner = [s for s in map(_shifter, t.types) if s is not None]
        if len(inner) > 1:
            raise TypeError(f"a union of several records with dates cannot be de-identified: {t}")
        one = inner[0] if inner else None
        return None if one is None else (lambda v, offset: v if v is None else one(v, offset))
    if isinstance(t, mi.DictType | mi.AnyType | mi.RawType | mi.TupleType | mi.VarTupleType):
        raise TypeError(f"a field of type {t} may hold dates no plan can find")
    return None


def _plan(t: mi.StructType) -> tuple[list[str], list[tuple[str, Shift]]]:
    """The struct's own date fields, and its fields holding records with dates."""
    dates: list[str] = []
    nested: list[tuple[str, Shift]] = []
    for field in t.fields:
        if field.name in DATES:
            if not _is_date(field.type):
                raise TypeError(f"{t.cls.__name__}.{field.name} is named as a date but is {field.type}")
            dates.append(field.name)
            continue
        inner = _shifter(field.type)
        if inner is not None:
            nested.append((field.name, inner))
    return dates, nested


def _struct_shifter(t: mi.StructType) -> Shift | None:
    dates, nested = _plan(t)
    if not dates and not nested:
        return None

    def shift(value: Any, offset: timedelta) -> Any:
        return msgspec.structs.replace(value, **_changes(value, offset, dates, nested))

    return shift


def _changes(
    value: Any, offset: timedelta, dates: list[str], nested: list[tuple[str, Shift]]
) -> dict[str, Any]:
    changes = {}
    for name in dates:
        when = getattr(value, name)
        if when is not None:
            changes[name] = when + offset
    for name, inner in nested:
        held = getattr(value, name)
        if held:  # None or an empty list: nothing to shift
            changes[name] = inner(held, offset)
    return changes


def latest_date(record: PatientCreate) -> Any:
    """The latest date anywhere in ``record`` (the birth date at least): what a shift forward
    must keep at or before today."""
    found = [record.birth_date]
    _collect(record, _DATES, _NESTED_FIELDS, found)
    return max(found)


def _collect(value: Any, dates: list[str], nested: list[tuple[str, Any]], found: list[Any]) -> None:
    for name in dates:
        when = getattr(value, name)
        if when is not None:
            found.append(when)
    for name, plan in nested:
        held = getattr(value, name)
        if not held:
            continue
        dated, inner = plan
        for item in held if isinstance(held, list) else [held]:
            _collect(item, dated, inner, found)


def _record_plan() -> tuple[list[str], list[tuple[str, Shift]], dict[str, Any]]:
    info = mi.type_info(PatientCreate)
    assert isinstance(info, mi.StructType)
    defaults = {f.name: f.default for f in info.fields}
    cleared = {name: defaults[name] for name in IDENTIFYING}
    if any(v is msgspec.NODEFAULT for v in cleared.values()):
        raise TypeError("every identifying field needs a default to be dropped")
    return (*_plan(info), cleared)


_DATES, _NESTED, _CLEARED = _record_plan()


def _fields_plan(t: mi.Type) -> tuple[list[str], list[tuple[str, Any]]] | None:
    """The date fields of the records ``t`` holds (itself, a list of them or an optional
    one), and the same for their nested records; None when it holds no date."""
    t = _bare(t)
    if isinstance(t, mi.ListType):
        return _fields_plan(t.item_type)
    if isinstance(t, mi.UnionType):
        inner = [p for p in map(_fields_plan, t.types) if p is not None]
        return inner[0] if inner else None
    if isinstance(t, mi.StructType):
        dates = [f.name for f in t.fields if f.name in DATES]
        nested = [(f.name, p) for f in t.fields if f.name not in DATES and (p := _fields_plan(f.type))]
        return (dates, nested) if dates or nested else None
    return None


def _record_fields() -> list[tuple[str, Any]]:
    info = mi.type_info(PatientCreate)
    assert isinstance(info, mi.StructType)
    plan = _fields_plan(info)
    return plan[1] if plan else []


_NESTED_FIELDS = _record_fields()


def deidentified(
    deidentifier: Deidentifying, record: PatientCreate, *, offset: timedelta | None = None
) -> PatientCreate:
    """``record`` de-identified; ``offset``: its date shift when the caller has it already."""
    key = f"{record.source}:{record.source_record_id}"
    changes = _changes(record, offset_of(deidentifier, key) if offset is None else offset, _DATES, _NESTED)
    fitness = changes.get("fitness_for_surgery")
    if fitness is not None:
        changes["fitness_for_surgery"] = msgspec.structs.replace(fitness, assessed_by=WITHHELD, note=None)
    return msgspec.structs.replace(
        record, **_CLEARED, **changes, source_record_id=deidentifier.research_id(key)
    )
