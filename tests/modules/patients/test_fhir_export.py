"""FHIR R4 / mCODE export of the clinical record, its NDJSON form and the import back."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fhir.resources.R4B import get_fhir_model_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inescape.kernel.errors import Invalid
from inescape.modules.patients import vocab
from inescape.modules.patients.api import PatientCreate, PatientRecord
from inescape.modules.patients.fhir import from_bundle, to_bundle, to_ndjson
from tests.support.records import RECORD, record

RECORD_ID = "0190a5b8-7c3e-7a1b-9f00-123456789abc"
NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
AJCC = "http://cancerstaging.org"


def _stu1_examples() -> Path | None:
    """The HL7 mCODE STU1 example JSON (CC0) from the shared reference data, where it is present."""
    here = Path(__file__).resolve().parents[1] / "support"  # a copy kept with the tests (CC0)
    for shared in (here, Path(__file__).resolve().parents[2] / "shared", Path("/work/shared")):
        if (shared / "realworld/mcode/stu1-json").is_dir():
            return shared / "realworld/mcode/stu1-json"
    return None


STU1 = _stu1_examples()
needs_stu1 = pytest.mark.skipif(
    STU1 is None, reason="shared/realworld/mcode/stu1-json is not on this machine"
)


def as_record(create: PatientCreate, record_id: str = RECORD_ID) -> PatientRecord:
    return PatientRecord(
        id=record_id, version=1, created_at=NOW, updated_at=NOW, **msgspec.structs.asdict(create)
    )


def patient_record(**changes: Any) -> PatientRecord:
    return as_record(msgspec.convert(record(**changes), PatientCreate))


def resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle["entry"]]


def by_profile(bundle: dict[str, Any], profile: str) -> list[dict[str, Any]]:
    return [r for r in resources(bundle) if MCODE + profile in r.get("meta", {}).get("profile", [])]


def codes(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept.get("coding", [])}


def resolve(bundle: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == ref["reference"])


def validate(resource: dict[str, Any]) -> None:
    """Parse with the fhir.resources R4B model of its type: raises on any structural error."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def references(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("reference"), str):
            yield node["reference"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


# --- the export, checked on the realistic record ---


def test_bundle_and_every_resource_parse_as_fhir_r4b() -> None:
    bundle = to_bundle(patient_record())

    validate(bundle)
    for resource in resources(bundle):
        validate(resource)


def test_bundle_is_a_collection_whose_references_all_resolve_inside_it() -> None:
    bundle = to_bundle(patient_record())

    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    assert bundle["type"] == "collection"
    assert all(url.startswith("urn:uuid:") for url in full_urls)
    assert set(references(resources(bundle))) <= full_urls


def test_patient_carries_the_cancer_patient_profile_identifiers_and_address() -> None:
    [patient] = by_profile(to_bundle(patient_record()), "mcode-cancer-patient")

    identifiers = {i["system"]: i["value"] for i in patient["identifier"]}
    assert identifiers["https://inescape.example/fhir/identifier/mrn"] == "GOL-0045812"
    assert identifiers["https://inescape.example/fhir/identifier/national-id"] == "2750398814"
    assert patient["id"] == RECORD_ID
    assert patient["gender"] == "male"
    assert patient["birthDate"] == "1958-03-14"
    assert patient["address"] == [
        {"line": ["12 Shahid Beheshti St, Gonbad-e Kavus"], "state": "Golestan", "country": "IR"}
    ]
    assert {
        "url": "https://inescape.example/fhir/StructureDefinition/ethnicity",
        "valueString": "Turkmen",
    } in (patient["extension"])
    assert patient["deceasedBoolean"] is False


def test_primary_condition_maps_topography_morphology_and_diagnosis_date() -> None:
    [condition] = by_profile(to_bundle(patient_record()), "mcode-primary-cancer-condition")

    [site] = condition["bodySite"]
    [morphology] = [
        e for e in condition["extension"] if e["url"] == MCODE + "mcode-histology-morphology-behavior"
    ]
    assert ("http://hl7.org/fhir/sid/icd-10-cm", "C15.4") in codes(condition["code"])
    assert ("http://terminology.hl7.org/CodeSystem/icd-o-3", "C15.4") in codes(site)
    assert (SNOMED, "32849002") in codes(site)  # esophageal structure
    assert site["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "260528009"  # middle
    assert ("http://terminology.hl7.org/CodeSystem/icd-o-3", "8070/3") in codes(
        morphology["valueCodeableConcept"]
    )
    assert condition["onsetDateTime"] == "2023-01-10"
    assert condition["stage"][0]["summary"]["coding"][0] == {"system": AJCC, "code": "3", "display": "III"}


def test_cervical_and_upper_thoracic_sites_fall_back_to_who_icd10_where_icd10cm_has_no_code() -> None:
    condition = {**RECORD["conditions"][0], "topography_code": "C15.0", "location": "cervical"}
    bundle = to_bundle(patient_record(conditions=[condition]))

    [resource] = by_profile(bundle, "mcode-primary-cancer-condition")
    assert codes(resource["code"]) == {("http://hl7.org/fhir/sid/icd-10", "C15.0")}
    assert (SNOMED, "60075002") in codes(resource["bodySite"][0])  # cervical esophagus


def test_staging_is_a_tnm_stage_group_whose_members_are_the_t_n_m_categories() -> None:
    bundle = to_bundle(patient_record())

    [group] = by_profile(bundle, "mcode-tnm-stage-group")
    members = [resolve(bundle, ref) for ref in group["hasMember"]]
    assert codes(group["code"]) == {(LOINC, "21908-9")}
    assert codes(group["valueCodeableConcept"]) == {(AJCC, "3")}
    assert (SNOMED, "897275008") in codes(group["method"])
    assert [
        (next(iter(codes(m["code"])))[1], m["valueCodeableConcept"]["coding"][0]["code"]) for m in members
    ] == [
        ("21905-5", "cT3"),
        ("21906-3", "cN1"),
        ("21907-1", "cM0"),
    ]
    assert [m["meta"]["profile"][0].removeprefix(MCODE) for m in members] == [
        "mcode-tnm-primary-tumor-category",
        "mcode-tnm-regional-nodes-category",
        "mcode-tnm-distant-metastases-category",
    ]


@pytest.mark.parametrize(
    ("kind", "group_code", "t_code", "t_value"),
    [("pathological", "21902-2", "21899-0", "pT2"), ("post_neoadjuvant", "21914-7", "21899-0", "ypT2")],
)
def test_pathological_and_yp_staging_take_their_loinc_codes(
    kind: str, group_code: str, t_code: str, t_value: str
) -> None:
    staging = {
        "kind": kind,
        "t": "T2",
        "n": "N0",
        "m": "M0",
        "stage_group": "IIA",
        "assessed_on": "2023-05-01",
    }
    bundle = to_bundle(patient_record(staging=[staging]))

    [group] = by_profile(bundle, "mcode-tnm-stage-group")
    t = resolve(bundle, group["hasMember"][0])
    assert codes(group["code"]) == {(LOINC, group_code)}
    assert codes(group["valueCodeableConcept"]) == {(AJCC, "2A")}
    assert codes(t["code"]) == {(LOINC, t_code)}
    assert t["valueCodeableConcept"]["coding"][0]["code"] == t_value


def test_tumour_markers_use_loinc_where_it_has_a_code_and_ours_otherwise() -> None:
    markers = [
        {"kind": "her2", "value": "2+ ISH-", "measured_on": "2023-01-25"},
        {"kind": "msi", "value": "MSS", "measured_on": "2023-01-25"},
        {"kind": "pdl1_cps", "value": "7", "measured_on": "2023-01-25"},
    ]
    tests = by_profile(to_bundle(patient_record(biomarkers=markers)), "mcode-tumor-marker-test")

    assert [codes(t["code"]) for t in tests] == [
        {(LOINC, "48676-1"), ("https://inescape.example/fhir/CodeSystem/biomarker", "her2")},
        {(LOINC, "81695-9"), ("https://inescape.example/fhir/CodeSystem/biomarker", "msi")},
        {("https://inescape.example/fhir/CodeSystem/biomarker", "pdl1_cps")},
    ]
    assert [t["valueString"] for t in tests] == ["2+ ISH-", "MSS", "7"]


def test_radiotherapy_is_a_course_summary_with_dose_in_cgy_and_fractions() -> None:
    bundle = to_bundle(patient_record())

    [course] = by_profile(bundle, "mcode-radiotherapy-course-summary")
    [dose] = [
        e for e in course["extension"] if e["url"] == MCODE + "mcode-radiotherapy-dose-delivered-to-volume"
    ]
    parts = {p["url"]: p for p in dose["extension"]}
    assert (SNOMED, "1217123003") in codes(course["code"])
    assert course["performedPeriod"] == {"start": "2023-02-01", "end": "2023-03-08"}
    assert parts["totalDoseDelivered"]["valueQuantity"] == {
        "value": 4140.0,
        "unit": "cGy",
        "system": "http://unitsofmeasure.org",
        "code": "cGy",
    }
    assert parts["fractionsDelivered"]["valueUnsignedInt"] == 23
    assert resolve(bundle, parts["volume"]["valueReference"])["resourceType"] == "BodyStructure"


def test_surgery_is_a_cancer_related_surgical_procedure_with_its_name_and_margin() -> None:
    [surgery] = by_profile(to_bundle(patient_record()), "mcode-cancer-related-surgical-procedure")

    assert surgery["code"]["text"] == "Ivor Lewis esophagectomy"
    assert surgery["performedPeriod"] == {"start": "2023-04-20"}
    assert {
        "url": "https://inescape.example/fhir/StructureDefinition/resection-margin",
        "valueCode": "R0",
    } in (surgery["extension"])


def test_each_systemic_agent_is_a_medication_request_of_one_group_with_intent_and_regimen() -> None:
    requests = by_profile(to_bundle(patient_record()), "mcode-cancer-related-medication-request")

    assert [r["medicationCodeableConcept"]["text"] for r in requests] == ["carboplatin", "paclitaxel"]
    assert len({r["groupIdentifier"]["value"] for r in requests}) == 1
    [intent] = [e for e in requests[0]["extension"] if e["url"] == MCODE + "mcode-procedure-intent"]
    assert codes(intent["valueCodeableConcept"]) == {
        (SNOMED, "373808002"),
        ("https://inescape.example/fhir/CodeSystem/treatment-intent", "neoadjuvant"),
    }
    assert {"url": "https://inescape.example/fhir/StructureDefinition/regimen", "valueString": "CROSS"} in (
        requests[0]["extension"]
    )


def test_ecog_is_an_integer_with_its_profile_and_labs_are_ucum_quantities() -> None:
    bundle = to_bundle(patient_record())

    [ecog] = by_profile(bundle, "mcode-ecog-performance-status")
    [albumin] = [r for r in resources(bundle) if (LOINC, "1751-7") in codes(r.get("code", {}))]
    assert codes(ecog["code"]) == {(LOINC, "89247-1")}
    assert ecog["valueInteger"] == 1
    assert albumin["valueQuantity"] == {
        "value": 3.6,
        "unit": "g/dL",
        "system": "http://unitsofmeasure.org",
        "code": "g/dL",
    }


def test_a_death_is_the_patients_deceased_date_and_a_vital_status_observation() -> None:
    outcome = {
        "vital_status": "dead",
        "last_follow_up": "2024-02-01",
        "death_date": "2024-02-01",
        "recurrence_date": "2023-11-15",
        "recurrence_site": "liver",
    }
    bundle = to_bundle(patient_record(outcome=outcome))

    patient = resources(bundle)[0]
    [vital] = [r for r in resources(bundle) if (LOINC, "75186-7") in codes(r.get("code", {}))]
    assert patient["deceasedDateTime"] == "2024-02-01"
    assert vital["effectiveDateTime"] == "2024-02-01"  # the last follow-up
    assert codes(vital["valueCodeableConcept"]) == {
        ("https://inescape.example/fhir/CodeSystem/outcome", "dead")
    }


def test_a_progression_is_an_mcode_cancer_disease_status_of_a_worsened_condition() -> None:
    outcome = {"vital_status": "alive", "last_follow_up": "2024-02-01", "progression_date": "2023-09-02"}
    bundle = to_bundle(patient_record(outcome=outcome))

    [status] = [r for r in resources(bundle) if (LOINC, "97509-4") in codes(r.get("code", {}))]
    assert status["meta"]["profile"] == [
        "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-cancer-disease-status"
    ]
    assert codes(status["valueCodeableConcept"]) == {("http://snomed.info/sct", "271299001")}
    assert status["effectiveDateTime"] == "2023-09-02"
    [condition] = [r for r in resources(bundle) if r["resourceType"] == "Condition"]
    focus = {e["fullUrl"] for e in bundle["entry"] if e["resource"] is condition}
    assert {status["focus"][0]["reference"]} == focus
    assert from_bundle(bundle).outcome.progression_date == date(2023, 9, 2)


def test_the_first_worsened_status_of_an_ehr_is_the_progression_and_an_improved_one_is_named() -> None:
    bundle = to_bundle(patient_record(outcome={"vital_status": "alive", "last_follow_up": "2024-02-01"}))
    subject = resources(bundle)[0]["id"]

    def status(day: str, value: str) -> dict[str, Any]:
        return {
            "resource": {
                "resourceType": "Observation",
                "id": f"status-{day}",
                "status": "final",
                "code": {"coding": [{"system": LOINC, "code": "97509-4"}]},
                "subject": {"reference": f"Patient/{subject}"},
                "effectiveDateTime": day,
                "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": value}]},
            }
        }

    worsened = {
        **bundle,
        "entry": [*bundle["entry"], status("2023-12-01", "271299001"), status("2023-08-01", "271299001")],
    }
    improved = {**bundle, "entry": [*bundle["entry"], status("2023-10-01", "268910001")]}

    assert from_bundle(worsened).outcome.progression_date == date(2023, 8, 1)
    with pytest.raises(Invalid) as refused:
        from_bundle(improved)
    assert "Observation/status-2023-10-01.value[x]" in [e["field"] for e in refused.value.errors]


