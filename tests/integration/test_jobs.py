"""Jobs run from their rows through the queue (dramatiq on Redis, or in-process), with
retries, failure, cancellation and lease fencing. On both backends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from inescape import migrate
from inescape.infra.tables import jobs as jobs_table
from inescape.infra.tables import outbox
from inescape.kernel.bus import RetryPolicy
from inescape.kernel.jobs import JobStatus
from inescape.runtime import Runtime
from tests.support import demo_plugin
from tests.support.jobs import rows_of, wait_for_job


@pytest.fixture
async def working(settings):
    """A runtime with the demo plugin and a worker in this process."""
    rt = Runtime(settings, specs=[demo_plugin.spec])
    if rt.services.db.backend == "postgresql":
        migrate.upgrade(settings.database_url)
    rt.runner.retry = RetryPolicy(attempts=1, base_delay=0.05, max_delay=0.1)
    await rt.start(worker=True)
    try:
        yield rt.services
    finally:
        await rt.stop()


async def submit(services, **params):
    return await services.submitter.submit(module="demo", kind="demo.write_rows", params=params)


async def test_a_submitted_job_runs_to_completion_with_progress_and_counts(working):
    job = await submit(working, rows=50, chunk=10)
    assert job.status == JobStatus.QUEUED

    done = await wait_for_job(working, job.id)

    assert done.status == JobStatus.SUCCEEDED
    assert done.progress == 1.0
    assert done.counts == {"written": 50}
    assert done.result == {"rows": 50}
    assert done.attempts == 1
    assert await rows_of(working, job.id) == list(range(50))
    assert done.started_at is not None
    assert done.finished_at >= done.started_at


async def test_a_transient_failure_is_retried_with_backoff_until_it_succeeds(working):
    job = await submit(working, rows=5, fail_times=2)

    done = await wait_for_job(working, job.id)

    assert done.status == JobStatus.SUCCEEDED
    assert done.attempts == 3
    assert await rows_of(working, job.id) == list(range(5))


async def test_a_job_that_keeps_failing_fails_after_its_attempts_with_the_reason(working):
    job = await submit(working, rows=5, fail_times=10)

    done = await wait_for_job(working, job.id)

    assert done.status == JobStatus.FAILED
    assert done.attempts == 3
    assert "transient failure on attempt 3" in done.error
    assert "after 3 attempt(s)" in done.error
    assert await rows_of(working, job.id) == []


async def test_an_invalid_job_fails_at_once_without_retrying(working):
    job = await submit(working, rows=5, invalid=True)

    done = await wait_for_job(working, job.id)

    assert done.status == JobStatus.FAILED
    assert done.attempts == 1
    assert done.error == "the demo job was told its input is invalid"


async def test_a_job_needing_a_module_this_worker_lacks_fails_at_once_naming_it(working):
    job = await submit(working, rows=5, imports="inescape_absent_extra_module")

    done = await wait_for_job(working, job.id)

    assert done.status == JobStatus.FAILED
    assert done.attempts == 1
    assert "inescape_absent_extra_module" in done.error
    assert "not installed on this worker" in done.error
    assert await rows_of(working, job.id) == []


async def test_cancelling_a_running_job_stops_it_at_its_next_progress_report(working):
    job = await submit(working, rows=200, chunk=10, delay_s=0.05)
    await wait_for_job(working, job.id, until=lambda j: j.progress > 0)

    async with working.uow() as uow:
        asked = await working.jobs.cancel(uow.session, job.id)
    assert asked.cancel_requested
    assert asked.status == JobStatus.RUNNING
    done = await wait_for_job(working, job.id)

    assert done.status == JobStatus.CANCELLED
    written = await rows_of(working, job.id)
    assert 0 < len(written) < 200
    assert written == list(range(len(written)))  # whole chunks only, in order


async def test_a_cancelled_queued_job_never_runs(services):
    async with services.uow() as uow:
        job = await services.jobs.create(
            uow.session, module="demo", kind="demo.write_rows", queue="demo", params={"rows": 5}
        )
    async with services.uow() as uow:
        cancelled = await services.jobs.cancel(uow.session, job.id)

    assert cancelled.status == JobStatus.CANCELLED
    assert await services.jobs.to_requeue(startup=True, stale_after=timedelta(0)) == []


async def test_a_job_another_worker_holds_is_left_alone_until_its_lease_expires(settings):
    rt = Runtime(settings, specs=[demo_plugin.spec])
    if rt.services.db.backend == "postgresql":
        migrate.upgrade(settings.database_url)
    await rt.start(worker=False)
    sent: list[tuple[str, str, float]] = []

    async def record_send(queue: str, job_id: str, delay_s: float = 0.0) -> None:
        sent.append((queue, job_id, delay_s))

    rt.runner.send = record_send
    services = rt.services
    try:
        async with services.uow() as uow:
            job = await services.jobs.create(
                uow.session,
                module="demo",
                kind="demo.write_rows",
                queue="demo",
                params={"rows": 30, "chunk": 10},
            )
        now = services.clock.now()
        async with services.db.sessions() as s, s.begin():  # another worker, alive, 20 rows in
            await s.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job.id)
                .values(
                    status="running",
                    attempts=1,
                    lease_token="other-worker",
                    lease_until=now + timedelta(seconds=60),
                    checkpoint={"next": 20},
                )
            )

        await rt.runner.run(job.id)
        assert await rows_of(services, job.id) == []
        assert sent
        assert sent[0][1] == job.id
        assert sent[0][2] > 50

        async with services.db.sessions() as s, s.begin():  # that worker died
            await s.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job.id)
                .values(lease_until=now - timedelta(seconds=1))
            )
        await rt.runner.run(job.id)

        done = await services.jobs.get(job.id)
        assert done.status == JobStatus.SUCCEEDED
        assert done.attempts == 2
        assert await rows_of(services, job.id) == list(range(20, 30))  # resumed, not redone
        async with services.db.sessions() as s:  # its chunk's event went out with the chunk
            names = (await s.execute(select(outbox.c.name))).scalars().all()
        assert names == ["demo.chunk.written.v1"]
    finally:
        await rt.stop()


async def test_unfinished_jobs_are_listed_for_requeue_at_startup(services):
    async with services.uow() as uow:
        queued = await services.jobs.create(uow.session, module="demo", kind="k", queue="demo", params={})
        done = await services.jobs.create(uow.session, module="demo", kind="k", queue="demo", params={})
    async with services.db.sessions() as s, s.begin():
        await s.execute(update(jobs_table).where(jobs_table.c.id == done.id).values(status="succeeded"))

    pending = await services.jobs.to_requeue(startup=True, stale_after=timedelta(minutes=5))

    assert pending == [("demo", queued.id)]


async def test_a_live_worker_takes_over_jobs_whose_worker_died_or_were_never_queued(services):
    async with services.uow() as uow:
        orphan = await services.jobs.create(uow.session, module="demo", kind="k", queue="demo", params={})
        never_sent = await services.jobs.create(uow.session, module="demo", kind="k", queue="demo", params={})
        healthy = await services.jobs.create(uow.session, module="demo", kind="k", queue="demo", params={})
    now = services.clock.now()
    async with services.db.sessions() as s, s.begin():
        await s.execute(
            update(jobs_table)
            .where(jobs_table.c.id == orphan.id)
            .values(status="running", lease_token="dead", lease_until=now - timedelta(seconds=5))
        )
        await s.execute(update(jobs_table).where(jobs_table.c.id == healthy.id).values(enqueued_at=now))

    pending = await services.jobs.to_requeue(startup=False, stale_after=timedelta(minutes=5))

    assert sorted(pending) == sorted([("demo", orphan.id), ("demo", never_sent.id)])


async def test_a_job_whose_heartbeat_is_kept_waiting_keeps_its_lease_while_its_chunks_commit(settings):
    """A heartbeat can wait behind a long write (SQLite has one writer) or a busy loop: a job that
    keeps committing chunks is alive, and another worker looking for expired leases leaves it."""
    rt = Runtime(settings, specs=[demo_plugin.spec])
    if rt.services.db.backend == "postgresql":
        migrate.upgrade(settings.database_url)
    await rt.start(worker=False)
    rt.runner.lease = timedelta(seconds=0.6)

    async def starved(ctx) -> None:  # the heartbeat never gets its turn
        await asyncio.Event().wait()

    rt.runner._heartbeat = starved  # type: ignore[method-assign]
    services = rt.services
    try:
        async with services.uow() as uow:
            job = await services.jobs.create(
                uow.session,
                module="demo",
                kind="demo.write_rows",
                queue="demo",
                params={"rows": 12, "chunk": 1, "delay_s": 0.2},  # 2.4 s: four leases long
            )
        holder = asyncio.create_task(rt.runner.run(job.id))
        others = 0
        while not holder.done():  # another worker tries to take it over every 0.3 s
            await asyncio.sleep(0.3)
            rt.runner.send = _ignore_send
            await rt.runner.run(job.id)
            others += 1
        await holder

        done = await services.jobs.get(job.id)
        assert others >= 6
        assert done.status == JobStatus.SUCCEEDED
        assert done.attempts == 1
        assert await rows_of(services, job.id) == list(range(12))
    finally:
        await rt.stop()


async def _ignore_send(queue: str, job_id: str, delay_s: float = 0.0) -> None:
    return None
