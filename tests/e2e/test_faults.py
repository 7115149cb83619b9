"""Faults on the real servers, each cut on a throwaway server the test starts: PostgreSQL
stopped (every route: 503 with Retry-After, never 500; a bulk load and a read burst survive
it), Redis restarted (pooled connections revalidate; a job retried while it was down runs as
soon as it is back; jobs resume), the document store killed during reads (every 200 keeps its
audit event), S3 frozen during an upload (503 within seconds, no multipart upload left
behind). Everything recovers without restarting the platform."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text, update

from inescape import migrate
from inescape.app import create_app
from inescape.infra.tables import jobs as jobs_table
from inescape.modules_loader import load_specs
from inescape.settings import load_settings
from tests.support import demo_plugin
from tests.support.auth import PASSWORD, bearer, gateway_of, http_bearer, on_app_loop
from tests.support.backends import RealServers, _drop_mongo_database, _drop_pg_database, env_for
from tests.support.processes import Served, run_cli
from tests.support.records import record
from tests.support.throwaway import Throwaway

pytestmark = pytest.mark.real

SETTING = {
    "postgres": "INESCAPE_DATABASE_URL",
    "redis": "INESCAPE_REDIS_URL",
    "s3": "INESCAPE_S3_ENDPOINT_URL",
    "mongodb": "INESCAPE_MONGODB_URL",
}


@contextlib.asynccontextmanager
async def platform_on(
    servers: RealServers | None,
    tmp_path: Path,
    throwaway: Throwaway,
    *,
    worker: bool = False,
    extra: dict[str, str] | None = None,
) -> AsyncIterator[tuple[Any, AsyncTestClient[Any]]]:
    """The whole platform (every module and the demo plugin) on the real servers, with one
    of them replaced by ``throwaway``; an admin's token on the client."""
    if servers is None:
        pytest.skip("needs the real servers")
    env = env_for("real", servers, tmp_path / "data", uuid.uuid4().hex[:10])
    url = throwaway.url if throwaway.kind != "postgres" else f"{throwaway.url.rpartition('/')[0]}/postgres"
    env_for_cleanup = dict(env)
    env |= {SETTING[throwaway.kind]: url} | (extra or {})
    settings = load_settings(env)
    await asyncio.to_thread(migrate.upgrade, settings.database_url)
    app = create_app(settings, [*load_specs(settings.modules), demo_plugin.spec], worker=worker)
    try:
        async with AsyncTestClient(app, timeout=60) as client:
            client.headers.update(await bearer(client, app, "admin", ["admin"]))
            yield app, client
    finally:
        _drop_pg_database(env_for_cleanup["INESCAPE_DATABASE_URL"])
        _drop_mongo_database(env["INESCAPE_MONGODB_URL"], env["INESCAPE_MONGODB_DATABASE"])


async def until(check: Any, timeout: float) -> float:
    """Seconds until ``await check()`` is true; fails after ``timeout``."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, f"not within {timeout}s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", uuid.uuid4().hex, path)


def _routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every API route, path parameters filled with fresh ids (but logout,
    which would end the test's session)."""
    found = set()
    for route in app.routes:
        if route.path.startswith(("/api/", "/fhir")) and not route.path.endswith("/logout"):
            for method in set(getattr(route, "methods", ())) - {"HEAD", "OPTIONS"}:
                found.add((method, _concrete(route.path)))
    return sorted(found)


