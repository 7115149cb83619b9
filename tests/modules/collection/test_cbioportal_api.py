"""A cBioPortal collection over HTTP against a replay API that fails now and then: the study's
patients land once, a patient that cannot be mapped is a reject naming the attribute, and
collecting again changes nothing."""

from __future__ import annotations

import pytest

from tests.modules.collection.test_collection_api import stored
from tests.support.auth import bearer
from tests.support.cbioportal_server import CbioportalServer, esca_patient
from tests.support.jobs import finished


@pytest.fixture(autouse=True)
def _replay(replay_sources_allowed):
    """The replay servers on 127.0.0.1 over http, allowed explicitly."""


@pytest.fixture
def portal():
    rows = [row for i in range(5) for row in esca_patient(i)] + esca_patient(5, ICD_O_3_SITE="C16.9")
    server = CbioportalServer(rows)
    yield server
    server.close()


async def collect(client, headers, server: CbioportalServer, **extra) -> dict:
    config = {"base_url": server.base, "page_size": 20, "patients_per_page": 2, "backoff_s": 0.01, **extra}
    submitted = await client.post(
        "/api/v1/collection/jobs",
        json={"connector": "cbioportal", "source": "cbioportal-esca-tcga", "config": config},
        headers=headers,
    )
    assert submitted.status_code == 202, submitted.text
    return await finished(client, f"/api/v1/collection/jobs/{submitted.json()['id']}", headers, poll=0.1)


async def test_cbioportal_patients_land_once_and_an_unmappable_one_is_reported(client, portal):
    steward = await bearer(client, client.app, "steward.cbio", ["data_steward"])
    portal.script = [{"status": 500}, {"status": 429, "headers": {"Retry-After": "0"}}, {"truncate": True}]

    job = await collect(client, steward, portal)
    before = await stored(client, "cbioportal-esca-tcga")
    again = await collect(client, steward, portal)

    assert job["status"] == "succeeded", job
    assert {k: job["counts"][k] for k in ("read", "accepted", "rejected", "duplicates")} == {
        "read": 6,
        "accepted": 5,
        "rejected": 1,
        "duplicates": 0,
    }
    assert [r["source_record_id"] for r in before] == [f"TCGA-CB-{i:04d}" for i in range(5)]
    report = await client.get(f"/api/v1/collection/jobs/{job['id']}/rejects", headers=steward)
    [reject] = report.text.splitlines()[1:]
    assert reject.startswith("patient TCGA-CB-0005,TCGA-CB-0005,ICD_O_3_SITE,C16.9 is not esophagus"), reject
    dataset = (await client.get(f"/api/v1/datasets/{job['id']}", headers=steward)).json()
    assert (dataset["connector"], dataset["config"]["study_id"]) == ("cbioportal", "esca_tcga")
    assert len(dataset["payloads"]) == 1
    assert (again["counts"]["accepted"], again["counts"]["duplicates"]) == (0, 5), again
    assert await stored(client, "cbioportal-esca-tcga") == before
