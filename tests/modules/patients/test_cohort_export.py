"""A saved cohort exported as FHIR: ``/fhir/Group/<cohort id>/$export`` (Bulk Data) and
``/api/v1/patients/export.ndjson?cohort=<id>`` hold exactly the records the cohort selects;
an unknown cohort is a 404; a researcher's export is de-identified and refused for a cohort
that selects on a field the de-identified view hides."""

from __future__ import annotations

import json

import pytest

from tests.modules.patients.test_cohort_filters import cohort
from tests.modules.patients.test_fhir_read_api import assert_outcome, export, ndjson
from tests.support.auth import bearer, gateway_of

UNKNOWN = "0190f0f0-0000-7000-8000-000000000000"


@pytest.fixture
async def clinician(client):
    headers = await bearer(client, client.app, "dr.export", ["clinician"])
    response = await client.post("/api/v1/patients/bulk", json=cohort(), headers=headers)
    assert response.status_code == 201, response.text
    return headers


async def save(client, headers, filters) -> str:
    response = await client.post(
        "/api/v1/cohorts", json={"name": "export", "filters": filters}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def ids_of(client, headers, cohort_id: str) -> set[str]:
    listed = await client.get("/api/v1/patients", params={"cohort": cohort_id, "limit": 500}, headers=headers)
    return {row["id"] for row in listed.json()["items"]}


async def test_a_group_export_of_a_saved_cohort_holds_exactly_its_patients(client, clinician):
    cohort_id = await save(client, clinician, {"biomarker": ["her2:3+"], "histology": ["adenocarcinoma"]})
    expected = await ids_of(client, clinician, cohort_id)

    done = await export(client, clinician, f"/fhir/Group/{cohort_id}/$export?_type=Patient,Procedure")

    outputs = {o["type"]: o for o in done["manifest"]["output"]}
    patients = await ndjson(client, clinician, outputs["Patient"]["url"])
    procedures = await ndjson(client, clinician, outputs["Procedure"]["url"])
    assert len(expected) == 3
    assert {p["id"] for p in patients} == expected
    assert {p["subject"]["reference"].rsplit("/", 1)[-1] for p in procedures} == expected


async def test_the_ndjson_stream_takes_the_cohort_and_several_values(client, clinician):
    cohort_id = await save(client, clinician, {"sex": ["female"]})
    expected = await ids_of(client, clinician, cohort_id)

    response = await client.get(
        "/api/v1/patients/export.ndjson",
        params={"cohort": cohort_id, "histology": "other,adenocarcinoma"},
        headers=clinician,
    )

    assert response.status_code == 200, response.text
    patients = [r for r in map(json.loads, response.text.splitlines()) if r["resourceType"] == "Patient"]
    assert len(patients) == 5
    assert {p["id"] for p in patients} < expected


async def test_an_unknown_cohort_is_not_exported(client, clinician):
    response = await client.get(
        f"/fhir/Group/{UNKNOWN}/$export", headers=clinician | {"Prefer": "respond-async"}
    )
    assert_outcome(response, 404)
    ndjson_response = await client.get(
        "/api/v1/patients/export.ndjson", params={"cohort": UNKNOWN}, headers=clinician
    )
    assert ndjson_response.status_code == 404
    jobs = await client.get("/api/v1/patients/jobs", headers=clinician)
    assert jobs.json()["items"] == []


async def test_a_researchers_export_of_a_cohort_is_de_identified_and_never_selects_on_hidden_fields(
    client, clinician
):
    researcher = await bearer(client, client.app, "res.export", ["researcher"])
    hidden = await save(client, clinician, {"origin": ["real"]})
    shown = await save(client, researcher, {"histology": ["other"]})
    other = await ids_of(client, clinician, shown)

    refused = await client.get(
        f"/fhir/Group/{hidden}/$export", headers=researcher | {"Prefer": "respond-async"}
    )
    assert_outcome(refused, 403)
    done = await export(client, researcher, f"/fhir/Group/{shown}/$export?_type=Patient")

    [output] = done["manifest"]["output"]
    deid = gateway_of(client.app).deidentifier
    patients = await ndjson(client, researcher, output["url"])
    assert {p["id"] for p in patients} == {deid.research_id(i) for i in other}
    assert len(other) == 2
