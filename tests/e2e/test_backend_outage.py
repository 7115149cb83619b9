"""A backend that stops: ``/health/detailed`` says which, with 503; endpoints that need it
give 503 in the error shape and change nothing; the rest keeps answering; when it is back,
everything recovers without a restart. Needs the real servers (and their binaries)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from inescape import migrate
from inescape.app import create_app
from inescape.infra.tables import jobs as jobs_table
from inescape.modules_loader import load_specs
from inescape.settings import load_settings
from tests.support import demo_plugin
from tests.support.auth import PASSWORD, bearer, on_app_loop
from tests.support.auth import login as log_in
from tests.support.backends import env_for
from tests.support.loop import OnLoop
from tests.support.throwaway import Throwaway

pytestmark = pytest.mark.real

CUT = {  # backend -> (health entries that go down, request that needs it, modules down)
    "redis": (
        {"cache", "queue"},
        ("POST", "/api/v1/auth/refresh"),
        {"auth", "patients", "cds", "generation", "collection", "training", "demo"},
    ),
    "mongodb": (
        {"documents"},
        ("GET", "/api/v1/demo/notes"),
        {"auth", "cds", "collection", "generation", "training"},
    ),
    "s3": (
        {"storage"},
        ("GET", "/api/v1/demo/objects/x.bin"),
        {"generation", "collection", "training"},
    ),
}
SETTING = {"redis": "INESCAPE_REDIS_URL", "mongodb": "INESCAPE_MONGODB_URL", "s3": "INESCAPE_S3_ENDPOINT_URL"}


async def health_until(client, status: int, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.get("/health/detailed")
        if response.status_code == status or time.monotonic() > deadline:
            return {"code": response.status_code, **response.json()}
        await asyncio.sleep(0.3)


@pytest.mark.parametrize("cut", ["redis", "mongodb", "s3"])
async def test_a_stopped_backend_is_reported_and_recovers_without_restart(cut, servers, tmp_path):
    if servers is None:
        pytest.skip("needs the real servers")
    down_entries, (method, path), down_modules = CUT[cut]
    throwaway = Throwaway(cut, tmp_path / cut).start()
    env = env_for("real", servers, tmp_path / "data", uuid.uuid4().hex[:10]) | {SETTING[cut]: throwaway.url}
    settings = load_settings(env)
    migrate.upgrade(settings.database_url)
    app = create_app(settings, [*load_specs(settings.modules), demo_plugin.spec], worker=False)
    try:
        async with AsyncTestClient(app) as client:
            services = OnLoop(app.state.services, app.state.runtime.loop)
            client.headers.update(await bearer(client, app, "admin", ["admin"]))
            refresh = (await log_in(client, "admin"))["refresh_token"] if cut == "redis" else None
            job = await _failed_job(app)
            assert (await client.get("/health/detailed")).status_code == 200

            throwaway.stop()
            report = await health_until(client, 503)
            needing = await client.request(method, path, json={"refresh_token": refresh} if refresh else None)
            login = await client.post("/api/v1/auth/token", json={"username": "admin", "password": PASSWORD})
            retried = await client.post(f"/api/v1/demo/jobs/{job}/retry")
            unaffected = await client.get("/api/v1/cds/jobs")
            liveness = await client.get("/health")

            throwaway.start()
            recovered = await health_until(client, 200)
            handed_over = await _handed_over(app, job, timeout=10)
            after = await services.jobs.get(job)
    finally:
        throwaway.stop()

    assert report["code"] == 503
    assert report["status"] == "down"
    assert {b["name"] for b in report["backends"] if b["status"] == "down"} == down_entries
    assert {m["name"] for m in report["modules"] if m["status"] == "down"} == down_modules
    assert needing.status_code == 503, needing.text
    assert needing.json()["status_code"] == 503
    assert "try again" in needing.json()["detail"]
    assert needing.headers["retry-after"]
    assert unaffected.status_code == 200
    assert liveness.status_code == 200
    assert recovered["code"] == 200, recovered
    # a retry is accepted whatever the queue's state: the job row is the durable intent, and
    # a job retried while Redis was down is handed to the queue within seconds of its return
    assert retried.status_code == 202, retried.text
    assert after.status == "queued"
    assert handed_over
    if cut in ("redis", "mongodb"):  # sessions, or the audit trail: no unaudited login
        assert login.status_code == 503, login.text
    else:
        assert login.status_code == 200


async def _handed_over(app, job: str, *, timeout: float) -> bool:
    """Whether the job was handed to the queue (``enqueued_at`` set) within ``timeout``."""

    async def sent() -> object:
        async with app.state.services.db.sessions() as s:
            return await s.scalar(select(jobs_table.c.enqueued_at).where(jobs_table.c.id == job))

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await on_app_loop(app, sent()) is not None:
            return True
        await asyncio.sleep(0.2)
    return False


async def _failed_job(app) -> str:
    real = app.state.services
    loop = app.state.runtime.loop

    async def make() -> str:
        async with real.uow() as uow:
            job = await real.jobs.create(
                uow.session, module="demo", kind="demo.write_rows", queue="demo", params={"rows": 1}
            )
            await uow.session.execute(
                update(jobs_table)
                .where(jobs_table.c.id == job.id)
                .values(status="failed", error="source broken")
            )
        return job.id

    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), loop))