def test_an_http_base_gives_typed_full_urls_and_relative_references() -> None:
    bundle = to_bundle(patient_record(), base_url="https://fhir.example.org/r4/")

    assert bundle["entry"][0]["fullUrl"] == f"https://fhir.example.org/r4/Patient/{RECORD_ID}"
    assert f"Patient/{RECORD_ID}" in set(references(resources(bundle)))
    assert from_bundle(bundle) == msgspec.convert(RECORD, PatientCreate)


def test_a_base_url_that_is_not_a_fhir_base_is_refused() -> None:
    with pytest.raises(Invalid, match="base_url"):
        to_bundle(patient_record(), base_url="ftp://nowhere")


# --- round trip ---


def test_the_realistic_record_survives_fhir_and_back() -> None:
    create = msgspec.convert(RECORD, PatientCreate)
    bundle = to_bundle(as_record(create))

    assert from_bundle(bundle) == create
    assert to_bundle(as_record(from_bundle(bundle))) == bundle


def test_a_bundle_read_back_from_json_text_survives_too() -> None:
    bundle = to_bundle(patient_record())

    assert from_bundle(json.loads(json.dumps(bundle))) == msgspec.convert(RECORD, PatientCreate)


TEXT = st.text(alphabet=st.characters(categories=("L", "N", "P")), min_size=1, max_size=12)
DAYS = st.dates(min_value=date(1920, 1, 1), max_value=date(2030, 12, 31))
MORPHOLOGY = {"squamous_cell_carcinoma": (8050, 8089), "adenocarcinoma": (8140, 8389), "other": (8000, 9999)}


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, Any]:
    histology = draw(st.sampled_from(vocab.HISTOLOGIES))
    low, high = MORPHOLOGY[histology]
    return {
        "diagnosis_date": draw(DAYS),
        "histology": histology,
        "morphology_code": f"{draw(st.integers(low, high))}/{draw(st.integers(0, 9))}",
        "topography_code": draw(st.sampled_from(sorted(vocab.TOPOGRAPHIES))),
        "location": draw(st.sampled_from(vocab.LOCATIONS)),
        "siewert": draw(maybe(st.sampled_from(vocab.SIEWERT_TYPES))),
        "grade": draw(st.sampled_from(vocab.GRADES)),
        "tumour_length_cm": draw(maybe(st.floats(0.1, 30))),
    }


