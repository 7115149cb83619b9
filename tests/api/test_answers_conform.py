"""The answers each operation encodes itself (a dataset, a trained model, a record, decision
support, FHIR) are the ones the OpenAPI document describes: real answers, made by driving the
platform as its users do, each checked against its documented status, content type and
schema."""

from __future__ import annotations

import pytest

from tests.support.auth import bearer
from tests.support.conformance import Contract
from tests.support.jobs import finished
from tests.support.records import record

FACTS = {
    "histology": "adenocarcinoma",
    "location": "lower",
    "t": "T3",
    "n": "N1",
    "m": "M0",
    "grade": "G2",
    "ecog": 1,
    "age": 66,
    "sex": "male",
}


@pytest.fixture
async def contract(client):
    response = await client.get("/schema/openapi.json")
    return Contract(response.json())


@pytest.fixture
async def users(client):
    roles = {"researcher": "res.conform", "clinician": "dr.conform", "data_steward": "steward.conform"}
    return {role: await bearer(client, client.app, name, [role]) for role, name in roles.items()}


async def _check(client, contract, problems, method, path, url, headers, **kwargs):
    response = await client.request(method, url, headers=headers, **kwargs)
    assert response.status_code < 400, f"{method} {url}: {response.status_code} {response.text[:300]}"
    problems += contract.problems(method, path, response)
    return response


async def test_a_dataset_a_trained_model_and_their_pictures_answer_as_documented(client, contract, users):
    researcher, steward = users["researcher"], users["data_steward"]
    problems: list[str] = []
    submitted = await client.post(
        "/api/v1/generation/jobs",
        json={"profile": "us-seer", "n": 1500, "seed": 5, "outputs": ["parquet", "csv"]},
        headers=researcher,
    )
    job = await finished(client, f"/api/v1/generation/jobs/{submitted.json()['id']}", researcher, timeout=300)
    assert job["status"] == "succeeded", job
    dataset = job["id"]
    run = await client.post(
        "/api/v1/training/runs",
        json={
            "name": "conform",
            "model": "cox",
            "dataset": {"source": "dataset", "id": dataset},
            "bootstrap": 10,
        },
        headers=researcher,
    )
    trained = await finished(client, f"/api/v1/training/runs/{run.json()['id']}", researcher, timeout=300)
    assert trained["status"] == "succeeded", trained

    async def check(method, path, url=None, headers=researcher, **kwargs):
        return await _check(client, contract, problems, method, path, url or path, headers, **kwargs)

    read = await check("GET", "/api/v1/datasets/{dataset_id}", f"/api/v1/datasets/{dataset}")
    await check("GET", "/api/v1/datasets")
    name = next(f["name"] for f in read.json()["files"] if f["format"] == "csv")
    await check(
        "GET", "/api/v1/datasets/{dataset_id}/files/{name}", f"/api/v1/datasets/{dataset}/files/{name}"
    )
    await check(
        "GET", "/api/v1/datasets/{dataset_id}/survival.svg", f"/api/v1/datasets/{dataset}/survival.svg"
    )
    await check("GET", "/api/v1/generation/profiles")
    await check("GET", "/api/v1/generation/profiles/{name}", "/api/v1/generation/profiles/us-seer")
    await check("GET", "/api/v1/generation/fitted-profiles")
    await check("GET", "/api/v1/generation/privacy-budget", params={"source": "registry"}, headers=steward)
    await check(
        "PUT",
        "/api/v1/generation/privacy-budget",
        params={"source": "registry"},
        headers=steward,
        json={"total": 2},
    )
    await check(
        "PUT", "/api/v1/generation/release-thresholds", headers=steward, json={"max_mia_advantage": 0.2}
    )
    run_path = f"/api/v1/training/runs/{trained['id']}"
    await check("GET", "/api/v1/training/runs")
    await check("GET", "/api/v1/training/runs/{run_id}", run_path)
    await check("GET", "/api/v1/training/runs/{run_id}/curve.svg", f"{run_path}/curve.svg")
    version = "/api/v1/models/conform/versions/1"
    await check("GET", "/api/v1/models")
    await check("GET", "/api/v1/models/{name}/versions", "/api/v1/models/conform/versions")
    await check("GET", "/api/v1/models/{name}/versions/{version}", version)
    for picture in ("card.md", "calibration.svg", "curve.svg"):
        await check("GET", "/api/v1/models/{name}/versions/{version}/" + picture, f"{version}/{picture}")
    await check("GET", "/api/v1/models/{name}/versions/{version}/gates", f"{version}/gates")
    await check(
        "POST",
        "/api/v1/models/{name}/versions/{version}/promote",
        f"{version}/promote",
        headers=steward,
        json={"allow_synthetic": True, "reason": "a synthetic test model"},
    )
    risk = await check("POST", "/api/v1/cds/risk", json=FACTS)

    assert problems == []
    assert risk.json()["available"] is True  # the promoted model answered, in the documented shape


