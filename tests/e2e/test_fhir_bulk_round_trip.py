"""The platform as a FHIR Bulk Data server for its own ``fhir-bulk`` connector: records are
loaded, a collection job exports them through ``/fhir/Patient/$export`` of the same served
process (kick-off, polling, manifest, NDJSON files, DELETE), imports them back under a new
source, and the counts match the export's manifest."""

from __future__ import annotations

import time

import httpx

from inescape.modules.collection.connectors.outbound import SETTING
from tests.support.auth import PASSWORD, http_bearer
from tests.support.processes import Served, run_cli
from tests.support.records import record
from tests.support.replay import REPLAY_HOSTS

N = 7
SOURCE = "self-export"


def test_the_platform_exports_its_records_and_its_fhir_bulk_connector_imports_the_same_count(
    served_env, tmp_path, backend
):
    # The platform is its own source here, on loopback over plain http: allowed as an
    # administrator would allow a source on the hospital's network.
    served_env = served_env | {SETTING: REPLAY_HOSTS}
    made = run_cli(
        "create-user",
        "steward",
        "--role",
        "data_steward",
        "--password-stdin",
        env=served_env,
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    server = Served("serve", env=served_env, log=tmp_path / "serve.log").start()
    worker = (
        Served("worker", env=served_env, log=tmp_path / "worker.log").start() if backend == "real" else None
    )
    try:
        base = server.url
        headers = http_bearer(base, "steward")  # a data steward: patients and collection
        records = [record(mrn=f"GOL-{i:05d}", source_record_id=f"g-{i}") for i in range(N)]
        made = httpx.post(f"{base}/api/v1/patients/bulk", json=records, headers=headers, timeout=30)
        assert made.status_code == 201, made.text
        config = {
            "base_url": f"{base}/fhir",
            "token": headers["Authorization"].removeprefix("Bearer "),
            "poll_s": 0.2,
            "requests_per_s": 1000,
            "page_size": 3,
        }
        submitted = httpx.post(
            f"{base}/api/v1/collection/jobs",
            json={"connector": "fhir-bulk", "source": SOURCE, "config": config},
            headers=headers,
            timeout=10,
        )
        assert submitted.status_code == 202, submitted.text

        done = httpx.get(f"{base}/api/v1/collection/jobs/{submitted.json()['id']}", headers=headers).json()
        for _ in range(900):
            if done["status"] in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.2)
            done = httpx.get(f"{base}/api/v1/collection/jobs/{done['id']}", headers=headers).json()

        assert done["status"] == "succeeded", (done, server.log())
        counts = done["counts"]
        assert (counts["read"], counts["accepted"], counts["rejected"]) == (N, N, 0), done
        listed = httpx.get(
            f"{base}/api/v1/patients", params={"source": SOURCE, "limit": 500}, headers=headers, timeout=10
        ).json()["items"]
        assert len(listed) == N
        exports = httpx.get(
            f"{base}/api/v1/patients/jobs",
            params={"kind": "patients.fhir_export"},
            headers=headers,
            timeout=10,
        ).json()["items"]
        assert exports[0]["status"] == "succeeded"
        assert exports[0]["result"]["Patient"] == N
        # the connector let the export go when it was done: its status URL is gone
        status = httpx.get(f"{base}/fhir/$export-status/{exports[0]['id']}", headers=headers, timeout=10)
        assert status.status_code == 404
        assert status.json()["resourceType"] == "OperationOutcome"
    finally:
        if worker is not None:
            worker.stop()
        server.stop()