STAGING = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(vocab.STAGING_KINDS),
        "t": st.sampled_from(vocab.T_CATEGORIES),
        "n": st.sampled_from(vocab.N_CATEGORIES),
        "m": st.sampled_from(vocab.M_CATEGORIES),
        "stage_group": st.sampled_from(vocab.STAGE_GROUPS),
        "assessed_on": DAYS,
        "grade": maybe(st.sampled_from(vocab.GRADES)),
        "location": maybe(st.sampled_from(vocab.LOCATIONS)),
        "method": st.sampled_from(["AJCC 8th edition", "AJCC 7th edition", "UICC 8th edition"]),
    }
)
BIOMARKERS = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(vocab.BIOMARKERS),
        "value": st.sampled_from([*vocab.HER2_RESULTS, *vocab.MSI_RESULTS, *vocab.MMR_RESULTS, "0", "12.5"]),
        "measured_on": DAYS,
    }
)


@st.composite
def treatments(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(vocab.TREATMENT_KINDS))
    radiotherapy = kind == "radiotherapy"
    return {
        "kind": kind,
        "start_date": draw(DAYS),
        "end_date": draw(maybe(DAYS)),
        "intent": draw(maybe(st.sampled_from(vocab.INTENTS))),
        "procedure": draw(maybe(TEXT)),
        "regimen": draw(maybe(TEXT)),
        "agents": draw(st.lists(TEXT, max_size=3)),
        "line": draw(maybe(st.integers(1, 10))),
        "margin": draw(maybe(st.sampled_from(vocab.MARGINS))),
        # dose and fractions belong to radiotherapy (validation.check_treatment)
        "dose_gy": draw(maybe(st.integers(1, 1000).map(lambda x: x / 10))) if radiotherapy else None,
        "fractions": draw(maybe(st.integers(1, 60))) if radiotherapy else None,
        "pathologic_complete_response": draw(maybe(st.booleans())),
        "tumour_regression_grade": draw(maybe(st.integers(1, 5))),
    }


