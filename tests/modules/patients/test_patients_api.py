"""The clinical core over HTTP: whole records in one transaction, invalid input refused with
field paths and nothing written, audit on every access, de-identified for researchers, ETags."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.support.auth import bearer, gateway_of, on_app_loop
from tests.support.records import RECORD, record


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.clinician", ["clinician"])


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.one", ["researcher"])


async def count_patients(client) -> int:
    async def count() -> int:
        async with client.app.state.services.db.sessions() as s:
            return int(await s.scalar(text("SELECT count(*) FROM patients")))

    return await on_app_loop(client.app, count())


async def audit_of(client, action: str) -> list:
    return await on_app_loop(
        client.app,
        gateway_of(client.app).trail.query(filters={"action": action}, before_seq=None, limit=50),
    )


async def test_a_whole_record_is_created_and_read_back_with_every_part(client, clinician):
    created = await client.post("/api/v1/patients", json=RECORD, headers=clinician)
    assert created.status_code == 201, created.text
    patient_id = created.json()["id"]

    read = await client.get(f"/api/v1/patients/{patient_id}", headers=clinician)

    body = read.json()
    assert read.status_code == 200
    assert body["mrn"] == "GOL-0045812"
    assert body["given_name"] == "Reza"
    assert body["conditions"][0]["morphology_code"] == "8070/3"
    assert [t["kind"] for t in body["treatments"]] == ["systemic", "radiotherapy", "surgery"]
    assert body["outcome"]["vital_status"] == "alive"
    assert [e.patient_id for e in await audit_of(client, "patients.read")] == [patient_id]


async def test_identifiers_are_not_stored_in_plaintext(client, clinician):
    await client.post("/api/v1/patients", json=RECORD, headers=clinician)

    async def raw() -> str:
        async with client.app.state.services.db.sessions() as s:
            row = (await s.execute(text("SELECT * FROM patients"))).first()
        return repr(tuple(row))

    stored = await on_app_loop(client.app, raw())
    for identifier in ("GOL-0045812", "2750398814", "Reza", "Karimi", "Beheshti", "3322", "1958-03-14"):
        assert identifier not in stored


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {"conditions": [{**RECORD["conditions"][0], "morphology_code": "8140/3"}]},
            "conditions[0].morphology_code",
        ),
        (
            {"conditions": [{**RECORD["conditions"][0], "topography_code": "C16.5"}]},
            "conditions[0].topography_code",
        ),
        ({"staging": [{**RECORD["staging"][0], "t": "T9"}]}, "staging[0].t"),
        ({"birth_date": "2024-01-01"}, "conditions[0].diagnosis_date"),
        ({"outcome": {"vital_status": "dead", "last_follow_up": "2025-01-01"}}, "outcome.death_date"),
        (
            {"outcome": {"vital_status": "dead", "last_follow_up": "2023-01-11", "death_date": "2023-02-15"}},
            "outcome.death_date",
        ),
        (
            {
                "outcome": {
                    "vital_status": "alive",
                    "last_follow_up": "2024-01-01",
                    "progression_date": "2022-12-01",
                }
            },
            "outcome.progression_date",
        ),
        (
            {
                "outcome": {
                    "vital_status": "dead",
                    "last_follow_up": "2025-06-01",
                    "death_date": "2025-06-01",
                    "progression_date": "2025-07-01",
                }
            },
            "outcome.progression_date",
        ),
        (
            {"observations": [{"code": "89247-1", "value": 7, "observed_on": "2023-01-20"}]},
            "observations[0].value",
        ),
        (
            {"biomarkers": [{"kind": "her2", "value": "4+", "measured_on": "2023-01-25"}]},
            "biomarkers[0].value",
        ),
    ],
)
async def test_an_inconsistent_record_is_422_naming_the_field_and_nothing_is_written(
    client, clinician, change, field
):
    response = await client.post("/api/v1/patients", json=record(**change), headers=clinician)

    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await count_patients(client) == 0


@pytest.mark.parametrize(
    "bad",
    [{"sex": "robot"}, {"birth_date": "yesterday"}, {"conditions": "many"}, {"favourite_colour": "blue"}],
)
async def test_a_malformed_record_is_422_and_nothing_is_written(client, clinician, bad):
    response = await client.post("/api/v1/patients", json=record(**bad), headers=clinician)

    assert response.status_code == 422
    assert await count_patients(client) == 0


async def test_a_bulk_load_is_all_or_nothing(client, clinician):
    good = [record(mrn=f"M{i}") for i in range(20)]
    bad = [*good, record(staging=[{**RECORD["staging"][0], "n": "N7"}])]

    refused = await client.post("/api/v1/patients/bulk", json=bad, headers=clinician)
    accepted = await client.post("/api/v1/patients/bulk", json=good, headers=clinician)

    assert refused.status_code == 422
    assert "[20].staging[0].n" in [e["field"] for e in refused.json()["errors"]]
    assert accepted.status_code == 201
    assert accepted.json()["count"] == 20
    assert await count_patients(client) == 20


async def test_a_researcher_gets_a_de_identified_record_and_list(client, clinician, researcher):
    patient_id = (await client.post("/api/v1/patients", json=RECORD, headers=clinician)).json()["id"]

    listing = await client.get("/api/v1/patients", headers=researcher)
    research_id = listing.json()["items"][0]["research_id"]
    detail = await client.get(f"/api/v1/patients/{research_id}", headers=researcher)

    text_ = detail.text + listing.text + detail.headers["etag"]
    for identifier in ("GOL-0045812", "2750398814", "Reza", "Karimi", "Beheshti", "1958-03-14", patient_id):
        assert identifier not in text_
    assert detail.json()["research_id"] == research_id
    assert detail.json()["conditions"][0]["histology"] == "squamous_cell_carcinoma"
    events = await audit_of(client, "patients.read")
    assert events[0].detail == "de-identified"
    assert events[0].user == "res.one"


async def test_the_list_filters_and_pages(client, clinician):
    adeno = {
        **RECORD["conditions"][0],
        "histology": "adenocarcinoma",
        "morphology_code": "8140/3",
        "topography_code": "C16.0",
        "location": "egj",
    }
    await client.post(
        "/api/v1/patients/bulk",
        headers=clinician,
        json=[record(), record(), record(sex="female", conditions=[adeno])],
    )

    scc = (
        await client.get(
            "/api/v1/patients", params={"histology": "squamous_cell_carcinoma"}, headers=clinician
        )
    ).json()
    women = (await client.get("/api/v1/patients", params={"sex": "female"}, headers=clinician)).json()
    first = (await client.get("/api/v1/patients", params={"limit": 2}, headers=clinician)).json()
    rest = (
        await client.get(
            "/api/v1/patients", params={"limit": 2, "cursor": first["next_cursor"]}, headers=clinician
        )
    ).json()

    assert len(scc["items"]) == 2
    assert [p["location"] for p in women["items"]] == ["egj"]
    assert len(first["items"]) == 2
    assert len(rest["items"]) == 1
    assert rest["next_cursor"] is None


async def test_an_unchanged_record_answers_304_to_its_etag_and_a_change_moves_it(client, clinician):
    patient_id = (await client.post("/api/v1/patients", json=RECORD, headers=clinician)).json()["id"]
    first = await client.get(f"/api/v1/patients/{patient_id}", headers=clinician)
    etag = first.headers["etag"]

    again = await client.get(f"/api/v1/patients/{patient_id}", headers={**clinician, "If-None-Match": etag})
    changed = await client.patch(
        f"/api/v1/patients/{patient_id}",
        headers=clinician,
        json={
            "outcome": {
                "vital_status": "dead",
                "last_follow_up": "2025-07-01",
                "death_date": "2025-07-01",
                "cause_of_death": "esophageal cancer",
            }
        },
    )
    after = await client.get(f"/api/v1/patients/{patient_id}", headers={**clinician, "If-None-Match": etag})

    assert again.status_code == 304
    assert changed.status_code == 200, changed.text
    assert after.status_code == 200
    assert after.json()["outcome"]["vital_status"] == "dead"


async def test_a_treatment_before_the_diagnosis_is_refused_as_a_sub_resource(client, clinician):
    patient_id = (await client.post("/api/v1/patients", json=RECORD, headers=clinician)).json()["id"]

    early = await client.post(
        f"/api/v1/patients/{patient_id}/treatments",
        headers=clinician,
        json={"kind": "systemic", "start_date": "2022-12-01", "regimen": "FOLFOX"},
    )
    later = await client.post(
        f"/api/v1/patients/{patient_id}/staging",
        headers=clinician,
        json={
            "kind": "pathological",
            "t": "T2",
            "n": "N0",
            "m": "M0",
            "stage_group": "IIA",
            "assessed_on": "2023-04-25",
        },
    )
    record_now = (await client.get(f"/api/v1/patients/{patient_id}", headers=clinician)).json()

    assert early.status_code == 422
    assert later.status_code == 201
    assert len(record_now["treatments"]) == 3
    assert len(record_now["staging"]) == 2


async def test_a_deleted_record_is_gone_from_every_read(client, clinician):
    patient_id = (await client.post("/api/v1/patients", json=RECORD, headers=clinician)).json()["id"]

    assert (await client.delete(f"/api/v1/patients/{patient_id}", headers=clinician)).status_code == 204
    assert (await client.get(f"/api/v1/patients/{patient_id}", headers=clinician)).status_code == 404
    assert (await client.get("/api/v1/patients", headers=clinician)).json()["items"] == []
    assert (await client.delete(f"/api/v1/patients/{patient_id}", headers=clinician)).status_code == 404


async def test_an_admin_or_auditor_cannot_read_patient_data(client):
    auditor = await bearer(client, client.app, "aud.one", ["auditor"])

    assert (await client.get("/api/v1/patients")).status_code == 403  # the admin
    assert (await client.get("/api/v1/patients", headers=auditor)).status_code == 403


async def test_a_clinician_exports_the_record_as_a_fhir_bundle_that_imports_back(
    client, clinician, researcher
):
    from fhir.resources.R4B.bundle import Bundle

    from inescape.modules.patients.fhir import from_bundle

    patient_id = (await client.post("/api/v1/patients", json=RECORD, headers=clinician)).json()["id"]

    response = await client.get(f"/api/v1/patients/{patient_id}/fhir", headers=clinician)
    refused = await client.get(f"/api/v1/patients/{patient_id}/fhir", headers=researcher)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/fhir+json")
    Bundle.model_validate(response.json())
    back = from_bundle(response.json())
    assert back.mrn == "GOL-0045812"
    assert [t.kind for t in back.treatments] == ["systemic", "radiotherapy", "surgery"]
    assert refused.status_code == 403
    events = await audit_of(client, "patients.export_fhir")
    assert [e.patient_id for e in events if e.outcome == "success"] == [patient_id]
    assert [e.outcome for e in events if e.outcome != "success"] == ["denied"]  # the refusal too


async def test_a_cohort_streams_as_fhir_ndjson(client, clinician):
    import json

    await client.post("/api/v1/patients/bulk", json=[record(), record(sex="female")], headers=clinician)

    response = await client.get("/api/v1/patients/export.ndjson", headers=clinician)

    resources = [json.loads(line) for line in response.text.splitlines()]
    assert response.headers["content-type"].startswith("application/fhir+ndjson")
    assert sum(r["resourceType"] == "Patient" for r in resources) == 2
    assert [e.detail for e in await audit_of(client, "patients.export_ndjson")] == ["2 records"]
