"""Kill the process running a training run mid-training: the run is re-queued, trains again from
the start with the same seed, and registers exactly one version."""

from __future__ import annotations

import httpx

from tests.support.served_jobs import admin, kill_mid_job, wait_finished


def test_a_training_run_killed_mid_training_reruns_and_registers_one_version(served_env, tmp_path, backend):
    submitted: list[str] = []

    def submit(base: str) -> str:
        headers = admin(base)
        generated = httpx.post(
            f"{base}/api/v1/generation/jobs",
            headers=headers,
            timeout=10,
            json={"profile": "us-seer", "n": 3000, "seed": 5, "outputs": ["parquet"]},
        ).json()
        assert wait_finished(base, "generation", generated["id"])["status"] == "succeeded"
        run = httpx.post(
            f"{base}/api/v1/training/runs",
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
        submitted.append(str(run["id"]))
        return submitted[0]

    def registered(base: str) -> tuple[list, dict]:
        headers = admin(base)
        versions = httpx.get(f"{base}/api/v1/models/os-kill/versions", headers=headers, timeout=10)
        state = httpx.get(f"{base}/api/v1/training/runs/{submitted[0]}", headers=headers, timeout=10)
        return versions.json()["items"], state.json()

    _, done, extra = kill_mid_job(
        served_env,
        tmp_path,
        backend,
        "training",
        submit,
        lambda j: j["counts"].get("epochs", 0) >= 3,
        finish_timeout=600,
        before_stop=registered,
    )
    versions, state = extra  # type: ignore[misc]

    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["run_id"] == done["id"]
    assert state["epochs"] == 300
    assert state["version"] == 1
