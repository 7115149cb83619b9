"""CDS Hooks patient-view with data as EHRs send it: the Synthea bundles (with an esophageal
cancer added, coded in SNOMED CT) and mCODE examples adapted to esophageal cancer
(tests/support/realworld/README.md says what was changed). Each answer has a stage and an
option or a "more data needed" card; ordinary medications never count as therapy; resected
patients get surveillance; what cannot be read is named."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from inescape import migrate
from inescape.app import create_app
from inescape.modules.patients.fhir import read_bundle
from inescape.modules_loader import load_specs
from tests.support.auth import bearer
from tests.support.cds_hooks import problems_of_response

REALWORLD = Path(__file__).parents[2] / "support" / "realworld"
SERVICE = "/cds-services/inescape-esophageal-cancer"
SYNTHEA = {
    "355": "uscore_bundle_patient_355.json",
    "bf3bcfb3-143f-61c6-3f15-fd27d8943700": "Gerardo48_Ceja441_bf3bcfb3-143f-61c6-3f15-fd27d8943700.json",
}
KEYS = {
    "Condition": "conditions",
    "Observation": "observations",
    "Procedure": "procedures",
    "MedicationRequest": "medications",
}


@pytest.fixture
async def client(settings):
    if settings.database.url:
        migrate.upgrade(settings.database_url)
    app = create_app(settings, load_specs(settings.modules), worker=False)
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
async def ehr(client):
    return await bearer(client, client.app, "ehr.client", ["clinician"])


def adapted(name: str) -> list[dict]:
    bundle = json.loads((REALWORLD / "adapted" / name).read_text())
    return [entry["resource"] for entry in bundle["entry"]]


def synthea(patient_id: str) -> list[dict]:
    """The Synthea bundle's resources with the esophageal cancer of our additions file."""
    bundle = json.loads((REALWORLD / "synthea" / SYNTHEA[patient_id]).read_text())
    added = json.loads((REALWORLD / "adapted" / "synthea-esophageal-additions.json").read_text())
    return [entry["resource"] for entry in bundle["entry"]] + added[f"synthea-{patient_id}"]


def prefetch(resources: list[dict]) -> dict:
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    out: dict = {"patient": patient}
    for kind, key in KEYS.items():
        found = [{"resource": r} for r in resources if r["resourceType"] == kind]
        out[key] = {"resourceType": "Bundle", "type": "searchset", "entry": found}
    return out


async def cards_for(client, ehr, resources: list[dict]) -> list[dict]:
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    body = {
        "hook": "patient-view",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {"userId": "Practitioner/example", "patientId": patient["id"]},
        "prefetch": prefetch(resources),
    }
    response = await client.post(SERVICE, json=body, headers=ehr)
    assert response.status_code == 200, response.text
    assert problems_of_response(response.json()) == []
    return response.json()["cards"]


def summaries(cards: list[dict]) -> list[str]:
    return [card["summary"] for card in cards]


def decides(cards: list[dict]) -> bool:
    """An option (a card with a suggestion) or a "more data needed" card."""
    return any(c.get("suggestions") for c in cards) or any(
        c["summary"].startswith("More data needed") for c in cards
    )


@pytest.mark.parametrize("patient_id", sorted(SYNTHEA))
async def test_a_synthea_patient_gets_a_stage_and_an_option_or_a_question(client, ehr, patient_id):
    cards = await cards_for(client, ehr, synthea(patient_id))

    assert summaries(cards)[0] == "AJCC 8th stage III (cTNM)"
    assert decides(cards)
    assert not any("No guideline rule applies" in s for s in summaries(cards))


async def test_a_synthea_patients_ordinary_medications_are_not_cancer_therapy():
    resources = synthea("355")
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    assert sum(r["resourceType"] == "MedicationRequest" for r in resources) == 20  # albuterol, aspirin...

    record, _ = read_bundle(bundle)

    assert record.treatments == []


async def test_ordinary_medications_do_not_change_the_answer(client, ehr):
    with_medications = synthea("355")
    without = [r for r in with_medications if r["resourceType"] != "MedicationRequest"]

    kept = summaries(await cards_for(client, ehr, with_medications))
    alone = summaries(await cards_for(client, ehr, without))

    assert kept == alone
    assert any(s.startswith("More data needed") for s in kept)


async def test_the_mcode_example_adapted_to_esophageal_cancer_is_staged_and_answered(client, ehr):
    cards = await cards_for(client, ehr, adapted("mcode-basic-esophageal-adenocarcinoma.json"))

    assert summaries(cards)[0] == "AJCC 8th stage IIB (cTNM)"
    more = next(c for c in cards if c["summary"].startswith("More data needed"))
    assert "fit_for_surgery" in more["detail"]  # cT2N0: surgery if fit and low-risk
    assert not any("could not be read" in s for s in summaries(cards))


async def test_a_complete_response_after_cross_and_r0_resection_gets_surveillance(client, ehr):
    cards = await cards_for(client, ehr, adapted("mcode-ypT0N0-after-cross.json"))

    assert summaries(cards)[0] == "AJCC 8th stage I (ypTNM)"
    assert "Surveillance after pathologic complete response (ypT0N0, R0)" in summaries(cards)
    assert not any("nivolumab" in s.lower() for s in summaries(cards))


async def test_an_upfront_r0_resection_gets_surveillance(client, ehr):
    cards = await cards_for(client, ehr, adapted("mcode-upfront-r0-resection.json"))

    assert summaries(cards)[0].startswith("AJCC 8th stage I")
    assert "(pTNM)" in summaries(cards)[0]
    assert "Surveillance after R0 resection (no preoperative therapy)" in summaries(cards)


async def test_a_recorded_stage_that_contradicts_the_computed_one_is_a_warning_naming_both(client, ehr):
    cards = await cards_for(client, ehr, synthea("355"))  # recorded IIIC, cT3 cN1 cM0 is III

    conflict = next(c for c in cards if c["summary"].startswith("Recorded stage contradicts"))
    assert conflict["indicator"] == "warning"
    assert "IIIC" in conflict["detail"]
    assert "stage III)" in conflict["detail"]


async def test_a_resource_that_cannot_be_read_is_named_in_the_answer(client, ehr):
    resources = copy.deepcopy(adapted("mcode-basic-esophageal-adenocarcinoma.json"))
    resources.append(
        {
            "resourceType": "MedicationRequest",
            "id": "unknown-drug",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": "Compound X"},
            "subject": {"reference": "Patient/mCODEPatientExample01"},
            "authoredOn": "2019-04-01",
        }
    )

    cards = await cards_for(client, ehr, resources)

    skipped = next(c for c in cards if "could not be read" in c["summary"])
    assert "MedicationRequest/unknown-drug.medicationCodeableConcept" in skipped["detail"]
    assert "Compound X" in skipped["detail"]
    assert skipped["indicator"] == "warning"
    assert decides(cards)  # the rest was still read and answered


async def test_an_esophageal_cancer_that_cannot_be_read_is_named_rather_than_an_empty_answer(client, ehr):
    resources = copy.deepcopy(adapted("mcode-basic-esophageal-adenocarcinoma.json"))
    condition = next(r for r in resources if r["resourceType"] == "Condition")
    condition["extension"] = []  # no morphology

    cards = await cards_for(client, ehr, resources)

    (card,) = cards
    assert "could not be read" in card["summary"]
    assert f"Condition/{condition['id']}.extension[histology-morphology-behavior]" in card["detail"]
