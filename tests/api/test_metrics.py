"""What /metrics shows an operator: the process and Python collectors, the running version,
the job queues and how long jobs take, the modules' business counts; and HEAD on the probes."""

from __future__ import annotations

import asyncio
import platform
from types import SimpleNamespace

from sqlalchemy import update

from inescape import __version__
from inescape.infra.tables import jobs
from inescape.runtime.metrics import refresh_job_gauges
from tests.support.auth import bearer
from tests.support.jobs import wait_for_job
from tests.support.records import record


async def scrape(client) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


async def test_metrics_have_the_process_and_python_collectors_and_the_build(client):
    text = await scrape(client)

    assert "process_resident_memory_bytes " in text
    assert "process_cpu_seconds_total " in text
    assert "python_gc_objects_collected_total{" in text
    assert "python_info{" in text
    assert (
        f'inescape_build_info{{python_version="{platform.python_version()}",version="{__version__}"}} 1.0'
    ) in text


async def test_head_on_the_probes_and_metrics_answers_with_headers_only(client):
    for path, kind in (
        ("/health", "application/json"),
        ("/health/detailed", "application/json"),
        ("/metrics", "text/plain"),
    ):
        response = await client.head(path)

        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(kind), path
        assert response.content == b"", path


async def test_a_finished_job_is_timed_by_kind_and_outcome_and_every_queue_is_gauged(client, app_services):
    submitted = await client.post("/api/v1/demo/write-rows", json={"rows": 5})
    await wait_for_job(app_services, submitted.json()["id"])

    text = await scrape(client)

    assert 'inescape_job_duration_seconds_count{kind="demo.write_rows",outcome="succeeded"} 1.0' in text
    for queue in ("generation", "collection", "training", "demo"):
        assert f'inescape_jobs_queued{{queue="{queue}"}} 0.0' in text
        assert f'inescape_jobs_running{{queue="{queue}"}} 0.0' in text


async def test_queued_and_running_jobs_are_counted_per_queue_from_the_jobs_table(services):
    async with services.db.sessions() as s, s.begin():
        for _ in range(2):
            await services.jobs.create(
                s, module="generation", kind="generation.cohort", queue="generation", params={}
            )
        running = await services.jobs.create(
            s, module="training", kind="training.fit", queue="training", params={}
        )
        await s.execute(update(jobs).where(jobs.c.id == running.id).values(status="running"))

    await refresh_job_gauges(services, ["generation", "training", "cds"])
    text = services.metrics.render().decode()

    assert 'inescape_jobs_queued{queue="generation"} 2.0' in text
    assert 'inescape_jobs_running{queue="training"} 1.0' in text
    assert 'inescape_jobs_queued{queue="training"} 0.0' in text
    assert 'inescape_jobs_queued{queue="cds"} 0.0' in text


async def test_a_new_patient_record_is_counted_by_origin(client):
    clinician = await bearer(client, client.app, "dr.metrics", ["clinician"])

    created = await client.post("/api/v1/patients", json=record(), headers=clinician)
    assert created.status_code == 201, created.text
    await asyncio.sleep(0.2)  # the subscriber runs after the commit, in its own task

    assert 'inescape_patients_created_total{origin="real"} 1.0' in await scrape(client)


def test_collected_records_are_counted_by_connector_and_outcome():
    from inescape.infra.telemetry import Metrics
    from inescape.modules.collection.events import DatasetCollected
    from inescape.runtime.metrics import module_metric_subscriptions

    metrics = Metrics()
    [subscription] = [
        s for s in module_metric_subscriptions(metrics, ["collection"]) if s.event_type is DatasetCollected
    ]
    event = DatasetCollected(
        dataset_id="d1", source="upload", connector="spreadsheet", research_only=False,
        read=10, accepted=7, duplicates=1, rejected=2,
    )  # fmt: skip

    asyncio.run(subscription.handler(event))

    text = metrics.render().decode()
    assert 'inescape_collection_records_total{connector="spreadsheet",outcome="accepted"} 7.0' in text
    assert 'inescape_collection_records_total{connector="spreadsheet",outcome="rejected"} 2.0' in text


async def test_the_job_gauges_keep_their_values_while_the_database_is_away():
    from inescape.infra.db import Database
    from inescape.infra.jobs.service import JobService
    from inescape.infra.telemetry import Metrics

    metrics = Metrics()
    metrics.set_job_counts(["generation"], [("generation", "queued", 4)])
    away = Database("postgresql://inescape@127.0.0.1:1/inescape")  # nothing listens on port 1
    platform = SimpleNamespace(jobs=JobService(away), metrics=metrics)
    try:
        await refresh_job_gauges(platform, ["generation"])
    finally:
        await away.engine.dispose()

    assert 'inescape_jobs_queued{queue="generation"} 4.0' in metrics.render().decode()
