"""Scheduled collections over HTTP: a schedule is stored with its next due time; when due,
the worker submits the same ``collection.collect`` job a POST to /jobs would, once; bad
input is a 4xx naming the field and stores nothing; secrets are sealed as in a job; the
same permission as submitting a job; creating and deleting are audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from inescape.kernel.clock import FrozenClock
from inescape.modules.collection.schedules import ScheduleService
from tests.modules.collection.test_collection_api import GOOD_1, HEADER, MAPPING, upload
from tests.support.auth import bearer, gateway_of, on_app_loop
from tests.support.jobs import wait_for_job

PATH = "/api/v1/collection/schedules"
NOW = datetime(2026, 3, 4, 10, 17, 30, tzinfo=UTC)


@pytest.fixture
async def steward(client):
    return await bearer(client, client.app, "steward.sched", ["data_steward"])


@pytest.fixture
def clock(client) -> FrozenClock:
    """The app's clock, standing still at ``NOW`` until a test moves it."""
    frozen = FrozenClock(NOW)
    client.app.state.services.clock = frozen
    bound = client.app.state.runtime.bound["collection"].dependencies
    bound["schedules"].clock = bound["collection"].clock = frozen
    return frozen


def scheduler_of(app) -> ScheduleService:
    """The app's bound schedule service (what a worker's periodic work runs)."""
    return app.state.runtime.bound["collection"].dependencies["schedules"]


def body(upload_id: str, **changes) -> dict:
    config = {"upload_id": upload_id, "format": "csv", "mapping": MAPPING, "page_size": 2}
    return {"connector": "upload", "source": "hospital-s", "config": config, "cron": "*/5 * * * *"} | changes


async def schedules_in(client, headers) -> list[dict]:
    response = await client.get(PATH, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def collection_jobs(client, headers) -> list[dict]:
    return (await client.get("/api/v1/collection/jobs?limit=200", headers=headers)).json()["items"]


async def audit_of(client, action: str) -> list:
    return await on_app_loop(
        client.app,
        gateway_of(client.app).trail.query(filters={"action": action}, before_seq=None, limit=50),
    )


async def test_a_schedule_is_stored_with_its_next_due_time(client, steward, clock):
    upload_id = await upload(client, steward, HEADER + GOOD_1)

    created = await client.post(PATH, json=body(upload_id), headers=steward)

    assert created.status_code == 201, created.text
    schedule = created.json()
    assert schedule["next_run_at"].startswith("2026-03-04T10:20:00")
    assert schedule["enabled"] is True
    assert schedule["last_job_id"] is None
    assert schedule["created_by"] == "steward.sched"
    read = await client.get(f"{PATH}/{schedule['id']}", headers=steward)
    assert read.json() == schedule
    assert [s["id"] for s in await schedules_in(client, steward)] == [schedule["id"]]


async def test_a_due_schedule_submits_the_job_a_post_to_jobs_would_and_records_it(client, steward, clock):
    upload_id = await upload(client, steward, HEADER + GOOD_1)
    schedule = (await client.post(PATH, json=body(upload_id), headers=steward)).json()
    request = {k: v for k, v in body(upload_id).items() if k != "cron"} | {"research_only": False}
    posted = (await client.post("/api/v1/collection/jobs", json=request, headers=steward)).json()

    clock.advance(timedelta(minutes=3))  # 10:20:30, past the 10:20 due time
    await on_app_loop(client.app, scheduler_of(client.app).run_due())

    after = (await client.get(f"{PATH}/{schedule['id']}", headers=steward)).json()
    assert after["last_job_id"] is not None
    assert after["last_run_at"].startswith("2026-03-04T10:20:00")
    assert after["next_run_at"].startswith("2026-03-04T10:25:00")
    job = await on_app_loop(client.app, wait_for_job(client.app.state.services, after["last_job_id"]))
    assert job.kind == "collection.collect"
    assert job.params == posted["params"]
    assert job.owner == "steward.sched"
    assert job.status == "succeeded", job.error


async def test_a_due_time_gives_one_job_however_often_the_scheduler_looks(client, steward, clock):
    upload_id = await upload(client, steward, HEADER + GOOD_1)
    await client.post(PATH, json=body(upload_id), headers=steward)

    clock.advance(timedelta(minutes=3))
    for _ in range(3):
        await on_app_loop(client.app, scheduler_of(client.app).run_due())

    assert len(await collection_jobs(client, steward)) == 1


async def test_times_missed_while_nothing_ran_give_one_job_not_one_per_time(client, steward, clock):
    upload_id = await upload(client, steward, HEADER + GOOD_1)
    schedule = (await client.post(PATH, json=body(upload_id), headers=steward)).json()

    clock.advance(timedelta(hours=5))  # 60 due times went by
    await on_app_loop(client.app, scheduler_of(client.app).run_due())

    assert len(await collection_jobs(client, steward)) == 1
    after = (await client.get(f"{PATH}/{schedule['id']}", headers=steward)).json()
    assert after["next_run_at"].startswith("2026-03-04T15:20:00")


async def test_a_disabled_schedule_has_no_next_time_and_submits_nothing(client, steward, clock):
    upload_id = await upload(client, steward, HEADER + GOOD_1)

    created = (await client.post(PATH, json=body(upload_id, enabled=False), headers=steward)).json()
    clock.advance(timedelta(days=1))
    await on_app_loop(client.app, scheduler_of(client.app).run_due())

    assert created["next_run_at"] is None
    assert await collection_jobs(client, steward) == []


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"cron": "*/5 * * *"}, 422, "cron"),
        ({"cron": "61 * * * *"}, 422, "cron"),
        ({"cron": "0 0 30 2 *"}, 422, "cron"),
        ({"cron": ""}, 422, "cron"),
        ({"connector": "nope"}, 404, None),
        ({"source": "bad source!"}, 422, "source"),
        ({"extra": 1}, 422, "extra"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    client, steward, clock, change, status, field
):
    upload_id = await upload(client, steward, HEADER + GOOD_1)

    refused = await client.post(PATH, json=body(upload_id, **change), headers=steward)

    assert refused.status_code == status, refused.text
    if field is not None:
        assert field in refused.text
    assert await schedules_in(client, steward) == []
    assert await audit_of(client, "collection.schedule_created") == []


