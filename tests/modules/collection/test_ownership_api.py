"""Jobs, uploads and schedules belong to the user who made them: another user with the same
role neither sees nor acts on them (404, as if they did not exist, so ids do not leak), and
nothing changes; an administrator reaches everyone's, an auditor reads everyone's jobs."""

from __future__ import annotations

import pytest

from inescape.kernel.jobs import JobStatus
from inescape.modules.collection.service import JOB_KIND
from tests.modules.collection.test_collection_api import GOOD_1, HEADER, MAPPING, upload
from tests.support.auth import bearer, on_app_loop
from tests.support.jobs import finished

JOBS = "/api/v1/collection/jobs"
SCHEDULES = "/api/v1/collection/schedules"


@pytest.fixture
async def alice(client):
    return await bearer(client, client.app, "alice.steward", ["data_steward"])


@pytest.fixture
async def bob(client):
    return await bearer(client, client.app, "bob.steward", ["data_steward"])


def request_for(upload_id: str) -> dict:
    config = {"upload_id": upload_id, "format": "csv", "mapping": MAPPING, "page_size": 2}
    return {"connector": "upload", "source": "hospital-o", "config": config}


async def queued_job_of(client, owner: str, upload_id: str) -> str:
    """A collection job ``owner`` submitted that no worker has taken yet (it stays queued)."""
    services = client.app.state.services

    async def create() -> str:
        async with services.db.sessions() as session, session.begin():
            job = await services.jobs.create(
                session,
                module="collection",
                kind=JOB_KIND,
                queue="collection",
                params=request_for(upload_id) | {"research_only": False},
                owner=owner,
            )
        return str(job.id)

    return await on_app_loop(client.app, create())


async def job_row(client, job_id: str):
    return await on_app_loop(client.app, client.app.state.services.jobs.get(job_id))


async def listed(client, path: str, headers) -> list[str]:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_another_users_job_is_not_found_and_cannot_be_cancelled_or_retried(client, alice, bob):
    job_id = await queued_job_of(client, "alice.steward", await upload(client, alice, HEADER + GOOD_1))

    read = await client.get(f"{JOBS}/{job_id}", headers=bob)
    cancel = await client.post(f"{JOBS}/{job_id}/cancel", headers=bob)
    retry = await client.post(f"{JOBS}/{job_id}/retry", headers=bob)
    rejects = await client.get(f"{JOBS}/{job_id}/rejects", headers=bob)

    assert [r.status_code for r in (read, cancel, retry, rejects)] == [404, 404, 404, 404]
    assert all(r.json()["status_code"] == 404 for r in (read, cancel, retry, rejects))
    assert job_id not in await listed(client, JOBS, bob)
    after = await job_row(client, job_id)
    assert after.status == JobStatus.QUEUED
    assert not after.cancel_requested
    assert (await client.get(f"{JOBS}/{job_id}", headers=alice)).status_code == 200
    assert job_id in await listed(client, JOBS, alice)


async def test_an_administrator_may_cancel_and_retry_another_users_job(client, alice):
    job_id = await queued_job_of(client, "alice.steward", await upload(client, alice, HEADER + GOOD_1))

    cancelled = await client.post(f"{JOBS}/{job_id}/cancel")  # the client's own token: admin

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    retried = await client.post(f"{JOBS}/{job_id}/retry")
    assert retried.status_code == 202, retried.text
    done = await finished(client, f"{JOBS}/{job_id}", alice, poll=0.1)
    assert done["status"] == "succeeded"
    assert done["owner"] == "alice.steward"


async def test_the_owner_cancels_their_own_job(client, alice):
    job_id = await queued_job_of(client, "alice.steward", await upload(client, alice, HEADER + GOOD_1))

    cancelled = await client.post(f"{JOBS}/{job_id}/cancel", headers=alice)

    assert cancelled.status_code == 200, cancelled.text
    assert (await job_row(client, job_id)).status == JobStatus.CANCELLED


async def test_an_auditor_reads_every_users_job_but_changes_none(client, alice):
    auditor = await bearer(client, client.app, "audrey.auditor", ["auditor"])
    job_id = await queued_job_of(client, "alice.steward", await upload(client, alice, HEADER + GOOD_1))

    assert (await client.get(f"{JOBS}/{job_id}", headers=auditor)).status_code == 200
    assert job_id in await listed(client, JOBS, auditor)
    assert (await client.post(f"{JOBS}/{job_id}/cancel", headers=auditor)).status_code == 403
    assert (await job_row(client, job_id)).status == JobStatus.QUEUED


async def test_another_users_upload_cannot_be_ingested_nor_scheduled(client, alice, bob):
    upload_id = await upload(client, alice, HEADER + GOOD_1)
    before = await listed(client, f"{JOBS}?limit=200", {})

    submitted = await client.post(JOBS, json=request_for(upload_id), headers=bob)
    scheduled = await client.post(
        SCHEDULES, json=request_for(upload_id) | {"cron": "*/5 * * * *"}, headers=bob
    )

    assert submitted.status_code == 404, submitted.text
    assert scheduled.status_code == 404, scheduled.text
    assert "no upload" in submitted.json()["detail"]
    assert await listed(client, f"{JOBS}?limit=200", {}) == before
    assert await listed(client, SCHEDULES, {}) == []
    mine = await client.post(JOBS, json=request_for(upload_id), headers=alice)
    assert mine.status_code == 202, mine.text
    by_admin = await client.post(JOBS, json=request_for(upload_id))
    assert by_admin.status_code == 202, by_admin.text


async def test_another_users_schedule_is_not_found_and_cannot_be_deleted(client, alice, bob):
    upload_id = await upload(client, alice, HEADER + GOOD_1)
    created = await client.post(SCHEDULES, json=request_for(upload_id) | {"cron": "0 3 * * *"}, headers=alice)
    assert created.status_code == 201, created.text
    schedule_id = created.json()["id"]

    read = await client.get(f"{SCHEDULES}/{schedule_id}", headers=bob)
    deleted = await client.delete(f"{SCHEDULES}/{schedule_id}", headers=bob)

    assert (read.status_code, deleted.status_code) == (404, 404)
    assert await listed(client, SCHEDULES, bob) == []
    assert await listed(client, SCHEDULES, alice) == [schedule_id]
    assert (await client.delete(f"{SCHEDULES}/{schedule_id}")).status_code == 204  # an administrator
    assert await listed(client, SCHEDULES, alice) == []