@st.composite
def observations(draw: st.DrawFn) -> dict[str, Any]:
    code = draw(st.sampled_from(sorted(vocab.OBSERVATION_CODES)))
    ecog = code == "89247-1"
    value = draw(st.integers(0, 5)) if ecog else draw(st.floats(0, 1e5))
    unit = draw(maybe(st.just(vocab.OBSERVATION_CODES[code][1])))
    return {"code": code, "value": value, "observed_on": draw(DAYS), "unit": unit}


@st.composite
def outcomes(draw: st.DrawFn) -> dict[str, Any]:
    status = draw(st.sampled_from(vocab.VITAL_STATUSES))
    return {
        "vital_status": status,
        "last_follow_up": draw(DAYS),
        "death_date": draw(maybe(DAYS)) if status == "dead" else None,  # validation.check_outcome
        "cause_of_death": draw(maybe(TEXT)),
        "recurrence_date": draw(maybe(DAYS)),
        "recurrence_site": draw(maybe(TEXT)),
        "progression_date": draw(maybe(DAYS)),
    }


RISK_FACTORS = st.fixed_dictionaries(
    {
        "tobacco": st.sampled_from(vocab.TOBACCO),
        "pack_years": maybe(st.floats(0, 300)),
        "alcohol_g_per_day": maybe(st.floats(0, 500)),
        "opium": maybe(st.booleans()),
        "hot_beverages": maybe(st.booleans()),
        "gerd": maybe(st.booleans()),
        "barretts": maybe(st.booleans()),
        "bmi": maybe(st.floats(10, 80)),
        "family_history": maybe(st.booleans()),
        "socioeconomic_status": st.sampled_from(vocab.SES_LEVELS),
    }
)
PATIENTS = st.fixed_dictionaries(
    {
        "sex": st.sampled_from(vocab.SEXES),
        "birth_date": DAYS,
        "given_name": maybe(TEXT),
        "family_name": maybe(TEXT),
        "mrn": maybe(TEXT),
        "national_id": maybe(TEXT),
        "ethnicity": maybe(TEXT),
        "country": maybe(st.sampled_from(["IR", "CN", "FR", "US"])),
        "province": maybe(TEXT),
        "address": maybe(TEXT),
        "phone": maybe(TEXT),
        "email": maybe(TEXT),
        "origin": st.sampled_from(vocab.ORIGINS),
        "source": maybe(TEXT),
        "source_record_id": maybe(TEXT),
        "synthetic_risk": maybe(st.floats(-10, 10)),
        "risk_factors": RISK_FACTORS,
        "conditions": st.lists(conditions(), max_size=2),
        "staging": st.lists(STAGING, max_size=3),
        "biomarkers": st.lists(BIOMARKERS, max_size=3),
        "treatments": st.lists(treatments(), max_size=4),
        "observations": st.lists(observations(), max_size=4),
        "outcome": maybe(outcomes()),
    }
).map(lambda data: msgspec.convert(data, PatientCreate))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PATIENTS)
def test_any_record_survives_fhir_and_back(create: PatientCreate) -> None:
    bundle = to_bundle(as_record(create))

    assert from_bundle(bundle) == create
    assert to_bundle(as_record(from_bundle(bundle))) == bundle


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PATIENTS)
def test_any_record_exports_resources_that_parse_as_fhir_r4b(create: PatientCreate) -> None:
    bundle = to_bundle(as_record(create))

    validate(bundle)
    for resource in resources(bundle):
        validate(resource)