async def test_postgres_down_every_route_answers_503_with_retry_after_and_recovers(servers, tmp_path):
    pg = Throwaway("postgres", tmp_path / "pg")
    pg.start()
    try:
        async with platform_on(servers, tmp_path, pg) as (app, client):
            routes = _routes(app)
            assert len(routes) > 60
            clinician = await bearer(client, app, "dr.outage", ["clinician"])
            assert (await client.get("/api/v1/demo/jobs")).status_code == 200

            pg.stop()
            answers = {}
            for method, path in routes:  # as admin, and as a clinician where patient data is refused
                body = None if method == "GET" else {}
                answer = await client.request(method, path, json=body)
                if answer.status_code == 403:
                    answer = await client.request(method, path, json=body, headers=clinician)
                answers[f"{method} {path}"] = answer
            answers["POST /api/v1/auth/token"] = await client.post(
                "/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
            )
            answers["POST /api/v1/demo/write-rows"] = await client.post(
                "/api/v1/demo/write-rows", json={"rows": 1}
            )

            pg.start()
            recovered = await until(lambda: _status_is(client, "/api/v1/demo/jobs", 200), timeout=15)
            health = await client.get("/health/detailed")
    finally:
        pg.close()

    server_errors = {
        p: r.text[:200] for p, r in answers.items() if r.status_code >= 500 and r.status_code != 503
    }
    assert server_errors == {}
    unavailable = {p: r for p, r in answers.items() if r.status_code == 503}
    assert "GET /api/v1/demo/jobs" in unavailable
    assert "GET /api/v1/patients" in unavailable
    assert "POST /api/v1/demo/write-rows" in unavailable
    assert "POST /api/v1/auth/token" in unavailable
    for path, response in unavailable.items():
        assert response.headers.get("retry-after", "").isdigit(), path
        if "/fhir" not in path:
            body = response.json()
            assert body["status_code"] == 503, (path, body)
            assert "try again" in body["detail"], (path, body)
        assert "Traceback" not in response.text
    assert recovered < 15
    assert health.status_code == 200, health.text


async def _status_is(client: Any, path: str, status: int) -> bool:
    return (await client.get(path)).status_code == status


async def test_redis_restart_first_login_and_health_succeed(servers, tmp_path):
    redis = Throwaway("redis", tmp_path / "redis").start()
    try:
        async with platform_on(servers, tmp_path, redis) as (_app, client):
            for _ in range(3):  # connections in the pools, opened before the restart
                assert (
                    await client.post("/api/v1/auth/token", json={"username": "admin", "password": PASSWORD})
                ).status_code == 200
            assert (await client.get("/health/detailed")).status_code == 200

            redis.stop()
            redis.start()
            health = await client.get("/health/detailed")
            logins = [
                await client.post("/api/v1/auth/token", json={"username": "admin", "password": PASSWORD})
                for _ in range(3)
            ]
    finally:
        redis.stop()

    assert health.status_code == 200, health.text
    assert [r.status_code for r in logins] == [200, 200, 200], [r.text for r in logins]


async def _job_status(app: Any, job_id: str) -> str:
    services = app.state.services

    async def read() -> str:
        return (await services.jobs.get(job_id)).status

    return str(await on_app_loop(app, read()))


async def _rows_of(app: Any, job_ids: list[str]) -> dict[str, tuple[int, int]]:
    """Per job: (rows written, distinct rows): a double would show as a difference."""
    services = app.state.services
    table = demo_plugin.demo_rows

    async def read() -> dict[str, tuple[int, int]]:
        async with services.db.sessions() as s:
            rows = (
                await s.execute(
                    select(table.c.job_id, func.count(), func.count(func.distinct(table.c.n)))
                    .where(table.c.job_id.in_(job_ids))
                    .group_by(table.c.job_id)
                )
            ).all()
        return {r[0]: (r[1], r[2]) for r in rows}

    return await on_app_loop(app, read())


