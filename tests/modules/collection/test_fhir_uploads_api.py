"""FHIR uploads over HTTP: NDJSON (bulk data, each Patient followed by its resources) and a
Bundle, both built from records the clinical core exports. The records land; a malformed
NDJSON line is a reject naming its line; collecting the same file again changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import msgspec

from inescape.modules.patients.api import ClinicalCodecs, PatientCreate, PatientRecord
from inescape.runtime import library
from tests.modules.collection.test_collection_api import stored
from tests.support.auth import bearer
from tests.support.jobs import finished
from tests.support.records import RECORD

CODECS = library(ClinicalCodecs)

STAMP = datetime(2024, 1, 1, tzinfo=UTC)


def exported(n: int) -> list[PatientRecord]:
    fields = msgspec.structs.asdict(msgspec.convert(RECORD, PatientCreate))
    return [
        PatientRecord(
            **fields, id=f"00000000-0000-4000-8000-{i:012d}", version=1, created_at=STAMP, updated_at=STAMP
        )
        for i in range(1, n + 1)
    ]


async def submit(client, headers, body: bytes, fmt: str, content_type: str) -> dict:

    made = await client.post(
        f"/api/v1/collection/uploads?filename=export.{fmt}",
        content=body,
        headers={**headers, "Content-Type": content_type},
    )
    assert made.status_code == 201, made.text
    submitted = await client.post(
        "/api/v1/collection/jobs",
        json={
            "connector": "upload",
            "source": "ehr-export",
            "config": {"upload_id": made.json()["id"], "format": fmt, "page_size": 2},
        },
        headers=headers,
    )
    assert submitted.status_code == 202, submitted.text
    return await finished(client, f"/api/v1/collection/jobs/{submitted.json()['id']}", headers, poll=0.1)


def ndjson_with_a_bad_line(records: list[PatientRecord]) -> tuple[bytes, int]:
    """The export with a cut-short line just before the second Patient; its 1-based number."""
    lines = list(CODECS.to_ndjson(records))
    second = [i for i, line in enumerate(lines) if json.loads(line)["resourceType"] == "Patient"][1]
    lines.insert(second, '{"resourceType": "Observation", "id": "cut-sh\n')
    return "".join(lines).encode(), second + 1


async def test_an_ndjson_export_lands_and_a_malformed_line_is_a_reject_with_its_number(client):
    steward = await bearer(client, client.app, "steward.ndjson", ["data_steward"])
    body, bad_line = ndjson_with_a_bad_line(exported(3))

    job = await submit(client, steward, body, "ndjson", "application/fhir+ndjson")

    assert job["status"] == "succeeded", job
    assert {k: job["counts"][k] for k in ("accepted", "rejected", "duplicates")} == {
        "accepted": 3,
        "rejected": 1,
        "duplicates": 0,
    }
    rows = await stored(client, "ehr-export")
    assert [r["source_record_id"] for r in rows] == [r.id for r in exported(3)]
    assert {r["origin"] for r in rows} == {"real"}
    report = await client.get(f"/api/v1/collection/jobs/{job['id']}/rejects", headers=steward)
    [reject] = report.text.splitlines()[1:]
    assert reject.startswith(f"line {bad_line},,record,not a FHIR resource"), report.text


async def test_the_same_ndjson_collected_again_changes_nothing(client):
    steward = await bearer(client, client.app, "steward.ndjson2", ["data_steward"])
    body = "".join(CODECS.to_ndjson(exported(2))).encode()
    await submit(client, steward, body, "ndjson", "application/fhir+ndjson")
    before = await stored(client, "ehr-export")

    again = await submit(client, steward, body, "ndjson", "application/fhir+ndjson")

    assert again["status"] == "succeeded", again
    assert (again["counts"]["accepted"], again["counts"]["duplicates"]) == (0, 2)
    assert await stored(client, "ehr-export") == before


async def test_a_bundle_of_two_patients_lands_and_again_changes_nothing(client):
    steward = await bearer(client, client.app, "steward.bundle", ["data_steward"])
    bundles = [CODECS.to_bundle(r) for r in exported(2)]
    body = json.dumps({**bundles[0], "entry": bundles[0]["entry"] + bundles[1]["entry"]}).encode()

    job = await submit(client, steward, body, "bundle", "application/fhir+json")
    before = await stored(client, "ehr-export")
    again = await submit(client, steward, body, "bundle", "application/fhir+json")

    assert job["status"] == "succeeded", job
    assert (job["counts"]["accepted"], job["counts"]["rejected"]) == (2, 0), job
    assert len(before) == 2
    record = (await client.get(f"/api/v1/patients/{before[0]['id']}", headers=steward)).json()
    assert record["conditions"][0]["histology"] == "squamous_cell_carcinoma"
    assert record["staging"][0]["stage_group"] == "III"
    assert (again["counts"]["accepted"], again["counts"]["duplicates"]) == (0, 2), again
    assert await stored(client, "ehr-export") == before