# --- NDJSON ---


def test_ndjson_is_one_valid_resource_per_line_for_every_record() -> None:
    records = [patient_record(), as_record(msgspec.convert(RECORD, PatientCreate), "another-record.7")]

    lines = list(to_ndjson(records))

    assert all(line.endswith("\n") and "\n" not in line[:-1] for line in lines)
    parsed = [json.loads(line) for line in lines]
    for resource in parsed:
        validate(resource)
    assert len(parsed) == sum(len(to_bundle(r)["entry"]) for r in records)
    assert [r["id"] for r in parsed if r["resourceType"] == "Patient"] == [RECORD_ID, "another-record.7"]
    assert not any(ref.startswith("urn:") for ref in references(parsed))  # bulk data: Type/id


def test_ndjson_streams_one_record_at_a_time() -> None:
    pulled = []

    def records() -> Iterator[PatientRecord]:
        for n in range(3):
            pulled.append(n)
            yield patient_record()

    first = next(to_ndjson(records()))

    assert json.loads(first)["resourceType"] == "Patient"
    assert pulled == [0]


# --- refusals ---


def refusal(bundle: Any) -> Invalid:
    with pytest.raises(Invalid) as caught:
        from_bundle(bundle)
    return caught.value


def fields(error: Invalid) -> list[str]:
    return [e["field"] for e in error.errors]


