"""A change racing a delete of the same record: the change read the record while it was live,
the delete commits before the change writes, and the change is told the record is gone (404
in the error shape), never a 500; the record stays deleted and unchanged.

The interleaving is forced, not hoped for: once the change has read the record it waits (on
the app's loop) until the test's DELETE, a separate request and transaction, is answered."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import text

from inescape.modules.patients import repository
from tests.support.auth import bearer, on_app_loop
from tests.support.records import RECORD

CHANGES = {
    "patch": ("PATCH", "", {"outcome": {"vital_status": "alive", "last_follow_up": "2025-01-01"}}),
    "add": (
        "POST",
        "/observations",
        {"code": "1751-7", "value": 3.4, "unit": "g/dL", "observed_on": "2023-02-01"},
    ),
}


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.clinician", ["clinician"])


class Gate:
    """Holds the first read of ``patient_id`` (the change's, in its transaction, before it
    writes anything) until the test lets it go."""

    def __init__(self, app, patient_id: str) -> None:
        self._loop = app.state.runtime.loop
        self._patient_id = patient_id
        self.reached = threading.Event()
        self._open = asyncio.Event()  # waited on by the app's loop only

    def wrap(self, load):
        async def held(session, patient_id):
            found = await load(session, patient_id)
            if patient_id == self._patient_id and not self.reached.is_set():
                self.reached.set()
                await self._open.wait()
            return found

        return held

    def release(self) -> None:
        self._loop.call_soon_threadsafe(self._open.set)


async def version_of(client, patient_id: str) -> int:
    async def read() -> int:
        async with client.app.state.services.db.sessions() as s:
            found = await s.scalar(text("SELECT version FROM patients WHERE id = :i"), {"i": patient_id})
            return int(found)

    return await on_app_loop(client.app, read())


@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_a_change_racing_a_delete_is_404_never_500(client, clinician, monkeypatch, change):
    method, suffix, body = CHANGES[change]
    patient_id = (await client.post("/api/v1/patients", json=RECORD, headers=clinician)).json()["id"]
    gate = Gate(client.app, patient_id)
    monkeypatch.setattr(repository, "load", gate.wrap(repository.load))

    # The test client blocks its caller's loop until the answer: the change runs in a thread.
    changing = asyncio.create_task(
        asyncio.to_thread(
            asyncio.run,
            client.request(method, f"/api/v1/patients/{patient_id}{suffix}", json=body, headers=clinician),
        )
    )
    assert await asyncio.to_thread(gate.reached.wait, 30), (await changing).text
    deleted = await client.delete(f"/api/v1/patients/{patient_id}", headers=clinician)
    version_after_delete = await version_of(client, patient_id)
    gate.release()
    changed = await changing

    assert deleted.status_code == 204
    assert changed.status_code == 404, changed.text
    assert changed.json()["detail"] == f"no patient {patient_id}"
    assert changed.json()["status_code"] == 404
    assert await version_of(client, patient_id) == version_after_delete
    assert (await client.get(f"/api/v1/patients/{patient_id}", headers=clinician)).status_code == 404
