"""Kill the process running a job with SIGKILL: the job is re-queued at the next start and
completes exactly once. Embedded: the server runs jobs itself, so the server is killed.
Real servers: a separate worker takes jobs from Redis, so the worker is killed."""

from __future__ import annotations

import httpx
from sqlalchemy import create_engine, text

from inescape.migrate import sync_url
from tests.support import served_jobs
from tests.support.processes import Served
from tests.support.served_jobs import admin

ROWS = 400


def job_state(base: str, job_id: str) -> dict:
    return served_jobs.job_state(base, "demo", job_id)


def wait(base: str, job_id: str, until, timeout: float = 60) -> dict:
    return served_jobs.wait_job(base, "demo", job_id, until, timeout=timeout)


def rows_written(database_url: str, job_id: str) -> tuple[int, int]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            total, distinct = conn.execute(
                text("SELECT count(*), count(DISTINCT n) FROM demo_rows WHERE job_id = :j"), {"j": job_id}
            ).one()
    finally:
        engine.dispose()
    return int(total), int(distinct)


def test_a_job_killed_mid_way_is_requeued_and_completes_exactly_once(served_env, tmp_path, backend):
    real = backend == "real"
    server = Served("serve", env=served_env, log=tmp_path / "serve.log").start()
    worker = Served("worker", env=served_env, log=tmp_path / "worker.log").start() if real else None
    victim = worker if real else server
    database_url = (
        served_env.get("INESCAPE_DATABASE_URL") or f"sqlite:///{served_env['INESCAPE_DATA_DIR']}/inescape.db"
    )
    try:
        job = httpx.post(
            f"{server.url}/api/v1/demo/write-rows",
            headers=admin(server.url),
            timeout=10,
            json={"rows": ROWS, "chunk": 10, "delay_s": 0.05},
        ).json()
        wait(server.url, job["id"], lambda j: 0.2 < j["progress"] < 0.8)

        victim.kill()
        if not real:
            server.start()  # same data dir; the restart re-queues the unfinished job
        else:
            before = job_state(server.url, job["id"])
            assert before["status"] == "running"
            assert before["progress"] < 1
            worker.start()
        done = wait(server.url, job["id"], lambda j: j["status"] in ("succeeded", "failed"))
    finally:
        for process in (worker, server):
            if process is not None:
                process.stop()

    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    assert done["counts"] == {"written": ROWS}
    assert rows_written(database_url, job["id"]) == (ROWS, ROWS)
    restart_log = (worker or server).log(tail=None)
    assert "re-queued unfinished jobs" in restart_log
