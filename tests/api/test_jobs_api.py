"""The job resource each module mounts; bad input is a 4xx that changes nothing."""

from __future__ import annotations

import pytest

from inescape.kernel.jobs import JobStatus
from tests.support.demo_plugin import BROKEN_KEY
from tests.support.jobs import wait_for_job


async def submit(client, **params) -> dict:
    response = await client.post("/api/v1/demo/write-rows", json={"rows": 10, **params})
    assert response.status_code == 202, response.text
    return response.json()


async def test_a_submitted_job_can_be_followed_to_its_end(client, app_services):
    job = await submit(client, rows=30)

    await wait_for_job(app_services, job["id"])
    response = await client.get(f"/api/v1/demo/jobs/{job['id']}")

    body = response.json()
    assert body["status"] == "succeeded"
    assert body["progress"] == 1.0
    assert body["counts"] == {"written": 30}


async def test_jobs_are_listed_newest_first_and_paged_by_cursor(client, app_services):
    ids = [(await submit(client, rows=1))["id"] for _ in range(3)]

    first = (await client.get("/api/v1/demo/jobs", params={"limit": 2})).json()
    second = (
        await client.get("/api/v1/demo/jobs", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()

    assert [j["id"] for j in first["items"]] == ids[::-1][:2]
    assert [j["id"] for j in second["items"]] == ids[:1]
    assert second["next_cursor"] is None


async def test_a_job_of_another_module_is_not_found_there(client):
    job = await submit(client)

    response = await client.get(f"/api/v1/cds/jobs/{job['id']}")

    assert response.status_code == 404
    assert response.json()["status_code"] == 404


@pytest.mark.parametrize("job_id", ["not-a-uuid", "01a21696-170d-758d-b51a-5af739f6aa64"])
async def test_reading_a_missing_job_is_404(client, job_id):
    response = await client.get(f"/api/v1/demo/jobs/{job_id}")

    assert response.status_code == 404
    assert set(response.json()) >= {"detail", "status_code"}


@pytest.mark.parametrize(
    "body",
    [
        {"rows": 0},
        {"rows": "many"},
        {"rows": 5, "surprise": 1},
        {},
        [1, 2],
    ],
)
async def test_a_malformed_submission_is_422_with_field_paths_and_writes_no_job(client, body):
    response = await client.post("/api/v1/demo/write-rows", json=body)

    assert response.status_code == 422
    payload = response.json()
    assert payload["status_code"] == 422
    assert payload["detail"]
    assert "Traceback" not in response.text
    listing = (await client.get("/api/v1/demo/jobs")).json()
    assert listing["items"] == []


@pytest.mark.parametrize(
    "query", [{"limit": 0}, {"limit": 1000}, {"status": "exploded"}, {"cursor": "garbage"}]
)
async def test_bad_list_parameters_are_rejected_in_the_error_shape(client, query):
    response = await client.get("/api/v1/demo/jobs", params=query)

    assert response.status_code == 422
    assert response.json()["status_code"] == response.status_code


async def test_cancelling_a_finished_job_is_a_conflict_and_changes_nothing(client, app_services):
    job = await submit(client, rows=2)
    await wait_for_job(app_services, job["id"])

    response = await client.post(f"/api/v1/demo/jobs/{job['id']}/cancel")

    assert response.status_code == 409
    after = await app_services.jobs.get(job["id"])
    assert after.status == JobStatus.SUCCEEDED
    assert not after.cancel_requested


async def test_a_failed_job_can_be_retried_once_its_cause_is_fixed(client, app_services):
    await app_services.cache.set(BROKEN_KEY, b"1")
    job = await submit(client, rows=3)
    failed = await wait_for_job(app_services, job["id"])
    assert failed.status == JobStatus.FAILED
    assert failed.error == "the demo source is broken"
    await app_services.cache.delete(BROKEN_KEY)

    response = await client.post(f"/api/v1/demo/jobs/{job['id']}/retry")

    assert response.status_code == 202
    assert response.json()["status"] == "queued"
    done = await wait_for_job(app_services, job["id"])
    assert done.status == JobStatus.SUCCEEDED
    assert done.error is None
    assert done.counts == {"written": 3}


async def test_retrying_a_job_that_has_not_failed_is_a_conflict(client, app_services):
    job = await submit(client, rows=1)
    await wait_for_job(app_services, job["id"])

    response = await client.post(f"/api/v1/demo/jobs/{job['id']}/retry")

    assert response.status_code == 409
    assert (await app_services.jobs.get(job["id"])).status == JobStatus.SUCCEEDED


async def test_an_unexpected_error_is_500_without_a_trace(client, monkeypatch):
    async def explode(*args, **kwargs):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(client.app.state.services.jobs, "list", explode)

    response = await client.get("/api/v1/demo/jobs")

    assert response.status_code == 500
    assert response.json()["status_code"] == 500
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
