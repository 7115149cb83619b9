from __future__ import annotations

import asyncio
import time

from sqlalchemy import func, select

from inescape.kernel.jobs import JobView
from tests.support.demo_plugin import demo_rows


async def wait_for_job(services, job_id: str, *, timeout: float = 20.0, until=None) -> JobView:
    """Poll the job row until it is finished (or ``until(job)`` holds)."""
    deadline = time.monotonic() + timeout
    while True:
        job = await services.jobs.get(job_id)
        if until(job) if until else job.status.finished:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job still {job.status} at {job.progress:.0%} after {timeout}s")
        await asyncio.sleep(0.05)


FINISHED = ("succeeded", "failed", "cancelled")


async def finished(client, path: str, headers=None, *, timeout: float = 120.0, poll: float = 0.2) -> dict:
    """Poll a job's (or training run's) resource through the API until it has finished; the
    one HTTP polling loop of the in-process API tests (served processes: ``served_jobs``)."""
    deadline = time.monotonic() + timeout
    while True:
        job = (await client.get(path, headers=headers)).json()
        if job.get("status") in FINISHED:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job still {job.get('status')} after {timeout}s: {job}")
        await asyncio.sleep(poll)


async def generate(client, headers, body: dict, *, timeout: float = 300.0) -> dict:
    """Submit a generation job through the API and wait for it: its resource, succeeded."""
    submitted = await client.post("/api/v1/generation/jobs", json=body, headers=headers)
    assert submitted.status_code == 202, submitted.text
    job = await finished(
        client, f"/api/v1/generation/jobs/{submitted.json()['id']}", headers, timeout=timeout
    )
    assert job["status"] == "succeeded", job
    return job


async def rows_of(services, job_id: str) -> list[int]:
    async with services.db.sessions() as s:
        return list(
            (
                await s.scalars(
                    select(demo_rows.c.n).where(demo_rows.c.job_id == job_id).order_by(demo_rows.c.n)
                )
            ).all()
        )


async def row_count(services) -> int:
    async with services.db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(demo_rows)))
