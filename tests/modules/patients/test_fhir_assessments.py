"""Fitness for surgery, tumour invasion and comorbidities in FHIR: how they are exported (valid
R4, coded as ``terms/assessments.csv`` says), read back, and read from an mCODE-shaped bundle
that names comorbidities by code; what cannot be read is named, never dropped silently."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from fhir.resources.R4B import get_fhir_model_class

from inescape.kernel.errors import Invalid
from inescape.modules.patients.api import PatientCreate, PatientRecord
from inescape.modules.patients.fhir import from_bundle, read_bundle, to_bundle
from inescape.modules.patients.fhir.server import Pseudonym, deidentified_resources
from inescape.modules.patients.fhir.terminology import table
from tests.support.records import record

NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
FITNESS = {"fit": False, "assessed_by": "Dr Sara Ahmadi", "assessed_on": "2023-01-22", "note": "FEV1 0.9 L"}
COMORBIDITIES = [
    {
        "system": "http://hl7.org/fhir/sid/icd-10-cm",
        "code": "I11.9",
        "display": "Hypertensive heart disease without heart failure",
        "recorded_on": "2021-02-01",
    },
    {
        "system": SNOMED,
        "code": "13645005",
        "display": "Chronic obstructive lung disease (disorder)",
        "category": "chronic_pulmonary_disease",
    },
]


def assessed_record(**changes: Any) -> PatientRecord:
    data = record(fitness_for_surgery=FITNESS, comorbidities=COMORBIDITIES, **changes)
    data["conditions"][0] |= {"lymphovascular_invasion": False, "invades_airway_or_great_vessels": True}
    create = msgspec.convert(data, PatientCreate)
    return PatientRecord(
        id="0190a5b8-7c3e-7a1b-9f00-123456789abc",
        version=3,
        created_at=NOW,
        updated_at=NOW,
        **msgspec.structs.asdict(create),
    )


def resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle["entry"]]


def coded(resource: dict[str, Any], system: str, code: str) -> bool:
    return any(
        c.get("system") == system and c.get("code") == code
        for c in resource.get("code", {}).get("coding", [])
    )


def test_every_new_resource_is_valid_r4_and_coded_as_the_terms_file_says():
    out = resources(to_bundle(assessed_record()))
    for resource in out:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    terms = table("assessments.csv")

    (fitness,) = [
        r for r in out if coded(r, "https://inescape.example/fhir/CodeSystem/assessment", "fit-for-surgery")
    ]
    (lvi,) = [r for r in out if coded(r, LOINC, "33739-4")]
    (summary,) = [r for r in out if coded(r, SNOMED, "398192003")]
    comorbid = [
        r
        for r in out
        if r["resourceType"] == "Condition" and r["code"]["coding"][0]["code"] in ("I11.9", "13645005")
    ]

    assert (fitness["valueBoolean"], fitness["effectiveDateTime"]) == (False, "2023-01-22")
    assert fitness["performer"] == [{"display": "Dr Sara Ahmadi"}]
    assert fitness["note"] == [{"text": "FEV1 0.9 L"}]
    assert lvi["valueCodeableConcept"]["coding"][0]["code"] == "2667000"  # Absent
    assert terms[(SNOMED, "2667000")].values["value"] == "false"
    assert all(
        terms[(c["system"], c["code"])].source
        for r in (fitness, lvi, summary)
        for c in r["code"]["coding"]
        if (c["system"], c["code"]) in terms
    )
    assert summary["meta"]["profile"] == [MCODE + "mcode-comorbidities"]
    assert [e["valueReference"]["reference"] for e in summary["extension"]] == [
        f"urn:uuid:{c['id']}" for c in comorbid
    ]
    assert comorbid[1]["category"][1]["coding"][0]["code"] == "chronic_pulmonary_disease"
    assert comorbid[0]["recordedDate"] == "2021-02-01"


def test_a_round_trip_keeps_every_assessment():
    original = assessed_record()

    back = from_bundle(to_bundle(original))

    assert back.fitness_for_surgery == original.fitness_for_surgery
    assert back.comorbidities == original.comorbidities
    assert back.conditions == original.conditions


def test_a_de_identified_fhir_record_has_no_assessor_and_no_note():
    who = Pseudonym(research_id="R-0123456789abcdef", offset=NOW - NOW.replace(day=1), year_only=False)

    out = deidentified_resources(assessed_record(), who, today=NOW.date())

    (fitness,) = [r for r in out if "fit-for-surgery" in str(r.get("code"))]
    assert "performer" not in fitness
    assert "note" not in fitness
    assert fitness["effectiveDateTime"] == "2023-01-23"  # shifted by the patient's offset (1 day)
    assert "Ahmadi" not in str(out)


def mcode_bundle(*extra: dict[str, Any]) -> dict[str, Any]:
    """The record exported, without its own assessments, plus ``extra`` EHR-shaped resources."""
    plain = msgspec.structs.replace(assessed_record(), fitness_for_surgery=None, comorbidities=[])
    plain = msgspec.structs.replace(
        plain,
        conditions=[
            msgspec.structs.replace(c, lymphovascular_invasion=None, invades_airway_or_great_vessels=None)
            for c in plain.conditions
        ],
    )
    bundle = to_bundle(plain, base_url="http://ehr.example/fhir")
    patient = next(r for r in resources(bundle) if r["resourceType"] == "Patient")
    for resource in extra:
        resource = copy.deepcopy(resource)
        resource["subject"] = {"reference": f"Patient/{patient['id']}"}
        bundle["entry"].append(
            {
                "fullUrl": f"http://ehr.example/fhir/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
            }
        )
    return bundle


HYPERTENSION = {  # as the mCODE STU3 extended example codes it (us-core-condition-hypertension-jenny-m)
    "resourceType": "Condition",
    "id": "hypertension",
    "category": [
        {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                    "code": "problem-list-item",
                }
            ]
        }
    ],
    "code": {
        "coding": [
            {
                "system": SNOMED,
                "code": "77970009",
                "display": "Benign hypertensive heart disease without congestive heart failure (disorder)",
            }
        ]
    },
}
UNRELATED = {  # a problem-list entry no Comorbidities Observation names: not read as a comorbidity
    "resourceType": "Condition",
    "id": "med-review",
    "code": {
        "coding": [{"system": SNOMED, "code": "314529007", "display": "Medication review due (situation)"}]
    },
}
COMORBIDITIES_OBS = {
    "resourceType": "Observation",
    "id": "comorbidities",
    "meta": {"profile": [MCODE + "mcode-comorbidities"]},
    "status": "final",
    "code": {"coding": [{"system": SNOMED, "code": "398192003"}]},
    "extension": [
        {"url": MCODE + "mcode-related-condition", "valueReference": {"reference": "Condition/hypertension"}},
        {
            "url": MCODE + "mcode-related-condition",
            "valueCodeableConcept": {
                "coding": [{"system": SNOMED, "code": "73211009", "display": "Diabetes mellitus (disorder)"}]
            },
        },
        {
            "url": MCODE + "mcode-related-condition-absent",
            "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "414916001"}]},
        },
    ],
    "dataAbsentReason": {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "not-permitted"}
        ]
    },
}


def lvi(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "lvi",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "33739-4"}]},
        **value,
    }


def test_mcode_comorbidities_are_read_by_reference_and_by_code_and_absent_ones_are_not():
    created = from_bundle(mcode_bundle(HYPERTENSION, UNRELATED, COMORBIDITIES_OBS))

    assert [(c.system, c.code) for c in created.comorbidities] == [(SNOMED, "77970009"), (SNOMED, "73211009")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "52101004"}]}}, True),
        ({"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "2667000"}]}}, False),
        ({"valueBoolean": True}, True),
    ],
)
def test_lymphovascular_invasion_is_read_onto_the_primary_condition(value, expected):
    created = from_bundle(mcode_bundle(lvi(value)))

    assert created.conditions[0].lymphovascular_invasion is expected


def test_an_answer_that_is_neither_present_nor_absent_is_named_and_left_unknown():
    indeterminate = lvi({"valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "82334004"}]}})

    created, skipped = read_bundle(mcode_bundle(indeterminate))
    with pytest.raises(Invalid) as refused:
        from_bundle(mcode_bundle(indeterminate))

    assert created.conditions[0].lymphovascular_invasion is None
    assert [p["field"] for p in skipped] == ["Observation/lvi.value[x]"]
    assert "Observation/lvi.value[x]" in [e["field"] for e in refused.value.errors]


def test_a_fitness_observation_without_who_assessed_it_is_named():
    fitness = next(
        r for r in resources(to_bundle(assessed_record())) if "fit-for-surgery" in str(r.get("code"))
    )
    del fitness["performer"]
    fitness["id"] = "fitness"

    created, skipped = read_bundle(mcode_bundle(fitness))

    assert created.fitness_for_surgery is None
    assert [p["field"] for p in skipped] == ["Observation/fitness.performer"]