async def test_a_bad_config_is_a_422_naming_the_config_field_and_nothing_is_stored(client, steward, clock):
    upload_id = await upload(client, steward, HEADER + GOOD_1)
    config = {"upload_id": upload_id, "format": "xlsx"}

    refused = await client.post(PATH, json=body(upload_id, config=config), headers=steward)

    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "config.format"
    assert await schedules_in(client, steward) == []


async def test_an_upload_that_does_not_exist_is_a_404_and_nothing_is_stored(client, steward, clock):
    refused = await client.post(PATH, json=body("0" * 26), headers=steward)

    assert refused.status_code == 404, refused.text
    assert await schedules_in(client, steward) == []


async def test_a_secret_in_the_config_is_sealed_as_in_a_job(client, steward, clock):
    config = {"base_url": "https://fhir.example.org/r4", "token": "s3cret-token"}

    created = await client.post(
        PATH,
        json={"connector": "fhir", "source": "ehr-b", "config": config, "cron": "0 2 * * *"},
        headers=steward,
    )

    assert created.status_code == 201, created.text
    assert "s3cret-token" not in created.text
    assert created.json()["config"]["token"].startswith("sealed:")


async def test_only_who_may_submit_a_collection_job_may_schedule_one(client, steward, clock):
    researcher = await bearer(client, client.app, "researcher.sched", ["researcher"])
    upload_id = await upload(client, steward, HEADER + GOOD_1)

    refused = await client.post(PATH, json=body(upload_id), headers=researcher)
    listed = await client.get(PATH, headers=researcher)

    assert refused.status_code == 403
    assert listed.status_code == 403
    assert await schedules_in(client, steward) == []


async def test_creating_and_deleting_a_schedule_is_audited_and_deleting_stops_it(client, steward, clock):
    upload_id = await upload(client, steward, HEADER + GOOD_1)
    schedule = (await client.post(PATH, json=body(upload_id), headers=steward)).json()

    deleted = await client.delete(f"{PATH}/{schedule['id']}", headers=steward)
    clock.advance(timedelta(hours=1))
    await on_app_loop(client.app, scheduler_of(client.app).run_due())

    assert deleted.status_code == 204
    assert (await client.get(f"{PATH}/{schedule['id']}", headers=steward)).status_code == 404
    assert (await client.delete(f"{PATH}/{schedule['id']}", headers=steward)).status_code == 404
    assert await collection_jobs(client, steward) == []
    [created] = await audit_of(client, "collection.schedule_created")
    [removed] = await audit_of(client, "collection.schedule_deleted")
    assert created.resource_id == removed.resource_id == schedule["id"]
    assert removed.user == "steward.sched"