def exported() -> dict[str, Any]:
    return copy.deepcopy(to_bundle(patient_record()))


def test_a_bundle_without_a_patient_is_refused() -> None:
    bundle = exported()
    bundle["entry"] = bundle["entry"][1:]

    assert "exactly one Patient, not 0" in refusal(bundle).detail


def test_something_that_is_not_a_bundle_is_refused() -> None:
    assert fields(refusal({"resourceType": "Patient"})) == ["Bundle"]


def test_a_snomed_morphology_is_read_as_its_icd_o_3_code() -> None:
    bundle = exported()
    condition = resources(bundle)[1]
    condition["extension"][0]["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": "28899001"}]}

    [read] = from_bundle(bundle).conditions

    assert (read.morphology_code, read.histology) == ("8070/3", "squamous_cell_carcinoma")


def test_a_snomed_morphology_not_in_the_terminology_is_refused_naming_its_extension() -> None:
    bundle = exported()
    condition = resources(bundle)[1]
    condition["extension"][0]["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": "82711006"}]}

    error = refusal(bundle)

    assert fields(error) == [f"Condition/{condition['id']}.extension[histology-morphology-behavior]"]
    assert "http://snomed.info/sct|82711006" in error.detail


def test_a_bad_date_is_refused_naming_the_resource_and_element() -> None:
    bundle = exported()
    [marker] = by_profile(bundle, "mcode-tumor-marker-test")
    marker["effectiveDateTime"] = "2023-02-30"

    assert fields(refusal(bundle)) == [f"Observation/{marker['id']}.effectiveDateTime"]


