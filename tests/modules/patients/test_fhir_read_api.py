"""The FHIR read API (``/fhir``): the CapabilityStatement, read and search of the five resource
types (by patient, code and date, paged), Bulk Data ``$export``, each answer validated with the
R4 models of ``fhir.resources`` (R4B); the record routes' permission, audit and researcher
de-identification; OperationOutcomes for every error under ``/fhir``."""

from __future__ import annotations

import asyncio
import json

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from tests.support.auth import bearer, gateway_of, on_app_loop
from tests.support.records import RECORD, record

FHIR = "application/fhir+json"


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "doc.one", ["clinician"])


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.one", ["researcher"])


async def audit_of(client, action: str) -> list:
    return await on_app_loop(
        client.app,
        gateway_of(client.app).trail.query(filters={"action": action}, before_seq=None, limit=50),
    )


async def load(client, headers, n: int = 1) -> list[str]:
    ids = []
    for i in range(n):
        changes = {"mrn": f"GOL-{i:07d}", "source_record_id": f"r-{i}"}
        created = await client.post("/api/v1/patients", json=record(**changes), headers=headers)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


def valid(resource: dict) -> dict:
    """``resource`` checked against the FHIR R4 model of its type (fhir.resources R4B)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    return resource


def entries(bundle: dict) -> list[dict]:
    Bundle.model_validate(bundle)
    return [e["resource"] for e in bundle.get("entry", [])]


def assert_outcome(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR)
    body = response.json()
    OperationOutcome.model_validate(body)
    return body


async def test_metadata_is_an_r4_capability_statement_with_the_types_their_searches_and_export(client):
    response = await client.get("/fhir/metadata", headers={"Authorization": ""})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(FHIR)
    body = response.json()
    CapabilityStatement.model_validate(body)
    assert body["fhirVersion"] == "4.0.1"
    served = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert {"Patient", "Condition", "Observation", "Procedure", "MedicationRequest"} <= set(served)
    assert {"patient", "code", "date"} <= {p["name"] for p in served["Observation"]["searchParam"]}
    assert served["Patient"]["operation"][0]["name"] == "export"
    assert served["Group"]["operation"][0]["name"] == "export"


async def test_a_patient_and_each_of_its_resources_are_read_by_id(client, clinician):
    [patient_id] = await load(client, clinician)

    patient = await client.get(f"/fhir/Patient/{patient_id}", headers=clinician)
    conditions = entries(
        (await client.get(f"/fhir/Condition?patient={patient_id}", headers=clinician)).json()
    )
    condition = await client.get(f"/fhir/Condition/{conditions[0]['id']}", headers=clinician)

    assert patient.status_code == 200
    assert patient.headers["content-type"].startswith(FHIR)
    assert valid(patient.json())["id"] == patient_id
    assert {i["value"] for i in patient.json()["identifier"]} >= {"GOL-0000000"}
    assert valid(condition.json()) == conditions[0]
    assert condition.json()["subject"] == {"reference": f"Patient/{patient_id}"}


@pytest.mark.parametrize("kind", ["Observation", "Procedure", "MedicationRequest"])
async def test_every_resource_of_a_type_searched_by_patient_validates_and_reads_back(client, clinician, kind):
    [patient_id] = await load(client, clinician)

    found = entries(
        (await client.get(f"/fhir/{kind}?patient=Patient/{patient_id}", headers=clinician)).json()
    )

    assert found
    for resource in found:
        assert valid(resource)["resourceType"] == kind
        again = await client.get(f"/fhir/{kind}/{resource['id']}", headers=clinician)
        assert again.json() == resource


async def test_search_by_code_finds_only_the_coded_resources(client, clinician):
    [patient_id] = await load(client, clinician)

    albumin = entries(
        (
            await client.get(
                f"/fhir/Observation?patient={patient_id}&code=http://loinc.org|1751-7", headers=clinician
            )
        ).json()
    )
    nothing = entries(
        (await client.get("/fhir/Observation?code=http://loinc.org|0000-0", headers=clinician)).json()
    )

    assert [o["valueQuantity"]["value"] for o in albumin] == [3.6]
    assert nothing == []


async def test_search_by_date_with_prefixes(client, clinician):
    [patient_id] = await load(client, clinician)
    url = f"/fhir/Procedure?patient={patient_id}"

    def starts(bundle: dict) -> list[str]:
        return sorted(p["performedPeriod"]["start"] for p in entries(bundle))

    after = (await client.get(f"{url}&date=ge2023-04-01", headers=clinician)).json()
    before = (await client.get(f"{url}&date=lt2023-04-01", headers=clinician)).json()
    day = (await client.get(f"{url}&date=eq2023-04-20", headers=clinician)).json()
    year = (await client.get(f"{url}&date=2023", headers=clinician)).json()
    window = (await client.get(f"{url}&date=gt2023-01-01&date=le2023-03-01", headers=clinician)).json()

    assert starts(after) == ["2023-04-20"]
    assert starts(before) == ["2023-02-01"]  # the radiotherapy course (chemotherapy is MedicationRequests)
    assert starts(day) == ["2023-04-20"]
    assert starts(year) == ["2023-02-01", "2023-04-20"]
    assert starts(window) == ["2023-02-01"]


async def test_an_unsupported_date_prefix_is_a_400_operation_outcome(client, clinician):
    response = await client.get("/fhir/Observation?date=sa2023-01-01", headers=clinician)

    assert "prefix 'sa'" in assert_outcome(response, 422)["issue"][0]["diagnostics"]


async def test_an_unknown_search_parameter_is_refused(client, clinician):
    response = await client.get("/fhir/Condition?colour=blue", headers=clinician)

    assert "colour" in assert_outcome(response, 422)["issue"][0]["diagnostics"]


async def test_searches_page_with_count_and_an_opaque_next_link_and_patients_have_a_total(client, clinician):
    ids = await load(client, clinician, 5)
    seen: list[str] = []
    url = "/fhir/Patient?_count=2"
    pages = 0
    while url:
        bundle = (await client.get(url, headers=clinician)).json()
        seen += [r["id"] for r in entries(bundle)]
        assert bundle["total"] == 5
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = nxt[0].split("://", 1)[1].split("/", 1)[1] if nxt else ""
        url = "/" + url if url else ""
        pages += 1

    assert sorted(seen) == sorted(ids)
    assert pages == 3
    assert all(i not in url for i in ids)


async def test_observations_page_across_records_without_a_gap_or_a_repeat(client, clinician):
    await load(client, clinician, 3)
    every = entries((await client.get("/fhir/Observation?_count=500", headers=clinician)).json())
    seen: list[str] = []
    url = "/fhir/Observation?_count=4"
    while url:
        bundle = (await client.get(url, headers=clinician)).json()
        seen += [r["id"] for r in entries(bundle)]
        nxt = [link["url"] for link in bundle["link"] if link["relation"] == "next"]
        url = "/fhir/" + nxt[0].split("/fhir/", 1)[1] if nxt else ""

    assert seen == [r["id"] for r in every]
    assert len(seen) > 4


async def test_a_tampered_cursor_is_refused(client, clinician):
    response = await client.get("/fhir/Patient?_cursor=bm90LW91cnM", headers=clinician)

    assert_outcome(response, 422)


async def test_a_count_out_of_range_is_refused(client, clinician):
    assert_outcome(await client.get("/fhir/Patient?_count=0", headers=clinician), 422)
    assert_outcome(await client.get("/fhir/Patient?_count=100000", headers=clinician), 422)


async def test_a_researcher_sees_only_de_identified_resources_that_agree_with_the_record_api(
    client, clinician, researcher
):
    [patient_id] = await load(client, clinician)
    research_id = gateway_of(client.app).deidentifier.research_id(patient_id)
    view = (await client.get(f"/api/v1/patients/{research_id}", headers=researcher)).json()

    [patient] = entries((await client.get("/fhir/Patient", headers=researcher)).json())
    conditions = entries(
        (await client.get(f"/fhir/Condition?patient={patient['id']}", headers=researcher)).json()
    )
    read = await client.get(f"/fhir/Condition/{conditions[0]['id']}", headers=researcher)

    assert patient["id"] == view["research_id"]
    assert patient_id not in json.dumps([patient, *conditions])
    assert "name" not in patient
    assert "telecom" not in patient
    assert patient["address"] == [{"state": "Golestan", "country": "IR"}]  # no street (Safe Harbor)
    assert [i["value"] for i in patient["identifier"]] == [view["research_id"]]
    assert patient["birthDate"] == str(view["birth_year"])
    assert conditions[0]["onsetDateTime"] == view["conditions"][0]["diagnosis_date"]
    assert conditions[0]["onsetDateTime"] != "2023-01-10"
    assert read.status_code == 200
    assert read.json() == conditions[0]
    for resource in [patient, *conditions]:
        valid(resource)


async def test_a_researcher_cannot_read_a_patient_by_its_real_id(client, clinician, researcher):
    [patient_id] = await load(client, clinician)

    assert_outcome(await client.get(f"/fhir/Patient/{patient_id}", headers=researcher), 404)


async def test_a_role_without_patients_read_gets_a_403_operation_outcome(client):
    auditor = await bearer(client, client.app, "aud.one", ["auditor"])

    for path in ("/fhir/Patient", "/fhir/Patient/x", "/fhir/Patient/$export"):
        assert_outcome(await client.get(path, headers=auditor), 403)


async def test_reads_and_searches_are_audited_with_the_query(client, clinician):
    [patient_id] = await load(client, clinician)

    await client.get(f"/fhir/Patient/{patient_id}", headers=clinician)
    await client.get("/fhir/Condition?code=C15.4&date=ge2020", headers=clinician)

    [read] = await audit_of(client, "patients.fhir_read")
    [search] = await audit_of(client, "patients.fhir_search")
    assert (read.resource_id, read.patient_id) == (patient_id, patient_id)
    assert search.detail.startswith("Condition?code=C15.4&date=ge2020")


async def test_unknown_paths_under_fhir_are_operation_outcomes_never_the_dashboard(client, clinician):
    for path in ("/fhir/Encounter", "/fhir/Encounter/1", "/fhir/a/b/c/d", "/fhir", "/fhir/Patient/nope"):
        assert_outcome(await client.get(path, headers=clinician), 404)
    assert_outcome(await client.post("/fhir/Patient", json={}, headers=clinician), 405)


async def test_identifier_and_extension_systems_are_settings(settings, tmp_path):
    from litestar.testing import AsyncTestClient

    from inescape import migrate
    from inescape.app import create_app
    from inescape.modules_loader import load_specs

    env_like = {"fhir_namespace": "https://fhir.hospital.example.ir", "fhir_mrn_system": "urn:oid:1.2.3.4"}
    from inescape.modules.patients import module as patients_module
    from inescape.modules.patients.settings import PatientsSettings

    specs = [
        s if s.name != "patients" else _with_settings(patients_module.spec, PatientsSettings(**env_like))
        for s in load_specs(settings.modules)
    ]
    if settings.database.url:
        migrate.upgrade(settings.database_url)
    app = create_app(settings, specs, worker=True)
    async with AsyncTestClient(app) as client:
        client.headers.update(await bearer(client, app, "doc.two", ["clinician"]))
        created = await client.post("/api/v1/patients", json=RECORD)
        patient = (await client.get(f"/fhir/Patient/{created.json()['id']}")).json()

    text = json.dumps(patient)
    assert "inescape.example" not in text
    assert {"system": "urn:oid:1.2.3.4", "value": "GOL-0045812"}.items() <= patient["identifier"][0].items()
    assert any(
        e["url"].startswith("https://fhir.hospital.example.ir/StructureDefinition/")
        for e in patient["extension"]
    )


def _with_settings(spec, value):
    """``spec`` whose settings are ``value`` (as read from INESCAPE_PATIENTS_*)."""
    import dataclasses

    def bind(ctx):
        return spec.bind(dataclasses.replace(ctx, settings=value))

    return dataclasses.replace(spec, bind=bind)


# --- Bulk Data $export ------------------------------------------------------------------------


async def export(client, headers, path: str = "/fhir/Patient/$export") -> dict:
    kick = await client.get(path, headers=headers | {"Prefer": "respond-async", "Accept": FHIR})
    assert kick.status_code == 202, kick.text
    status = kick.headers["Content-Location"]
    assert "/fhir/$export-status/" in status
    local = "/fhir/" + status.split("/fhir/", 1)[1]
    for _ in range(400):
        polled = await client.get(local, headers=headers)
        if polled.status_code == 200:
            return {"status": local, "manifest": polled.json()}
        assert polled.status_code == 202, polled.text
        assert "%" in polled.headers["X-Progress"]
        assert polled.headers["Retry-After"]
        await asyncio.sleep(0.05)
    raise AssertionError("the export did not finish")


async def ndjson(client, headers, url: str) -> list[dict]:
    response = await client.get("/fhir/" + url.split("/fhir/", 1)[1], headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    return [json.loads(line) for line in response.text.splitlines() if line]


async def test_patient_export_writes_one_ndjson_file_per_type_and_a_manifest(client, clinician):
    ids = await load(client, clinician, 3)

    done = await export(client, clinician)

    manifest = done["manifest"]
    assert {"transactionTime", "request", "requiresAccessToken", "output", "error"} <= set(manifest)
    assert manifest["requiresAccessToken"] is True
    assert manifest["error"] == []
    assert manifest["request"].endswith("/fhir/Patient/$export")
    types = [o["type"] for o in manifest["output"]]
    assert types == ["Patient", "Condition", "Observation", "Procedure", "MedicationRequest"]
    for output in manifest["output"]:
        lines = await ndjson(client, clinician, output["url"])
        assert len(lines) == output["count"]
        assert {valid(r)["resourceType"] for r in lines} == {output["type"]}
    patients = await ndjson(client, clinician, manifest["output"][0]["url"])
    assert sorted(p["id"] for p in patients) == sorted(ids)


async def test_a_group_export_holds_the_cohort_its_filters_name(client, clinician):
    await load(client, clinician, 2)
    other = record(mrn="GOL-9", source_record_id="r-9")
    other["conditions"][0] |= {"histology": "adenocarcinoma", "morphology_code": "8140/3"}
    adeno = (await client.post("/api/v1/patients", json=other, headers=clinician)).json()["id"]

    done = await export(client, clinician, "/fhir/Group/histology-adenocarcinoma/$export?_type=Patient")

    [output] = done["manifest"]["output"]
    assert [p["id"] for p in await ndjson(client, clinician, output["url"])] == [adeno]


async def test_an_unknown_group_is_a_404_operation_outcome(client, clinician):
    response = await client.get(
        "/fhir/Group/colour-blue/$export", headers=clinician | {"Prefer": "respond-async"}
    )

    assert_outcome(response, 404)


async def test_an_export_without_prefer_respond_async_is_refused(client, clinician):
    assert_outcome(await client.get("/fhir/Patient/$export", headers=clinician), 422)


async def test_an_export_of_an_unknown_type_is_refused(client, clinician):
    response = await client.get(
        "/fhir/Patient/$export?_type=Patient,Encounter", headers=clinician | {"Prefer": "respond-async"}
    )

    assert "Encounter" in assert_outcome(response, 422)["issue"][0]["diagnostics"]


async def test_deleting_an_export_removes_it_and_its_files(client, clinician):
    await load(client, clinician)
    done = await export(client, clinician)

    deleted = await client.delete(done["status"], headers=clinician)

    assert deleted.status_code == 202
    assert_outcome(await client.get(done["status"], headers=clinician), 404)
    url = done["manifest"]["output"][0]["url"]
    assert_outcome(await client.get("/fhir/" + url.split("/fhir/", 1)[1], headers=clinician), 404)


async def test_another_user_cannot_poll_or_read_an_export(client, clinician):
    await load(client, clinician)
    done = await export(client, clinician)
    other = await bearer(client, client.app, "doc.two", ["clinician"])
    export_id = done["status"].rsplit("/", 1)[1]

    assert_outcome(await client.get(done["status"], headers=other), 404)  # as if there were none
    mine = (await client.get("/api/v1/patients/jobs", headers=clinician)).json()["items"]
    theirs = (await client.get("/api/v1/patients/jobs", headers=other)).json()["items"]
    assert export_id in [job["id"] for job in mine]
    assert theirs == []


async def test_a_researchers_export_is_de_identified(client, clinician, researcher):
    [patient_id] = await load(client, clinician)

    done = await export(client, researcher)

    lines = [r for o in done["manifest"]["output"] for r in await ndjson(client, researcher, o["url"])]
    assert lines
    assert patient_id not in json.dumps(lines)
    assert all(r["id"].startswith("R-") for r in lines)


async def test_an_export_is_audited(client, clinician):
    await load(client, clinician)
    await export(client, clinician)

    [kicked] = await audit_of(client, "patients.fhir_export")
    assert kicked.resource_id