async def test_a_retry_while_the_queue_is_down_runs_as_soon_as_it_is_back(servers, tmp_path):
    redis = Throwaway("redis", tmp_path / "redis").start()
    try:
        async with platform_on(servers, tmp_path, redis, worker=True) as (app, client):
            submitted = await client.post("/api/v1/demo/write-rows", json={"rows": 5, "invalid": True})
            job = submitted.json()["id"]
            await until(lambda: _is(app, job, "failed"), timeout=15)
            services = app.state.services

            async def make_valid() -> None:
                async with services.db.sessions() as s, s.begin():
                    await s.execute(
                        update(jobs_table).where(jobs_table.c.id == job).values(params={"rows": 5})
                    )

            await on_app_loop(app, make_valid())
            redis.stop()
            retried = await client.post(f"/api/v1/demo/jobs/{job}/retry")
            await asyncio.sleep(1.0)
            while_down = await _job_status(app, job)
            redis.start()
            ran_within = await until(lambda: _is(app, job, "succeeded"), timeout=15)
            rows = await _rows_of(app, [job])
    finally:
        redis.stop()

    # 202 as for a submission: the job row is queued in the database (the durable intent),
    # and it is handed to the queue as soon as the queue answers again
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "queued"
    assert while_down == "queued"
    assert ran_within < 10
    assert rows == {job: (5, 5)}


async def _is(app: Any, job_id: str, status: str) -> bool:
    return await _job_status(app, job_id) == status


async def test_redis_restarted_during_job_processing_jobs_resume_within_seconds(servers, tmp_path):
    redis = Throwaway("redis", tmp_path / "redis").start()
    try:
        async with platform_on(
            servers, tmp_path, redis, worker=True, extra={"INESCAPE_JOBS_WORKER_THREADS": "2"}
        ) as (app, client):
            jobs = []
            for _ in range(6):  # two run, the others wait in the queue (in Redis)
                response = await client.post(
                    "/api/v1/demo/write-rows", json={"rows": 40, "chunk": 5, "delay_s": 0.1}
                )
                assert response.status_code == 202, response.text
                jobs.append(response.json()["id"])
            await until(lambda: _is(app, jobs[0], "running"), timeout=15)

            redis.stop()  # a crash without persistence: the queued messages are gone
            await asyncio.sleep(1.0)
            redis.start()
            started = time.monotonic()

            async def all_done() -> bool:
                return all([await _is(app, job, "succeeded") for job in jobs])

            await until(all_done, timeout=30)
            elapsed = time.monotonic() - started
            rows = await _rows_of(app, jobs)
    finally:
        redis.stop()

    assert rows == {job: (40, 40) for job in jobs}  # nothing lost, nothing doubled
    assert elapsed < 20  # resumed within seconds, not at the stale-job sweep


async def test_a_frozen_s3_fails_an_upload_within_seconds_and_leaves_no_multipart_upload(servers, tmp_path):
    """Served over real sockets, so the body streams: S3 freezes after the upload started."""
    if servers is None:
        pytest.skip("needs the real servers")
    s3 = Throwaway("s3", tmp_path / "s3").start()
    env = env_for("real", servers, tmp_path / "data", uuid.uuid4().hex[:10])
    cleanup = dict(env)
    env |= {
        "INESCAPE_S3_ENDPOINT_URL": s3.url,
        "INESCAPE_S3_SSE": "none",
        "INESCAPE_S3_READ_TIMEOUT_S": "1.5",
        "INESCAPE_S3_MAX_ATTEMPTS": "2",
    }
    bucket = f"{env['INESCAPE_S3_BUCKET_PREFIX']}datasets"
    raw = boto3.client("s3", endpoint_url=s3.url, region_name="us-east-1")
    assert run_cli("migrate", env=env).returncode == 0
    made = run_cli(
        "create-user", "admin", "--role", "admin", "--password-stdin", env=env, stdin=PASSWORD + "\n"
    )
    assert made.returncode == 0, made.stderr
    server = Served("serve", env=env, log=tmp_path / "serve.log").start()
    try:
        headers = http_bearer(server.url, "admin") | {"Content-Type": "text/csv"}

        async def body() -> AsyncIterator[bytes]:
            yield b"id,age\n1,60\n"
            await asyncio.sleep(0.5)  # the server has started the multipart upload
            s3.freeze()
            yield b"2,61\n"

        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            started = time.monotonic()
            frozen = await http.post(
                "/api/v1/collection/uploads?filename=frozen.csv", content=body(), headers=headers
            )
            answered_in = time.monotonic() - started
            s3.thaw()

            def leftovers() -> list[str]:
                return [u["Key"] for u in raw.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]

            async def clean() -> bool:
                return not await asyncio.to_thread(leftovers)

            cleaned_in = await until(clean, timeout=20)
            after = await http.post(
                "/api/v1/collection/uploads?filename=after.csv",
                content=b"id,age\n1,60\n2,61\n",
                headers=headers,
            )
        objects = raw.list_objects_v2(Bucket=bucket).get("Contents", [])
    finally:
        server.stop()
        s3.thaw()
        s3.stop()
        _drop_pg_database(cleanup["INESCAPE_DATABASE_URL"])
        _drop_mongo_database(cleanup["INESCAPE_MONGODB_URL"], cleanup["INESCAPE_MONGODB_DATABASE"])

    assert frozen.status_code == 503, frozen.text
    assert frozen.headers["retry-after"]
    assert frozen.json()["status_code"] == 503
    assert answered_in < 8
    assert "Traceback" not in frozen.text
    assert cleaned_in < 20  # the abandoned upload is aborted once S3 answers again
    assert after.status_code == 201, after.text  # recovered without a restart
    assert [o["Key"] for o in objects] == [after.json()["key"]]  # nothing half-stored, nothing doubled


