"""CDS Hooks 2.0 as an EHR calls it: discovery, patient-view with the specification's own
request (with prefetch, and without it so the service reads the EHR's FHIR server), 412 when
the data cannot be had, and feedback stored; every call audited."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from inescape import migrate
from inescape.app import create_app
from inescape.modules.patients.api import ClinicalCodecs, PatientRecord
from inescape.modules_loader import load_specs
from tests.support.auth import bearer, gateway_of, on_app_loop
from tests.support.cds_hooks import problems_of_card, problems_of_discovery, problems_of_response
from tests.support.fhir_server import FhirServer
from tests.support.records import RECORD

SPEC = Path(__file__).parents[2] / "support" / "realworld" / "cds-hooks"
SERVICE = "/cds-services/inescape-esophageal-cancer"


def spec_example(name: str) -> dict:
    return json.loads((SPEC / name).read_text())


@pytest.fixture
def fhir():
    server = FhirServer([], token="some-opaque-fhir-access-token")
    yield server
    server.close()


@pytest.fixture
async def client(settings, fhir, monkeypatch):
    monkeypatch.setenv("INESCAPE_CDS_FHIR_SERVERS", fhir.base)
    if settings.database.url:
        migrate.upgrade(settings.database_url)
    app = create_app(settings, load_specs(settings.modules), worker=False)
    async with AsyncTestClient(app) as test_client:
        yield test_client


@pytest.fixture
async def ehr(client):
    """The EHR's client identity: a clinician-role token (an OIDC-mapped role in production)."""
    return await bearer(client, client.app, "ehr.client", ["clinician"])


@pytest.fixture
async def patient_resources(client, ehr, fhir):
    """RECORD as the EHR's FHIR server holds it (mCODE resources referring to Patient/<id>)."""
    created = (await client.post("/api/v1/patients", json=RECORD, headers=ehr)).json()
    stored = (await client.get(f"/api/v1/patients/{created['id']}", headers=ehr)).json()
    bundle = client.app.state.runtime.facade(ClinicalCodecs).to_bundle(
        msgspec.convert(stored, PatientRecord), base_url=fhir.base
    )
    fhir.resources = [entry["resource"] for entry in bundle["entry"]]
    return fhir.resources


def request_for(patient_id: str, fhir_server: str, prefetch: dict | None) -> dict:
    """The specification's patient-view example, pointed at this patient and FHIR server."""
    body = spec_example("patient-view-request.json")
    body["context"]["patientId"] = patient_id
    body["fhirServer"] = fhir_server
    if prefetch is None:
        del body["prefetch"]
    else:
        body["prefetch"] = prefetch
    return body


def searchset(resources: list[dict], kind: str) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources if r["resourceType"] == kind],
    }


async def audit(client, action: str) -> list:
    audit_trail = gateway_of(client.app).trail
    return await on_app_loop(
        client.app, audit_trail.query(filters={"action": action}, before_seq=None, limit=50)
    )


async def test_discovery_lists_the_patient_view_service_with_its_prefetch(client):
    response = await client.get("/cds-services")

    body = response.json()
    assert response.status_code == 200
    assert problems_of_discovery(body) == []
    assert problems_of_discovery(spec_example("cds-services-discovery-response.json")) == []
    (service,) = body["services"]
    assert service["hook"] == "patient-view"
    assert service["prefetch"]["patient"] == "Patient/{{context.patientId}}"
    assert set(service["prefetch"]) >= {"patient", "conditions", "observations", "medications"}


def test_the_shape_checker_accepts_the_specifications_cards_and_catches_a_bad_one():
    assert problems_of_response(spec_example("cds-service-response-cards.json")) == []
    assert problems_of_card({"summary": "x" * 150, "indicator": "urgent", "source": {}}) != []


async def test_with_prefetch_the_cards_come_without_touching_the_fhir_server(
    client, ehr, fhir, patient_resources
):
    patient = next(r for r in patient_resources if r["resourceType"] == "Patient")
    prefetch = {
        "patient": patient,
        **{
            key: searchset(patient_resources, kind)
            for key, kind in (
                ("conditions", "Condition"),
                ("observations", "Observation"),
                ("procedures", "Procedure"),
                ("medications", "MedicationRequest"),
            )
        },
    }

    response = await client.post(SERVICE, json=request_for(patient["id"], fhir.base, prefetch), headers=ehr)

    body = response.json()
    assert response.status_code == 200, response.text
    assert problems_of_response(body) == []
    summaries = [c["summary"] for c in body["cards"]]
    assert summaries[0].startswith("AJCC 8th stage III")
    assert any("nivolumab" in s.lower() for s in summaries[1:3])
    assert fhir.requests == []


