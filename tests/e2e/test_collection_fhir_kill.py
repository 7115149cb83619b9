"""Kill the process running a FHIR Bulk Data collection job (a few hundred Patients read a few a
page): it is re-queued, resumes from its checkpoint without a second ``$export`` kick-off, and
every Patient is there exactly once, with the job's counts exact."""

from __future__ import annotations

import httpx

from inescape.modules.collection.connectors.outbound import SETTING
from tests.support.fhir_bulk_server import FhirBulkServer, resources_of
from tests.support.replay import REPLAY_HOSTS
from tests.support.served_jobs import admin, database_url_of, kill_mid_job, source_counts

N, PAGE = 400, 4
SOURCE = "kill-test-ehr"


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
    try:
        midway, done, _ = kill_mid_job(
            served_env | {SETTING: REPLAY_HOSTS},
            tmp_path,
            backend,
            "collection",
            lambda base: submit(base, ehr),
            lambda j: 0.1 * N < int((j.get("counts") or {}).get("read", 0)) < 0.7 * N,
            poll=0.02,
        )
    finally:
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
    assert source_counts(database_url_of(served_env), SOURCE) == (N, N)
    assert ehr.kickoffs() == 1
    assert ehr.requests[-1][0] == "DELETE"