async def test_a_record_its_fhir_and_decision_support_answer_as_documented(client, contract, users):
    clinician, researcher = users["clinician"], users["researcher"]
    problems: list[str] = []

    async def check(method, path, url=None, headers=clinician, **kwargs):
        return await _check(client, contract, problems, method, path, url or path, headers, **kwargs)

    created = await client.post("/api/v1/patients", json=record(), headers=clinician)
    patient = created.json()["id"]
    one = f"/api/v1/patients/{patient}"
    await check("GET", "/api/v1/patients/{patient_id}", one)
    listed = await check("GET", "/api/v1/patients", headers=researcher)
    research_id = listed.json()["items"][0]["research_id"]
    deidentified = await check(
        "GET", "/api/v1/patients/{patient_id}", f"/api/v1/patients/{research_id}", headers=researcher
    )
    await check(
        "PATCH", "/api/v1/patients/{patient_id}", one, json={"version": 1, "phone": "+98 17 3322 0000"}
    )
    await check(
        "POST",
        "/api/v1/patients/{patient_id}/{kind}",
        f"{one}/observations",
        json={"code": "29463-7", "value": 61.5, "unit": "kg", "observed_on": "2023-05-02"},
    )
    await check("GET", "/api/v1/patients/{patient_id}/fhir", f"{one}/fhir")
    await check("GET", "/api/v1/patients/{patient_id}/cds", f"{one}/cds")
    await check("GET", "/fhir/metadata")
    await check("GET", "/fhir/{kind}/{resource_id}", f"/fhir/Patient/{patient}")
    await check("GET", "/fhir/{kind}", "/fhir/Condition", params={"patient": patient})
    await check(
        "POST",
        "/api/v1/cds/staging",
        json={
            "kind": "clinical",
            "histology": "adenocarcinoma",
            "t": "T3",
            "n": "N1",
            "m": "M0",
            "grade": "G2",
            "location": "lower",
        },
    )
    await check("POST", "/api/v1/cds/recommendations", json=FACTS)
    await check("POST", "/api/v1/cds/risk", json=FACTS)  # no model: the answer says why
    await check("GET", "/cds-services")
    await check("GET", "/.well-known/jwks.json")

    assert problems == []
    assert "research_id" in deidentified.json()
    assert "given_name" not in deidentified.json()


async def test_a_fitted_twin_its_privacy_report_and_release_answer_as_documented(client, contract, users):
    researcher, steward = users["researcher"], users["data_steward"]
    source = "inescape-generator/global@1.0"  # the platform's own cohort, treated as real
    problems: list[str] = []

    async def check(method, path, url=None, headers=steward, **kwargs):
        return await _check(client, contract, problems, method, path, url or path, headers, **kwargs)

    async def generate(headers, body):
        submitted = await client.post("/api/v1/generation/jobs", json=body, headers=headers)
        job = await finished(
            client, f"/api/v1/generation/jobs/{submitted.json()['id']}", headers, timeout=300
        )
        assert job["status"] == "succeeded", job
        return job["id"]

    await generate(steward, {"profile": "global", "n": 600, "seed": 3, "outputs": ["database"]})
    await check("PUT", "/api/v1/generation/privacy-budget", params={"source": source}, json={"total": 1.0})
    fitting = await check(
        "POST",
        "/api/v1/generation/profiles/fit",
        json={"name": "conform-twin", "source": source, "epsilon": 1.0},
    )
    fitted = await finished(client, f"/api/v1/generation/jobs/{fitting.json()['id']}", steward, timeout=300)
    assert fitted["status"] == "succeeded", fitted
    await check("GET", "/api/v1/generation/jobs/{job_id}", f"/api/v1/generation/jobs/{fitted['id']}")
    spent = await check("GET", "/api/v1/generation/privacy-budget", params={"source": source})
    await check("GET", "/api/v1/generation/fitted-profiles")
    dataset = await generate(researcher, {"profile": "conform-twin", "n": 800, "seed": 4})
    await check("GET", "/api/v1/datasets/{dataset_id}", f"/api/v1/datasets/{dataset}")
    await check(
        "POST", "/api/v1/datasets/{dataset_id}/privacy-report", f"/api/v1/datasets/{dataset}/privacy-report"
    )
    decided = await check(
        "POST",
        "/api/v1/datasets/{dataset_id}/release",
        f"/api/v1/datasets/{dataset}/release",
        json={"decision": "release", "reason": "within the noise of a 600-patient source"},
    )

    assert problems == []
    assert spent.json()["fits"][0]["profile"] == "conform-twin"
    assert decided.json()["status"] == "released"
