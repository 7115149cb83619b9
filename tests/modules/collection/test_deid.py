"""De-identification on ingest and the column mapping give exactly what the generic versions
they replaced gave: the same records, dates, research ids and rejects."""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inescape.kernel.errors import Invalid
from inescape.modules.auth.deid import Deidentifier
from inescape.modules.collection.connectors.mapping import (
    BARE,
    PATIENT_FIELDS,
    SECTIONS,
    record_from_row,
    target_of,
)
from inescape.modules.collection.deid import DATES, IDENTIFYING, deidentified, offset_of
from inescape.modules.patients.api import (
    Biomarker,
    Condition,
    Observation,
    Outcome,
    PatientCreate,
    RiskFactors,
    Staging,
    Treatment,
)

SECRET = b"a-test-secret-of-32-bytes-length"
_PROBE = date(2000, 1, 1)


# --------------------------------------------------------------------------- the generic versions


def reference_offset(deidentifier: Deidentifier, key: str) -> timedelta:
    shifted = deidentifier.deidentify({"diagnosis_date": _PROBE.isoformat()}, patient_id=key)
    value = shifted.get("diagnosis_date")
    if not isinstance(value, str):
        raise Invalid("de-identification on ingest needs the de-identifier's date mode 'shift'")
    return date.fromisoformat(value) - _PROBE


def _reference_shift(node: Any, offset: timedelta) -> Any:
    if isinstance(node, dict):
        return {
            k: (date.fromisoformat(v) + offset).isoformat()
            if k in DATES and v
            else _reference_shift(v, offset)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_reference_shift(v, offset) for v in node]
    return node


def reference_deidentified(deidentifier: Deidentifier, record: PatientCreate) -> PatientCreate:
    key = f"{record.source}:{record.source_record_id}"
    plain = msgspec.to_builtins(record)
    offset = reference_offset(deidentifier, key)
    plain = _reference_shift({k: v for k, v in plain.items() if k not in IDENTIFYING}, offset)
    plain["source_record_id"] = deidentifier.research_id(key)
    return msgspec.convert(plain, PatientCreate)


def reference_record_from_row(row: Mapping[str, str], mapping: Mapping[str, str]) -> dict[str, Any]:
    record: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {}
    for field, column in mapping.items():
        value = (row.get(column) or "").strip()
        target = target_of(field)
        if not value or target is None:
            continue
        section, name = target
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


# --------------------------------------------------------------------------- generated records

days = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))
text = st.text(alphabet=string.ascii_letters + " -'", min_size=1, max_size=20)
maybe_text = st.none() | text

conditions = st.builds(
    Condition,
    diagnosis_date=days,
    histology=st.sampled_from(["squamous_cell_carcinoma", "adenocarcinoma", "other"]),
    morphology_code=st.sampled_from(["8070/3", "8140/3"]),
    topography_code=st.sampled_from(["C15.3", "C15.5", "C16.0"]),
    location=st.sampled_from(["upper", "lower", "egj"]),
    tumour_length_cm=st.none() | st.floats(min_value=0.5, max_value=30),
)
stagings = st.builds(
    Staging,
    kind=st.sampled_from(["clinical", "pathological"]),
    t=st.just("T2"),
    n=st.just("N0"),
    m=st.just("M0"),
    stage_group=st.just("II"),
    assessed_on=days,
)
biomarkers = st.builds(Biomarker, kind=st.just("her2"), value=st.just("0"), measured_on=days)
treatments = st.builds(
    Treatment,
    kind=st.sampled_from(["surgery", "systemic"]),
    start_date=days,
    end_date=st.none() | days,
    agents=st.lists(text, max_size=2),
)
observations = st.builds(Observation, code=st.just("718-7"), value=st.floats(-1e3, 1e3), observed_on=days)
outcomes = st.builds(
    Outcome,
    vital_status=st.sampled_from(["alive", "dead"]),
    last_follow_up=days,
    death_date=st.none() | days,
    recurrence_date=st.none() | days,
    cause_of_death=maybe_text,
)
records = st.builds(
    PatientCreate,
    sex=st.sampled_from(["female", "male"]),
    birth_date=days,
    given_name=maybe_text,
    family_name=maybe_text,
    mrn=maybe_text,
    national_id=maybe_text,
    ethnicity=maybe_text,
    province=maybe_text,
    address=maybe_text,
    phone=maybe_text,
    email=maybe_text,
    source=text,
    source_record_id=text,
    risk_factors=st.builds(RiskFactors, opium=st.none() | st.booleans()),
    conditions=st.lists(conditions, max_size=2),
    staging=st.lists(stagings, max_size=2),
    biomarkers=st.lists(biomarkers, max_size=2),
    treatments=st.lists(treatments, max_size=2),
    observations=st.lists(observations, max_size=2),
    outcome=st.none() | outcomes,
)