async def test_without_prefetch_the_service_reads_every_page_from_the_fhir_server(
    client, ehr, fhir, patient_resources
):
    patient = next(r for r in patient_resources if r["resourceType"] == "Patient")

    response = await client.post(SERVICE, json=request_for(patient["id"], fhir.base, None), headers=ehr)

    body = response.json()
    assert response.status_code == 200, response.text
    assert problems_of_response(body) == []
    assert body["cards"][0]["summary"].startswith("AJCC 8th stage III")
    assert {auth for _, auth in fhir.requests} == {"Bearer some-opaque-fhir-access-token"}
    assert any("_page=2" in path for path, _ in fhir.requests)  # Observations span pages
    (event,) = await audit(client, "cds.hooks.patient-view")
    assert event.resource_id == patient["id"]
    assert event.user == "ehr.client"


async def test_the_specifications_example_as_sent_is_a_412_saying_what_to_configure(client, ehr):
    body = spec_example("patient-view-request.json")  # prefetch under its own key only: fetch the rest

    response = await client.post(
        SERVICE, json={**body, "prefetch": {"patient": body["prefetch"]["patientToGreet"]}}, headers=ehr
    )

    assert response.status_code == 412  # the EHR's server is not one this deployment reads
    assert "INESCAPE_CDS_FHIR_SERVERS" in response.json()["detail"]


async def test_a_patient_with_no_esophageal_cancer_gets_an_empty_card_list(client, ehr, fhir):
    greeter = spec_example("patient-view-request.json")["prefetch"]["patientToGreet"]
    fhir.resources = [greeter]

    response = await client.post(SERVICE, json=request_for(greeter["id"], fhir.base, None), headers=ehr)

    assert response.status_code == 200, response.text
    assert response.json() == {"cards": []}


@pytest.mark.parametrize("fault", ["down", "unauthorised", "not_listed"])
async def test_data_that_cannot_be_had_is_a_412_that_says_why(client, ehr, fhir, patient_resources, fault):
    patient = next(r for r in patient_resources if r["resourceType"] == "Patient")
    body = request_for(patient["id"], fhir.base, None)
    if fault == "down":
        fhir.fail["Observation"] = 503
    elif fault == "unauthorised":
        body["fhirAuthorization"]["access_token"] = "expired"
    else:
        body["fhirServer"] = "http://169.254.169.254/latest"  # never fetched: not listed

    response = await client.post(SERVICE, json=body, headers=ehr)

    assert response.status_code == 412
    assert response.json()["status_code"] == 412
    if fault == "not_listed":
        assert all("169.254" not in path for path, _ in fhir.requests)


async def test_an_unknown_service_or_hook_is_refused(client, ehr):
    body = spec_example("patient-view-request.json")

    unknown = await client.post("/cds-services/static-patient-greeter", json=body, headers=ehr)
    wrong_hook = await client.post(SERVICE, json={**body, "hook": "order-sign"}, headers=ehr)
    no_token = await client.post(SERVICE, json=body)

    assert unknown.status_code == 404
    assert wrong_hook.status_code == 422
    assert "hook" in wrong_hook.text
    assert no_token.status_code == 401


@pytest.mark.parametrize(
    "example",
    [
        "feedback-request-accepted.json",
        "feedback-request-overridden.json",
        "feedback-request-overridden-with-reason.json",
    ],
)
async def test_feedback_from_the_specification_is_stored_with_its_reasons(client, ehr, example):
    response = await client.post(f"{SERVICE}/feedback", json=spec_example(example), headers=ehr)

    assert response.status_code == 200, response.text
    stored = await on_app_loop(client.app, client.app.state.services.documents.find("cds_feedback", {}))
    sent = spec_example(example)["feedback"][0]
    assert [(d["card"], d["outcome"]) for d in stored] == [(sent["card"], sent["outcome"])]
    assert stored[0]["user"] == "ehr.client"
    assert stored[0].get("overrideReason") == sent.get("overrideReason")
    assert len(await audit(client, "cds.hooks.feedback")) == 1


async def test_feedback_on_an_issued_card_names_the_rule_that_made_it(client, ehr, fhir, patient_resources):
    patient = next(r for r in patient_resources if r["resourceType"] == "Patient")
    cards = (
        await client.post(SERVICE, json=request_for(patient["id"], fhir.base, None), headers=ehr)
    ).json()["cards"]
    option = next(c for c in cards if c.get("suggestions"))
    overridden = copy.deepcopy(spec_example("feedback-request-overridden-with-reason.json"))
    overridden["feedback"][0]["card"] = option["uuid"]

    await client.post(f"{SERVICE}/feedback", json=overridden, headers=ehr)

    (stored,) = await on_app_loop(client.app, client.app.state.services.documents.find("cds_feedback", {}))
    assert stored["known_card"] is True
    assert stored["rule_id"]


async def test_malformed_feedback_is_refused_and_nothing_is_stored(client, ehr):
    bad = {"feedback": [{"card": "x", "outcome": "ignored", "outcomeTimestamp": "2020-12-11T00:00:00Z"}]}

    response = await client.post(f"{SERVICE}/feedback", json=bad, headers=ehr)

    assert response.status_code == 422
    assert "outcome" in response.text
    assert await on_app_loop(client.app, client.app.state.services.documents.find("cds_feedback", {})) == []
