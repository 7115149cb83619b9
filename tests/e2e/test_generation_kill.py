"""Kill the process running a generation job that loads the clinical database: it is re-queued,
resumes after its last committed chunk, and every synthetic patient is there exactly once."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from inescape.migrate import sync_url
from tests.support.processes import Served
from tests.support.served_jobs import admin, wait_finished, wait_job

N, CHUNK = 12_000, 1_000


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


@pytest.mark.parametrize("connections", [1, 3], ids=["one-connection", "three-connections"])
def test_a_generation_job_killed_mid_load_resumes_without_losing_or_doubling_a_patient(
    served_env, tmp_path, backend, connections
):
    """With several connections, chunks commit out of order: each chunk's checkpoint names
    it, and the restart loads exactly the chunks no committed transaction holds."""
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
                "load_connections": connections,
            },
        ).json()
        assert "id" in job, job
        midway = wait_job(
            server.url,
            "generation",
            job["id"],
            lambda j: 0.15 < j["progress"] < 0.85,
            timeout=120,
            while_active=True,
        )
        assert 0 < midway["progress"] < 1

        victim.kill()
        if not real:
            server.start()
        else:
            worker.start()
        done = wait_finished(server.url, "generation", job["id"])
    finally:
        for process in (worker, server):
            if process is not None:
                process.stop()

    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    assert done["counts"]["loaded"] == N
    assert synthetic_patients(database_url) == (N, N)
