"""Kill the process running a collection job (a CSV upload of a few thousand rows read in small
pages): it is re-queued, resumes after its last committed page, and every record is there
exactly once, with the job's counts exact."""

from __future__ import annotations

import httpx

from tests.support.served_jobs import admin, database_url_of, kill_mid_job, source_counts

N, PAGE = 3_000, 15
SOURCE = "kill-test-registry"
MAPPING = {
    "source_record_id": "PatientID",
    "mrn": "MRN",
    "birth_date": "DOB",
    "sex": "Sex",
    "histology": "Histology",
    "condition.morphology_code": "Morphology",
    "condition.topography_code": "Site",
    "location": "Location",
    "diagnosis_date": "DxDate",
    "vital_status": "Vital",
    "outcome.last_follow_up": "LastSeen",
}


def cohort_csv(n: int) -> bytes:
    header = "PatientID,MRN,DOB,Sex,Histology,Morphology,Site,Location,DxDate,Vital,LastSeen\n"
    row = (
        "p{i:05d},MRN-{i},1955-02-01,male,squamous_cell_carcinoma,8070/3,C15.4,middle,"
        "2022-05-01,alive,2024-01-01\n"
    )
    return (header + "".join(row.format(i=i) for i in range(n))).encode()


def submit(base: str) -> str:
    made = httpx.post(
        f"{base}/api/v1/collection/uploads?filename=cohort.csv",
        content=cohort_csv(N),
        headers={**admin(base), "Content-Type": "text/csv"},
        timeout=30,
    )
    assert made.status_code == 201, made.text
    config = {"upload_id": made.json()["id"], "format": "csv", "mapping": MAPPING, "page_size": PAGE}
    job = httpx.post(
        f"{base}/api/v1/collection/jobs",
        json={"connector": "upload", "source": SOURCE, "config": config},
        headers=admin(base),
        timeout=10,
    )
    assert job.status_code == 202, job.text
    return str(job.json()["id"])


def test_a_collection_job_killed_mid_job_resumes_without_losing_or_doubling_a_record(
    served_env, tmp_path, backend
):
    midway, done, _ = kill_mid_job(
        served_env,
        tmp_path,
        backend,
        "collection",
        submit,
        lambda j: 0.1 * N < int((j.get("counts") or {}).get("read", 0)) < 0.7 * N,
        poll=0.02,
    )

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
