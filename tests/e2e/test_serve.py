"""A served process: the README's command on a bare data dir, and on the real servers."""

from __future__ import annotations

import json

import httpx

from tests.support.processes import Served, run_cli


def test_serve_starts_and_reports_every_module_and_backend_ok(served_env, tmp_path, backend):
    server = Served("serve", env=served_env, log=tmp_path / "serve.log").start()
    try:
        detailed = httpx.get(f"{server.url}/health/detailed", timeout=10)
        openapi = httpx.get(f"{server.url}/schema/openapi.json", timeout=10)
        docs = httpx.get(f"{server.url}/schema", timeout=10)
    finally:
        server.stop()

    body = detailed.json()
    assert detailed.status_code == 200, body
    assert {b["name"] for b in body["backends"] if b["status"] == "ok"} == {
        "database",
        "documents",
        "cache",
        "queue",
        "storage",
    }
    assert {"auth", "patients", "generation", "collection", "training", "cds"} <= {
        m["name"] for m in body["modules"] if m["status"] == "ok"
    }
    assert openapi.status_code == 200
    assert openapi.json()["info"]["title"] == "INEsCape"
    assert docs.status_code == 200
    assert "Application shutdown complete" in server.log()  # SIGTERM shuts down cleanly
    access = [
        json.loads(line)
        for line in server.log().splitlines()
        if line.startswith("{") and '"inescape.access"' in line
    ]
    assert access
    assert all("request_id" in line for line in access)


def test_serve_module_runs_that_module_alone_on_its_port(served_env, tmp_path):
    server = Served("serve", "--module", "cds", env=served_env, log=tmp_path / "cds.log")
    server.start()
    try:
        modules = httpx.get(f"{server.url}/health/detailed", timeout=10).json()["modules"]
        other = httpx.get(f"{server.url}/api/v1/generation/jobs", timeout=10)
    finally:
        server.stop()

    assert [m["name"] for m in modules] == ["auth", "cds"]  # the gateway guards it
    assert other.status_code == 404


def test_migrate_brings_a_fresh_database_to_the_latest_revision(tmp_path):
    result = run_cli("migrate", env={"INESCAPE_DATA_DIR": str(tmp_path / "d")})

    assert result.returncode == 0, result.stderr
    from alembic.script import ScriptDirectory

    from inescape.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert f"at revision {head}" in result.stdout