def test_a_partial_date_is_refused() -> None:
    bundle = exported()
    resources(bundle)[0]["birthDate"] = "1958"

    assert fields(refusal(bundle)) == [f"Patient/{RECORD_ID}.birthDate"]


def test_a_stage_group_in_snomed_is_read_from_its_code() -> None:
    bundle = exported()
    [group] = by_profile(bundle, "mcode-tnm-stage-group")
    group["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": "1222769001"}]}

    assert [s.stage_group for s in from_bundle(bundle).staging] == ["IIB"]


def test_a_stage_group_in_an_unknown_snomed_code_is_refused() -> None:
    bundle = exported()
    [group] = by_profile(bundle, "mcode-tnm-stage-group")
    group["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": "254637007"}]}

    error = refusal(bundle)

    assert fields(error) == [f"Observation/{group['id']}.valueCodeableConcept"]
    assert "cancerstaging.org" in error.detail


def test_an_observation_in_an_unknown_code_system_is_refused() -> None:
    bundle = exported()
    [ecog] = by_profile(bundle, "mcode-ecog-performance-status")
    ecog["code"] = {"coding": [{"system": "http://example.org/codes", "code": "ECOG"}]}

    assert fields(refusal(bundle)) == [f"Observation/{ecog['id']}.code"]


def test_every_problem_is_reported_at_once() -> None:
    bundle = exported()
    [marker] = by_profile(bundle, "mcode-tumor-marker-test")
    [group] = by_profile(bundle, "mcode-tnm-stage-group")
    marker["effectiveDateTime"] = "soon"
    m_category = group["hasMember"].pop()
    bundle["entry"] = [e for e in bundle["entry"] if e["fullUrl"] != m_category["reference"]]

    assert fields(refusal(bundle)) == [
        f"Observation/{group['id']}.hasMember",
        f"Observation/{marker['id']}.effectiveDateTime",
    ]


def test_a_mapped_value_the_record_does_not_accept_is_refused_with_its_field() -> None:
    bundle = exported()
    resources(bundle)[0]["address"][0]["country"] = "Iran"

    assert fields(refusal(bundle)) == ["country"]


