"""Kill the process running a FHIR Bulk Data collection job (a few hundred Patients read a few a
page): it is re-queued, resumes from its checkpoint without a second ``$export`` kick-off, and
every Patient is there exactly once, with the job's counts exact."""

from __future__ import annotations

import httpx
from sqlalchemy import create_engine, text

from inescape.migrate import sync_url
from tests.support.fhir_bulk_server import FhirBulkServer, resources_of
from tests.support.processes import Served
from tests.support.served_jobs import admin, wait_finished, wait_job

N, PAGE = 400, 4
SOURCE = "kill-test-ehr"


def collected(database_url: str) -> tuple[int, int]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            total, distinct = conn.execute(
                text("SELECT count(*), count(DISTINCT source_record_id) FROM patients WHERE source = :s"),
                {"s": SOURCE},
            ).one()
    finally:
        engine.dispose()
    return int(total), int(distinct)


def submit(base: str, ehr: FhirBulkServer) -> str:
    config = {
        "base_url": ehr.base,
        "token": ehr.token,
        "page_size": PAGE,
        "poll_s": 0.1,
        "requests_per_s": 1000,
    }
    job = httpx.post(
        f"{base}/api/v1/collection/jobs",
        json={"connector": "fhir-bulk", "source": SOURCE, "config": config},
        headers=admin(base),
        timeout=10,
    )
    assert job.status_code == 202, job.text
    assert ehr.token not in job.text  # sealed in the job's params
    return str(job.json()["id"])


def test_a_fhir_bulk_job_killed_mid_job_resumes_without_a_second_export_or_a_doubled_record(
    served_env, tmp_path, backend
):
    ehr = FhirBulkServer(resources_of(N), polls=1, file_lines=150)
    real = backend == "real"
    server = Served("serve", env=served_env, log=tmp_path / "serve.log").start()
    worker = Served("worker", env=served_env, log=tmp_path / "worker.log").start() if real else None
    victim = worker if real else server
    database_url = (
        served_env.get("INESCAPE_DATABASE_URL") or f"sqlite:///{served_env['INESCAPE_DATA_DIR']}/inescape.db"
    )
    try:
        job_id = submit(server.url, ehr)
        midway = wait_job(
            server.url,
            "collection",
            job_id,
            lambda j: 0.1 * N < int((j.get("counts") or {}).get("read", 0)) < 0.7 * N,
            timeout=120,
            poll=0.02,
            while_active=True,
        )
        victim.kill()
        (worker if real else server).start()
        done = wait_finished(server.url, "collection", job_id)
    finally:
        for process in (worker, server):
            if process is not None:
                process.stop()
        ehr.close()

    assert 0 < midway["counts"]["read"] < N, midway
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2, done
    assert {k: done["counts"][k] for k in ("read", "accepted", "created", "duplicates", "rejected")} == {
        "read": N,
        "accepted": N,
        "created": N,
        "duplicates": 0,
        "rejected": 0,
    }
    assert collected(database_url) == (N, N)
    assert ehr.kickoffs() == 1
    assert ehr.requests[-1][0] == "DELETE"
