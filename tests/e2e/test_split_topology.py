"""Split mode as deployed: the gateway and four module processes plus a worker, driven through
the gateway only. A promotion in the training process reaches decision support in its own
process (outbox and Redis Streams); a module that dies is a 503 while the others answer, and
answers again once it is back. Needs the real servers (Redis carries the queue and events)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.auth import PASSWORD, http_bearer
from tests.support.processes import Served, run_cli
from tests.support.served_jobs import admin, wait_finished

pytestmark = pytest.mark.real

MODULES = ("generation", "collection", "training", "cds")
FACTS = {
    "histology": "adenocarcinoma",
    "location": "lower",
    "t": "T3",
    "n": "N1",
    "m": "M0",
    "grade": "G2",
    "ecog": 1,
    "age": 66,
    "sex": "male",
}


def risk(base: Served | str, headers: dict[str, str]) -> httpx.Response:
    url = base if isinstance(base, str) else base.url
    return httpx.post(f"{url}/api/v1/cds/risk", json=FACTS, headers=headers, timeout=10)


def risk_until_available(base: str, headers: dict[str, str], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        answer = risk(base, headers)
        if (answer.status_code == 200 and answer.json()["available"]) or time.monotonic() > deadline:
            return {"code": answer.status_code, **answer.json()}
        time.sleep(0.2)


def drive_the_flow(base: str, headers: dict[str, str], clinician: dict[str, str]) -> None:
    """Generate a cohort, train a model on it, promote it, and see decision support use it."""
    generated = httpx.post(
        f"{base}/api/v1/generation/jobs",
        headers=headers,
        timeout=10,
        json={"profile": "us-seer", "n": 2000, "seed": 3, "outputs": ["parquet"]},
    )
    assert generated.status_code == 202, generated.text
    done = wait_finished(base, "generation", generated.json()["id"], timeout=120)
    assert done["status"] == "succeeded", done
    run = httpx.post(
        f"{base}/api/v1/training/runs",
        headers=headers,
        timeout=10,
        json={
            "name": "overall-survival",
            "model": "cox",
            "dataset": {"source": "dataset", "id": generated.json()["id"]},
            "features": "clinical",
            "max_epochs": 40,
            "bootstrap": 20,
        },
    )
    assert run.status_code == 202, run.text
    trained = wait_finished(base, "training", run.json()["id"], timeout=120)
    assert trained["status"] == "succeeded", trained
    promoted = httpx.post(
        f"{base}/api/v1/models/overall-survival/versions/1/promote",
        headers=headers,
        timeout=10,
        json={"allow_synthetic": True},
    )
    assert promoted.status_code == 200, promoted.text
    answer = risk_until_available(base, clinician)
    assert answer["available"] is True, answer
    assert answer["version"] == 1


@pytest.mark.parametrize("backend", ["real"], indirect=True)  # Redis: the queue and the events
def test_the_gateway_forwards_to_module_processes_and_events_cross_them(backend, served_env, tmp_path):
    env = served_env | {"INESCAPE_CDS_RISK_REFRESH_S": "3600"}  # only the event can refresh it
    made = run_cli(
        "create-user", "doctor", "--role", "clinician", "--password-stdin", env=env, stdin=PASSWORD
    )
    assert made.returncode == 0, made.stderr
    modules = {
        name: Served("serve", "--module", name, env=env, log=tmp_path / f"{name}.log") for name in MODULES
    }
    upstreams = ",".join(f"{name}={server.url}" for name, server in modules.items())
    gateway = Served(
        "serve", env=env | {"INESCAPE_GATEWAY_UPSTREAMS": upstreams}, log=tmp_path / "gateway.log"
    )
    worker = Served("worker", env=env, log=tmp_path / "worker.log")
    processes = [gateway, *modules.values(), worker]
    try:
        for process in processes:
            process.start(wait=False)
        for process in processes[:-1]:
            process.wait_ready(timeout=90)
        headers, clinician = admin(gateway.url), http_bearer(gateway.url, "doctor")
        before = risk(gateway, clinician)
        assert before.json().get("available") is False, before.text  # no model yet: the answer is kept

        drive_the_flow(gateway.url, headers, clinician)

        modules["cds"].kill()
        down = risk(gateway, clinician)
        profiles = httpx.get(f"{gateway.url}/api/v1/generation/profiles", headers=headers, timeout=10)
        assert down.status_code == 503
        assert down.json()["status_code"] == 503
        assert "cds" in down.json()["detail"]
        assert down.headers["Retry-After"]
        assert profiles.status_code == 200

        modules["cds"].start()
        back = risk(gateway, clinician)
        assert back.status_code == 200, back.text
        assert back.json()["version"] == 1
    finally:
        for process in processes:
            process.stop()


@pytest.mark.parametrize("backend", ["real"], indirect=True)
def test_the_same_flow_passes_on_one_process_and_a_worker(backend, served_env, tmp_path):
    made = run_cli(
        "create-user", "doctor", "--role", "clinician", "--password-stdin", env=served_env, stdin=PASSWORD
    )
    assert made.returncode == 0, made.stderr
    server = Served("serve", env=served_env, log=tmp_path / "serve.log")
    worker = Served("worker", env=served_env, log=tmp_path / "worker.log")
    try:
        server.start()
        worker.start()
        drive_the_flow(server.url, admin(server.url), http_bearer(server.url, "doctor"))
    finally:
        worker.stop()
        server.stop()