# --- the HL7 mCODE STU1 examples (a lung cancer patient) ---


def stu1_bundle(*names: str) -> dict[str, Any]:
    assert STU1 is not None
    files = [STU1 / f"{name}.json" for name in names] if names else sorted(STU1.glob("*.json"))
    entries = []
    for path in files:
        resource = json.loads(path.read_text())
        entries.append(
            {
                "fullUrl": f"http://example.org/fhir/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
            }
        )
    return {"resourceType": "Bundle", "type": "collection", "entry": entries}


@needs_stu1
def test_the_stu1_examples_are_refused_naming_what_the_record_cannot_hold() -> None:
    # Refused, as it should be: the examples describe non-small cell lung cancer (SNOMED
    # 254637007, lung body site), a disease status and a tumour marker (LOINC 39004-7) the
    # esophageal record has no place for, and a pathological stage group whose T/N/M members
    # are not among the published examples.
    error = refusal(stu1_bundle())

    assert sorted(fields(error)) == [
        "Condition/mCODEPrimaryCancerConditionExample01.code",
        "Observation/mCODECancerDiseaseStatusExample01.value[x]",
        "Observation/mCODETNMPathologicalStageGroupExample01.hasMember[0]",
        "Observation/mCODETumorMarkerExample01.code",
    ]
    assert "http://snomed.info/sct|254637007 is not an esophageal or EGJ cancer" in error.detail


@needs_stu1
def test_the_stu1_examples_the_record_can_hold_are_mapped() -> None:
    # Mapped: the patient, ECOG, the clinical TNM stage group with its categories (values in
    # http://cancerstaging.org, "3C" -> IIIC) and both procedures (radiation via its STU1 profile).
    bundle = stu1_bundle(
        "Patient-mCODEPatientExample01",
        "Observation-mCODEECOGPerformanceStatusExample01",
        "Observation-mCODETNMClinicalStageGroupExample01",
        "Observation-mCODETNMClinicalPrimaryTumorCategoryExample01",
        "Observation-mCODETNMClinicalRegionalNodesCategoryExample01",
        "Observation-mCODETNMClinicalDistantMetastasesCategoryExample01",
        "Procedure-mCODECancerRelatedRadiationProcedureExample01",
        "Procedure-mCODECancerRelatedSurgicalProcedureExample01",
    )

    create = from_bundle(bundle)

    assert (create.mrn, create.given_name, create.family_name) == ("m123", "John B.", "Anyperson")
    assert (create.sex, create.birth_date, create.country) == ("male", date(1951, 1, 20), "US")
    assert create.address == "123 Main St, Anytown, 12345"
    [staging] = create.staging
    assert (staging.kind, staging.t, staging.n, staging.m, staging.stage_group) == (
        "clinical",
        "T3",
        "N3",
        "M0",
        "IIIC",
    )
    assert staging.assessed_on == date(2019, 4, 1)
    assert [(o.code, o.value) for o in create.observations] == [("89247-1", 0.0)]
    assert [(t.kind, t.start_date) for t in create.treatments] == [
        ("radiotherapy", date(2019, 3, 1)),
        ("surgery", date(2019, 3, 1)),
    ]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=5), inner, max_size=2),
    max_leaves=4,
)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_damaged_bundle_maps_or_is_refused_but_never_crashes(data: st.DataObject) -> None:
    bundle = exported()
    resource = data.draw(st.sampled_from(resources(bundle)))
    key = data.draw(st.sampled_from(sorted(resource)))
    resource[key] = data.draw(JSON_VALUES)

    outcome = mapped_or_refused(bundle)

    assert isinstance(outcome, PatientCreate) or outcome.errors


def mapped_or_refused(bundle: dict[str, Any]) -> PatientCreate | Invalid:
    try:
        return from_bundle(bundle)
    except Invalid as error:
        return error