async def _synthetic_patients(app: Any) -> tuple[int, int]:
    async def count() -> tuple[int, int]:
        async with app.state.services.db.sessions() as s:
            total, distinct = (
                await s.execute(
                    text(
                        "SELECT count(*), count(DISTINCT source_record_id) FROM patients "
                        "WHERE origin = 'synthetic'"
                    )
                )
            ).one()
        return int(total), int(distinct)

    return await on_app_loop(app, count())


async def _audited_request_ids(app: Any) -> set[str]:
    trail = gateway_of(app).trail

    async def read() -> set[str]:
        found: set[str] = set()
        before = None
        while True:
            page = await trail.query(filters={"action": "patients.read"}, before_seq=before, limit=500)
            found |= {e.request_id for e in page if e.request_id}
            if len(page) < 500:
                return found
            before = page[-1].seq

    return await on_app_loop(app, read())


async def _read_burst(
    client: Any, headers: dict[str, str], ids: list[str], stop: asyncio.Event, *, also: str | None = None
) -> list[Any]:
    """Read the patients over and over until ``stop``: (patient id, response) pairs; with
    ``also``, a route that always queries the database too (``None``, response)."""
    answers = []
    while not stop.is_set():
        for patient_id in ids:
            answers.append((patient_id, await client.get(f"/api/v1/patients/{patient_id}", headers=headers)))
        if also:
            answers.append((None, await client.get(also)))
        await asyncio.sleep(0.02)
    return answers


def _check_answers(answers: list[Any], expected: dict[str, str]) -> list[str]:
    """Request ids of the 200s; fails on a 500, a 503 out of shape or a wrong 200."""
    served = []
    for patient_id, response in answers:
        assert response.status_code in (200, 503), response.text[:300]
        if response.status_code == 503:
            assert response.headers["retry-after"]
            assert response.json()["status_code"] == 503
            continue
        if patient_id is None:
            continue
        assert response.json()["id"] == patient_id
        assert response.json()["mrn"] == expected[patient_id]
        served.append(response.headers["x-request-id"])
    return served


N, CHUNK = 2_000, 500


