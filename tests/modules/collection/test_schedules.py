"""Two worker processes' schedulers on one database: each due time is claimed by one of
them, so it gives one job, however they race. On both backends."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from inescape import migrate
from inescape.infra.tables import jobs
from inescape.kernel.clock import FrozenClock
from inescape.modules.collection.module import spec as collection
from inescape.modules.collection.schedules import ScheduleService
from inescape.modules.collection.schemas import ScheduleCreate
from inescape.runtime import Runtime

START = datetime(2026, 3, 4, 10, 17, 30, tzinfo=UTC)


@pytest.fixture
async def two_workers(settings):
    """Two runtimes on the same database and queue (two worker processes), one clock."""
    clock = FrozenClock(START)
    started = []
    try:
        for _ in range(2):
            rt = Runtime(settings, specs=[collection])
            if rt.services.db.backend == "postgresql" and not started:
                migrate.upgrade(settings.database_url)
            await rt.start(worker=False)
            scheduler_of(rt).clock = clock
            started.append(rt)
        yield clock, scheduler_of(started[0]), scheduler_of(started[1]), started[0].platform
    finally:
        for rt in started:
            await rt.stop()


def scheduler_of(runtime: Runtime) -> ScheduleService:
    """The worker's bound schedule service (what its periodic work runs)."""
    found: ScheduleService = runtime.bound["collection"].dependencies["schedules"]
    return found


async def collect_jobs(platform) -> list[tuple[str, dict]]:
    async with platform.db.sessions() as s:
        rows = await s.execute(
            select(jobs.c.id, jobs.c.params).where(jobs.c.kind == "collection.collect").order_by(jobs.c.id)
        )
        return [(r.id, r.params) for r in rows]


async def a_schedule(scheduler: ScheduleService, cron: str = "*/5 * * * *"):
    data = ScheduleCreate(
        connector="fhir",
        source="ehr-race",
        config={"base_url": "https://fhir.example.org/r4"},
        cron=cron,
    )
    return await scheduler.create(data=data, owner="steward")


async def test_two_schedulers_racing_make_one_job_per_due_time(two_workers):
    clock, first, second, platform = two_workers
    schedule = await a_schedule(first)
    claimed: list[str] = []

    for _ in range(4):
        clock.advance(timedelta(minutes=5))
        rounds = await asyncio.gather(*(s.run_due() for s in (first, second, first, second)))
        claimed.extend(job_id for found in rounds for job_id in found)

    made = await collect_jobs(platform)
    assert sorted(claimed) == [job_id for job_id, _ in made]
    assert len(made) == 4
    assert {params["source"] for _, params in made} == {"ehr-race"}
    after = await second.get(schedule_id=schedule.id)
    assert after.last_job_id == made[-1][0]
    assert after.last_run_at == datetime(2026, 3, 4, 10, 35, tzinfo=UTC)
    assert after.next_run_at == datetime(2026, 3, 4, 10, 40, tzinfo=UTC)


async def test_a_restart_after_missed_times_runs_once_then_keeps_to_the_expression(two_workers):
    clock, first, second, platform = two_workers
    schedule = await a_schedule(first, cron="0 * * * *")

    clock.advance(timedelta(days=2))  # 48 due times missed while everything was down
    await asyncio.gather(first.run_due(), second.run_due())
    await asyncio.gather(first.run_due(), second.run_due())

    assert len(await collect_jobs(platform)) == 1
    after = await first.get(schedule_id=schedule.id)
    assert after.next_run_at == datetime(2026, 3, 6, 11, 0, tzinfo=UTC)
