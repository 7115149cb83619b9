"""Decision support reads what the record holds: a stored patient whose fitness for surgery,
lymphovascular invasion or airway invasion is recorded is no longer asked for it, and a CDS
Hooks prefetch that carries them (as the platform exports them) sets the same facts."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from inescape.modules.cds.facts import facts_of
from inescape.modules.patients.api import ClinicalCodecs, PatientCreate, PatientRecord
from tests.support.auth import bearer
from tests.support.records import record

SERVICE = "/cds-services/inescape-esophageal-cancer"
FIT = {"fit": True, "assessed_by": "Thoracic tumour board", "assessed_on": "2023-01-22"}


def untreated(**changes: Any) -> dict[str, Any]:
    """A cT3 N1 M0 squamous cell carcinoma of the middle third before any treatment."""
    return record(treatments=[], outcome=None, **changes)


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.facts", ["clinician"])


async def decision(client, headers, patient_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/patients/{patient_id}/cds", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["recommendations"])


def asked(answer: dict[str, Any]) -> list[str]:
    return [m["fact"] for m in answer["more_data_needed"]]


async def test_a_recorded_fitness_for_surgery_is_no_longer_asked_for(client, clinician):
    patient_id = (await client.post("/api/v1/patients", json=untreated(), headers=clinician)).json()["id"]
    before = await decision(client, clinician, patient_id)

    changed = await client.patch(
        f"/api/v1/patients/{patient_id}", json={"fitness_for_surgery": FIT}, headers=clinician
    )
    after = await decision(client, clinician, patient_id)

    assert changed.status_code == 200, changed.text
    assert asked(before) == ["fit_for_surgery"]
    assert before["options"] == []
    assert "fit_for_surgery" not in asked(after)
    assert after["options"], after
    assert "preoperative" in after["options"][0]["rule_id"]


async def test_unfit_for_surgery_turns_the_answer_to_definitive_chemoradiation(client, clinician):
    unfit = {**FIT, "fit": False}
    patient_id = (
        await client.post("/api/v1/patients", json=untreated(fitness_for_surgery=unfit), headers=clinician)
    ).json()["id"]

    answer = await decision(client, clinician, patient_id)

    assert asked(answer) == []
    assert [o["rule_id"] for o in answer["options"]] == ["locally-advanced-unfit-definitive-chemoradiation"]


async def test_lymphovascular_and_airway_invasion_of_the_record_are_read_as_facts(client, clinician):
    staging = [
        {
            "kind": "clinical",
            "t": "T4",
            "n": "N0",
            "m": "M0",
            "stage_group": "IVA",
            "assessed_on": "2023-01-20",
        }
    ]
    patient_id = (
        await client.post(
            "/api/v1/patients", json=untreated(staging=staging, fitness_for_surgery=FIT), headers=clinician
        )
    ).json()["id"]
    before = await decision(client, clinician, patient_id)

    await client.patch(
        f"/api/v1/patients/{patient_id}",
        json={"invades_airway_or_great_vessels": True, "lymphovascular_invasion": True},
        headers=clinician,
    )
    after = await decision(client, clinician, patient_id)

    assert "invades_airway_or_great_vessels" in asked(before)
    assert "invades_airway_or_great_vessels" not in asked(after)


def test_facts_of_a_record_take_the_assessments_of_the_primary_condition():
    data = untreated(fitness_for_surgery=FIT)
    data["conditions"] = [
        {**data["conditions"][0], "lymphovascular_invasion": True, "invades_airway_or_great_vessels": False},
        {**data["conditions"][0], "diagnosis_date": "2024-05-01", "lymphovascular_invasion": False},
    ]

    facts = facts_of(msgspec.convert(data, PatientCreate))

    assert (facts.fit_for_surgery, facts.lymphovascular_invasion, facts.invades_airway_or_great_vessels) == (
        True,
        True,
        False,
    )
    assert facts_of(msgspec.convert(untreated(), PatientCreate)).fit_for_surgery is None


async def test_a_hooks_prefetch_carrying_fitness_sets_the_fact(client, clinician):
    created = (
        await client.post("/api/v1/patients", json=untreated(fitness_for_surgery=FIT), headers=clinician)
    ).json()
    stored = (await client.get(f"/api/v1/patients/{created['id']}", headers=clinician)).json()
    codecs = client.app.state.runtime.facade(ClinicalCodecs)
    bundle = codecs.to_bundle(msgspec.convert(stored, PatientRecord), base_url="http://ehr.example/fhir")
    resources = [entry["resource"] for entry in bundle["entry"]]
    patient = next(r for r in resources if r["resourceType"] == "Patient")

    def searchset(kind: str, keep=lambda r: True) -> dict[str, Any]:
        found = [{"resource": r} for r in resources if r["resourceType"] == kind and keep(r)]
        return {"resourceType": "Bundle", "type": "searchset", "entry": found}

    def request(prefetch_observations: dict[str, Any]) -> dict[str, Any]:
        return {
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "hook": "patient-view",
            "context": {"userId": "Practitioner/example", "patientId": patient["id"]},
            "prefetch": {
                "patient": patient,
                "conditions": searchset("Condition"),
                "observations": prefetch_observations,
                "procedures": searchset("Procedure"),
                "medications": searchset("MedicationRequest"),
            },
        }

    with_fitness = await client.post(SERVICE, json=request(searchset("Observation")), headers=clinician)
    without = await client.post(
        SERVICE,
        json=request(searchset("Observation", lambda r: "fit-for-surgery" not in str(r["code"]))),
        headers=clinician,
    )

    assert with_fitness.status_code == 200, with_fitness.text
    assert without.status_code == 200, without.text
    with_cards = [c["summary"] for c in with_fitness.json()["cards"]]
    without_cards = [c["summary"] for c in without.json()["cards"]]
    assert "More data needed: fit for surgery" in without_cards
    assert not any(s.startswith("More data needed") for s in with_cards)
    assert "Preoperative chemoradiation (CROSS), then esophagectomy" in with_cards