@pytest.fixture(scope="module")
def deidentifier() -> Deidentifier:
    return Deidentifier(SECRET)


# --------------------------------------------------------------------------- tests


@settings(max_examples=300, deadline=None)
@given(record=records)
def test_a_record_is_deidentified_exactly_as_the_generic_walk_did(record: PatientCreate) -> None:
    deidentifier = Deidentifier(SECRET)

    new = deidentified(deidentifier, record)

    assert msgspec.json.encode(new) == msgspec.json.encode(reference_deidentified(deidentifier, record))


@settings(max_examples=200, deadline=None)
@given(key=st.text(min_size=1, max_size=40))
def test_the_offset_is_the_one_the_full_deidentifier_gives(key: str) -> None:
    deidentifier = Deidentifier(SECRET)

    assert offset_of(deidentifier, key) == reference_offset(deidentifier, key)


def test_a_year_mode_deidentifier_is_refused_as_before() -> None:
    deidentifier = Deidentifier(SECRET, date_mode="year")

    with pytest.raises(Invalid) as old:
        reference_offset(deidentifier, "s:1")
    with pytest.raises(Invalid) as new:
        offset_of(deidentifier, "s:1")

    assert new.value.detail == old.value.detail


def test_a_date_shifted_out_of_range_fails_as_before(deidentifier: Deidentifier) -> None:
    record = PatientCreate(sex="male", birth_date=date(1, 1, 1), source="s", source_record_id="x")
    key = next(f"s:{i}" for i in range(100) if deidentifier.date_offset(f"s:{i}").days < 0)
    record = msgspec.structs.replace(record, source_record_id=key.removeprefix("s:"))

    with pytest.raises(OverflowError):
        reference_deidentified(deidentifier, record)
    with pytest.raises(OverflowError):
        deidentified(deidentifier, record)


def _date_fields(t: mi.Type, seen: set[type]) -> set[str]:
    if isinstance(t, mi.StructType) and t.cls not in seen:
        seen.add(t.cls)
        own = {f.name for f in t.fields if isinstance(f.type, mi.DateType)}
        own |= {
            f.name
            for f in t.fields
            if isinstance(f.type, mi.UnionType) and any(isinstance(x, mi.DateType) for x in f.type.types)
        }
        return own.union(*(_date_fields(f.type, seen) for f in t.fields))
    if isinstance(t, mi.ListType):
        return _date_fields(t.item_type, seen)
    if isinstance(t, mi.UnionType):
        return set().union(*(_date_fields(x, seen) for x in t.types))
    return set()


def test_every_date_field_of_the_record_is_one_that_is_shifted() -> None:
    assert _date_fields(mi.type_info(PatientCreate), set()) <= DATES


fields = st.sampled_from(sorted(PATIENT_FIELDS | set(BARE) | {f"{s}.x" for s in SECTIONS} | {"nope", "a.b"}))
columns = st.sampled_from(["A", "B", "C", "D", "E"])
cells = st.sampled_from(["", " ", "v", " 2020-01-02 ", "x y"])


@settings(max_examples=300, deadline=None)
@given(
    mapping=st.dictionaries(fields, columns, max_size=12),
    row=st.dictionaries(columns, cells, max_size=5),
)
def test_a_row_is_mapped_as_the_field_by_field_lookup_did(
    mapping: dict[str, str], row: dict[str, str]
) -> None:
    new = record_from_row(row, mapping)

    assert json.dumps(new) == json.dumps(reference_record_from_row(row, mapping))  # order too


def test_fitness_for_surgery_keeps_its_value_but_not_who_assessed_it_and_comorbidity_dates_shift(
    deidentifier: Deidentifier,
) -> None:
    record = msgspec.convert(
        {
            "sex": "male",
            "birth_date": "1958-03-14",
            "source": "registry",
            "source_record_id": "r-1",
            "fitness_for_surgery": {
                "fit": True,
                "assessed_by": "Dr Sara Ahmadi",
                "assessed_on": "2023-01-22",
                "note": "seen with her daughter Mina",
            },
            "comorbidities": [
                {
                    "system": "http://snomed.info/sct",
                    "code": "44054006",
                    "display": "Diabetes",
                    "recorded_on": "2020-05-01",
                }
            ],
        },
        PatientCreate,
    )
    offset = offset_of(deidentifier, "registry:r-1")

    out = deidentified(deidentifier, record)

    assert out.fitness_for_surgery is not None
    assert out.fitness_for_surgery.fit is True
    assert out.fitness_for_surgery.assessed_on == date(2023, 1, 22) + offset
    assert "Ahmadi" not in out.fitness_for_surgery.assessed_by
    assert out.fitness_for_surgery.note is None
    assert out.comorbidities[0].recorded_on == date(2020, 5, 1) + offset
