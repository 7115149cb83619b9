"""Kill the server with SIGKILL while clinicians read a patient: every read that was answered
has its audit event in the trail after the restart. An answer goes out only once its event is
committed (several readers at once share a commit), so an acknowledged event is never lost."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import httpx

from tests.support.auth import PASSWORD, http_bearer
from tests.support.processes import Served, run_cli
from tests.support.records import record
from tests.support.served_jobs import admin

READERS = 4
ANSWERED_BEFORE_KILL = 150


def audited_request_ids(base: str, patient_id: str) -> set[str]:
    found: set[str] = set()
    cursor: int | None = None
    while True:
        params: dict[str, str | int] = {"action": "patients.read", "patient_id": patient_id, "limit": 500}
        if cursor is not None:
            params["cursor"] = cursor
        page = httpx.get(f"{base}/api/v1/audit/events", params=params, headers=admin(base), timeout=10)
        assert page.status_code == 200, page.text
        body = page.json()
        found |= {event["request_id"] for event in body["items"]}
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def test_every_answered_read_is_audited_after_a_kill(served_env, tmp_path):
    made = run_cli(
        "create-user",
        "dr.kill",
        "--role",
        "clinician",
        "--password-stdin",
        env=served_env,
        stdin=PASSWORD + "\n",
    )
    assert made.returncode == 0, made.stderr
    server = Served("serve", env=served_env, log=tmp_path / "serve.log").start()
    answered: list[str] = []
    stop = threading.Event()  # the readers' own stop, should the test fail before the kill
    try:
        clinician = http_bearer(server.url, "dr.kill")
        created = httpx.post(f"{server.url}/api/v1/patients", json=record(), headers=clinician, timeout=10)
        assert created.status_code == 201, created.text
        patient_id = created.json()["id"]

        def read() -> None:
            with httpx.Client(base_url=server.url, headers=clinician, timeout=10) as client:
                while not stop.is_set() and time.monotonic() < deadline:
                    request_id = uuid.uuid4().hex
                    try:
                        answer = client.get(
                            f"/api/v1/patients/{patient_id}", headers={"X-Request-ID": request_id}
                        )
                    except httpx.HTTPError:
                        return  # the server is gone
                    if answer.status_code == 200:
                        answered.append(request_id)
                        if len(answered) >= ANSWERED_BEFORE_KILL and not killed.is_set():
                            killed.set()  # at once, this answer's event just acknowledged
                            os.kill(pid, signal.SIGKILL)

        pid = server.proc.pid
        killed = threading.Event()
        deadline = time.monotonic() + 120
        readers = [threading.Thread(target=read) for _ in range(READERS)]
        for reader in readers:
            reader.start()
        for reader in readers:  # each stops when the server is gone
            reader.join(timeout=20)
        assert killed.is_set(), f"only {len(answered)} reads answered in time"
        server.proc.wait(timeout=10)
        acknowledged = set(answered)

        server.start()  # same data dir (embedded) or same servers (real)
        audited = audited_request_ids(server.url, patient_id)
    finally:
        stop.set()
        server.stop()

    assert acknowledged - audited == set()
