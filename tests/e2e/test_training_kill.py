"""Kill the process running a training run mid-training: the run is re-queued, trains again from
the start with the same seed, and registers exactly one version."""

from __future__ import annotations

import httpx

from tests.support.processes import Served
from tests.support.served_jobs import admin, wait_finished, wait_job


def test_a_training_run_killed_mid_training_reruns_and_registers_one_version(served_env, tmp_path, backend):
    real = backend == "real"
    server = Served("serve", env=served_env, log=tmp_path / "serve.log").start()
    worker = Served("worker", env=served_env, log=tmp_path / "worker.log").start() if real else None
    victim = worker if real else server
    try:
        headers = admin(server.url)
        generated = httpx.post(
            f"{server.url}/api/v1/generation/jobs",
            headers=headers,
            timeout=10,
            json={"profile": "us-seer", "n": 3000, "seed": 5, "outputs": ["parquet"]},
        ).json()
        assert wait_finished(server.url, "generation", generated["id"])["status"] == "succeeded"
        run = httpx.post(
            f"{server.url}/api/v1/training/runs",
            headers=headers,
            timeout=10,
            json={
                "name": "os-kill",
                "model": "deepsurv",
                "dataset": {"source": "dataset", "id": generated["id"]},
                "features": "full",
                "seed": 9,
                "max_epochs": 300,
                "patience": 300,  # no early stop: the run is still training when it is killed
                "bootstrap": 0,
            },
        ).json()
        assert "id" in run, run
        wait_job(
            server.url,
            "training",
            run["id"],
            lambda j: j["counts"].get("epochs", 0) >= 3,
            timeout=180,
            while_active=True,
        )

        victim.kill()
        if not real:
            server.start()
        else:
            worker.start()
        done = wait_finished(server.url, "training", run["id"], timeout=600)
        versions = httpx.get(
            f"{server.url}/api/v1/models/os-kill/versions", headers=admin(server.url), timeout=10
        )
        state = httpx.get(
            f"{server.url}/api/v1/training/runs/{run['id']}", headers=admin(server.url), timeout=10
        )
    finally:
        for process in (worker, server):
            if process is not None:
                process.stop()

    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    assert [v["version"] for v in versions.json()] == [1]
    assert versions.json()[0]["run_id"] == run["id"]
    assert state.json()["epochs"] == 300
    assert state.json()["version"] == 1
