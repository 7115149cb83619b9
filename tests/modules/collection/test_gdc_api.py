"""A GDC collection over HTTP, against a replay GDC API that fails now and then: the ESCA
cases land once, a case that cannot be mapped is a reject naming the case and the GDC field,
the raw answers are kept with their checksums, and collecting again changes nothing."""

from __future__ import annotations

import pytest

from tests.modules.collection.test_collection_api import stored
from tests.support.auth import bearer
from tests.support.gdc_server import GdcServer, esca_case
from tests.support.jobs import finished


@pytest.fixture(autouse=True)
def _replay(replay_sources_allowed):
    """The replay servers on 127.0.0.1 over http, allowed explicitly."""


@pytest.fixture
def api():
    nos = esca_case(5, tissue_or_organ_of_origin="Esophagus, NOS", icd_10_code="C15.9")
    server = GdcServer([esca_case(i) for i in range(5)] + [nos])
    yield server
    server.close()


async def collect(client, headers, server: GdcServer, **extra) -> dict:
    config = {"base_url": server.base, "page_size": 2, "backoff_s": 0.01, **extra}
    submitted = await client.post(
        "/api/v1/collection/jobs",
        json={"connector": "gdc", "source": "gdc-tcga-esca", "config": config},
        headers=headers,
    )
    assert submitted.status_code == 202, submitted.text
    return await finished(client, f"/api/v1/collection/jobs/{submitted.json()['id']}", headers, poll=0.1)


async def test_gdc_cases_land_once_and_an_unmappable_case_is_reported(client, api):
    steward = await bearer(client, client.app, "steward.gdc", ["data_steward"])
    api.script = [{"status": 500}, {}, {"status": 429, "headers": {"Retry-After": "0"}}, {"truncate": True}]

    job = await collect(client, steward, api)

    assert job["status"] == "succeeded", job
    assert {k: job["counts"][k] for k in ("read", "accepted", "rejected", "duplicates")} == {
        "read": 6,
        "accepted": 5,
        "rejected": 1,
        "duplicates": 0,
    }
    rows = await stored(client, "gdc-tcga-esca")
    assert [r["source_record_id"] for r in rows] == [f"TCGA-ES-{i:04d}" for i in range(5)]
    report = await client.get(f"/api/v1/collection/jobs/{job['id']}/rejects", headers=steward)
    [reject] = report.text.splitlines()[1:]
    assert reject.startswith("case TCGA-ES-0005,TCGA-ES-0005,diagnoses.tissue_or_organ_of_origin,"), reject
    dataset = (await client.get(f"/api/v1/datasets/{job['id']}", headers=steward)).json()
    assert (dataset["origin"], dataset["connector"]) == ("real", "gdc")
    assert dataset["config"]["project_id"] == "TCGA-ESCA"
    assert len(dataset["payloads"]) == 3
    assert all(len(p["sha256"]) == 64 for p in dataset["payloads"])


async def test_collecting_gdc_again_changes_nothing(client, api):
    steward = await bearer(client, client.app, "steward.gdc2", ["data_steward"])
    await collect(client, steward, api)
    before = await stored(client, "gdc-tcga-esca")

    again = await collect(client, steward, api)

    assert again["status"] == "succeeded", again
    assert (again["counts"]["accepted"], again["counts"]["duplicates"]) == (0, 5), again
    assert await stored(client, "gdc-tcga-esca") == before


async def test_a_job_that_loses_the_api_mid_way_resumes_at_its_checkpoint(client, api):
    steward = await bearer(client, client.app, "steward.gdc3", ["data_steward"])
    api.script = [{}, {"status": 503}]  # the second page fails and max_retries is 0

    job = await collect(client, steward, api, max_retries=0)

    assert job["status"] == "succeeded", job
    assert job["attempts"] == 2, job
    assert [r[2]["from"] for r in api.requests] == [0, 2, 2, 4]  # the retry starts at page 2
    assert {k: job["counts"][k] for k in ("read", "accepted", "duplicates")} == {
        "read": 6,
        "accepted": 5,
        "duplicates": 0,
    }
    assert len(await stored(client, "gdc-tcga-esca")) == 5