async def test_postgres_stopped_during_a_bulk_load_and_a_read_burst(servers, tmp_path):
    """A generation job loading the database and clinicians reading patients; PostgreSQL
    stops for two seconds: reads answer 200 or 503 (never 500), every 200 is right and
    audited, and the load finishes with every patient exactly once."""
    pg = Throwaway("postgres", tmp_path / "pg")
    pg.start()
    try:
        async with platform_on(servers, tmp_path, pg, worker=True) as (app, client):
            clinician = await bearer(client, app, "dr.reader", ["clinician"])
            expected = {}
            for i in range(4):
                made = await client.post(
                    "/api/v1/patients", json=record(mrn=f"GOL-9{i:06d}"), headers=clinician
                )
                assert made.status_code == 201, made.text
                expected[made.json()["id"]] = f"GOL-9{i:06d}"
            job = await client.post(
                "/api/v1/generation/jobs",
                json={
                    "profile": "iran-golestan",
                    "n": N,
                    "seed": 3,
                    "outputs": ["database"],
                    "chunk_size": CHUNK,
                },
            )
            assert job.status_code == 202, job.text
            job_id = job.json()["id"]

            async def loading() -> bool:
                view = (await client.get(f"/api/v1/generation/jobs/{job_id}")).json()
                return view["status"] == "running" and view["progress"] > 0

            await until(loading, timeout=60)
            stop = asyncio.Event()
            burst = asyncio.create_task(
                _read_burst(client, clinician, list(expected), stop, also="/api/v1/demo/jobs")
            )
            await asyncio.sleep(0.3)
            before = (await client.get(f"/api/v1/generation/jobs/{job_id}")).json()
            pg.stop()
            await asyncio.sleep(2.0)
            pg.start()
            back = time.monotonic()
            await until(lambda: _status_is(client, "/api/v1/demo/jobs", 200), timeout=15)
            recovered_in = time.monotonic() - back
            await asyncio.sleep(0.5)
            stop.set()
            answers = await burst

            async def finished() -> bool:
                view = (await client.get(f"/api/v1/generation/jobs/{job_id}")).json()
                return view["status"] in ("succeeded", "failed")

            await until(finished, timeout=120)
            done = (await client.get(f"/api/v1/generation/jobs/{job_id}")).json()
            loaded = await _synthetic_patients(app)
            audited = await _audited_request_ids(app)
    finally:
        pg.close()

    served = _check_answers(answers, expected)
    assert any(r.status_code == 503 for _, r in answers)  # the outage was seen
    assert served  # and patients were read around it (from the cache, or before and after)
    assert [rid for rid in served if rid not in audited] == []
    assert recovered_in < 10
    assert before["status"] == "running"  # the outage cut the load mid-way
    assert before["progress"] < 1
    assert done["status"] == "succeeded", done
    assert loaded == (N, N)  # nothing lost, nothing doubled


async def test_document_store_killed_during_patient_reads_keeps_every_served_read_audited(servers, tmp_path):
    """The audit store (MongoDB wire) is killed with -9 during a burst of patient reads and
    started again on the same files: every read answered 200 has its audit event."""
    mongo = Throwaway("mongodb", tmp_path / "mongo").start()
    try:
        async with platform_on(servers, tmp_path, mongo) as (app, client):
            clinician = await bearer(client, app, "dr.reader", ["clinician"])
            expected = {}
            for i in range(3):
                made = await client.post(
                    "/api/v1/patients", json=record(mrn=f"GOL-8{i:06d}"), headers=clinician
                )
                assert made.status_code == 201, made.text
                expected[made.json()["id"]] = f"GOL-8{i:06d}"
            stop = asyncio.Event()
            readers = [
                asyncio.create_task(_read_burst(client, clinician, list(expected), stop)) for _ in range(4)
            ]
            await asyncio.sleep(1.5)
            mongo.stop()  # SIGKILL, while reads are being answered
            await asyncio.sleep(0.5)
            stop.set()
            answers = [a for reader in readers for a in await reader]
            mongo.start()
            await until(lambda: _status_is(client, "/health/detailed", 200), timeout=30)
            audited = await _audited_request_ids(app)
    finally:
        mongo.stop()

    served = _check_answers(answers, expected)
    assert len(served) > 10
    missing = [rid for rid in served if rid not in audited]
    assert missing == [], f"{len(missing)} of {len(served)} reads answered 200 kept no audit event"
