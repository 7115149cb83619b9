"""Kill the process running a generation job that loads the clinical database: it is re-queued,
resumes after its last committed chunk, and every synthetic patient is there exactly once."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from inescape.migrate import sync_url
from tests.e2e.test_kill_mid_job import admin
from tests.support.processes import Served

N, CHUNK = 12_000, 1_000


def job_state(base: str, job_id: str) -> dict:
    import httpx

    return httpx.get(f"{base}/api/v1/generation/jobs/{job_id}", timeout=5, headers=admin(base)).json()


def synthetic_patients(database_url: str) -> tuple[int, int]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            total, distinct = conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT source_record_id) FROM patients "
                    "WHERE origin = 'synthetic'"
                )
            ).one()
    finally:
        engine.dispose()
    return int(total), int(distinct)


def test_a_generation_job_killed_mid_load_resumes_without_losing_or_doubling_a_patient(
    served_env, tmp_path, backend
):
    import httpx

    real = backend == "real"
    server = Served("serve", env=served_env, log=tmp_path / "serve.log").start()
    worker = Served("worker", env=served_env, log=tmp_path / "worker.log").start() if real else None
    victim = worker if real else server
    database_url = (
        served_env.get("INESCAPE_DATABASE_URL") or f"sqlite:///{served_env['INESCAPE_DATA_DIR']}/inescape.db"
    )
    try:
        job = httpx.post(
            f"{server.url}/api/v1/generation/jobs",
            headers=admin(server.url),
            timeout=10,
            json={
                "profile": "iran-golestan",
                "n": N,
                "seed": 11,
                "outputs": ["database"],
                "chunk_size": CHUNK,
            },
        ).json()
        assert "id" in job, job
        midway = _wait_progress(server.url, job["id"])
        assert 0 < midway["progress"] < 1

        victim.kill()
        if not real:
            server.start()
        else:
            worker.start()
        done = _wait_done(server.url, job["id"])
    finally:
        for process in (worker, server):
            if process is not None:
                process.stop()

    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    assert done["counts"]["loaded"] == N
    assert synthetic_patients(database_url) == (N, N)


def _wait_progress(base: str, job_id: str) -> dict:
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = job_state(base, job_id)
        if 0.15 < job["progress"] < 0.85:
            return job
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.05)
    raise AssertionError(f"job never got going: {job}")


def _wait_done(base: str, job_id: str) -> dict:
    import time

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        job = job_state(base, job_id)
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job stuck: {job}")
