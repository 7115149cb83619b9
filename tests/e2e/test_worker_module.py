"""A worker that takes one module's queue binds the facades that module requires from the
other enabled modules (collection needs the gateway's de-identifier), and refuses to start,
naming the module to enable, when one is not enabled."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.test_collection_kill import MAPPING as KILL_TEST_MAPPING
from tests.support.processes import Served, run_cli
from tests.support.served_jobs import admin, database_url_of, wait_finished

CSV = (
    "PatientID,MRN,First,DOB,Sex,Histology,Morphology,Site,Location,DxDate,Vital,LastSeen\n"
    "w1,MRN-W1,Maryam,1955-02-01,female,squamous_cell_carcinoma,8070/3,C15.4,middle,"
    "2022-05-01,alive,2024-01-01\n"
)
MAPPING = {**KILL_TEST_MAPPING, "given_name": "First"}  # the kill test's columns, and a name to clear


def stored_rows(database_url: str, source: str) -> list[tuple[str, str | None, str | None]]:
    from sqlalchemy import create_engine, text

    from inescape.migrate import sync_url

    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT source_record_id, mrn, given_name FROM patients WHERE source = :s"),
                {"s": source},
            )
            return [tuple(row) for row in found]
    finally:
        engine.dispose()


def test_a_collection_worker_runs_a_research_only_job(served_env, tmp_path, backend):
    if backend != "real":
        pytest.skip("a separate worker takes jobs from the Redis queue; embedded jobs run in the server")
    server = Served("serve", env=served_env, log=tmp_path / "serve.log").start()
    worker = Served("worker", "--module", "collection", env=served_env, log=tmp_path / "worker.log").start()
    try:
        base = server.url
        made = httpx.post(
            f"{base}/api/v1/collection/uploads?filename=cohort.csv",
            content=CSV.encode(),
            headers={**admin(base), "Content-Type": "text/csv"},
            timeout=30,
        )
        assert made.status_code == 201, made.text
        config = {"upload_id": made.json()["id"], "format": "csv", "mapping": MAPPING}
        submitted = httpx.post(
            f"{base}/api/v1/collection/jobs",
            json={"connector": "upload", "source": "research-w", "config": config, "research_only": True},
            headers=admin(base),
            timeout=10,
        )
        assert submitted.status_code == 202, submitted.text

        done = wait_finished(base, "collection", submitted.json()["id"], timeout=120)

        assert done["status"] == "succeeded", (done, worker.log())
        [(source_id, mrn, given_name)] = stored_rows(database_url_of(served_env), "research-w")
        assert source_id.startswith("R-")
        assert mrn is None
        assert given_name is None
    finally:
        worker.stop()
        server.stop()


def test_a_worker_whose_module_requires_a_disabled_one_refuses_to_start_naming_it(served_env):
    env = {**served_env, "INESCAPE_MODULES": "patients,collection,generation"}

    result = run_cli("worker", "--module", "collection", env=env)

    assert result.returncode != 0
    assert "requires GatewayApi, provided by module 'auth', which is not enabled" in result.stderr
    assert "INESCAPE_MODULES" in result.stderr
