"""A name search finds a patient wherever the record is among many (the blind index of name
words, not a bounded scan), follows a change of name, finds records loaded in bulk (COPY on
PostgreSQL) and records stored before the index existed; the index holds no name in clear."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import pytest
from sqlalchemy import delete, select

from inescape.modules.patients import service as service_module
from inescape.modules.patients.api import PatientCreate
from inescape.modules.patients.models import name_terms
from inescape.modules.patients.service import PatientService
from tests.support.auth import bearer
from tests.support.records import record

OTHERS = 6_000  # more than a bounded scan reads per request (5,000)


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.names", ["clinician"])


async def on_app_loop(client: Any, work: Callable[[PatientService, Any], Awaitable[Any]]) -> Any:
    """Run ``work(patients, db)`` on the app's loop (where its database clients live)."""
    services = client.app.state.runtime.services
    patients = PatientService(db=services.db, uow=services.uow, clock=services.clock, cache=services.cache)
    future = asyncio.run_coroutine_threadsafe(work(patients, services.db), client.app.state.runtime.loop)
    return await asyncio.wrap_future(future)


def people(names: list[tuple[str, str]], start: int = 0) -> list[PatientCreate]:
    return [
        msgspec.convert(
            record(
                given_name=given,
                family_name=family,
                mrn=f"GOL-{start + n:07d}",
                source_record_id=f"GOL-{start + n:07d}",
            ),
            PatientCreate,
        )
        for n, (given, family) in enumerate(names)
    ]


async def created(client: Any, records: list[PatientCreate]) -> list[str]:
    """The ids of ``records`` written in one transaction (COPY on PostgreSQL)."""

    async def write(patients: PatientService, _db: Any) -> list[str]:
        return await patients.create_many(records=records)

    return list(await on_app_loop(client, write))


async def found(client: Any, headers: dict[str, str], name: str) -> list[dict[str, Any]]:
    """The first page of a name search (one request)."""
    response = await client.get("/api/v1/patients", params={"name": name}, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_a_patient_after_thousands_of_others_is_found_in_one_request(client, clinician):
    (wanted,) = await created(client, people([("Reza", "Karimi")], start=OTHERS))
    # created after it, so listed before it (newest first); a few share the first three
    # letters of its family name: candidates, confirmed away by their decrypted names
    others = [("Ali", "Rostami")] * (OTHERS - 20) + [("Hassan", "Karami")] * 20
    await created(client, people(others))

    by_prefix = await found(client, clinician, "kar")
    by_family = await found(client, clinician, "KARIMI")
    by_full_name = await found(client, clinician, "reza karimi")

    assert wanted in [r["id"] for r in by_prefix]
    assert [r["id"] for r in by_family] == [wanted]
    assert [(r["id"], r["given_name"], r["family_name"]) for r in by_full_name] == [
        (wanted, "Reza", "Karimi")
    ]


async def test_a_changed_family_name_is_found_and_the_old_one_is_not(client, clinician):
    (patient_id,) = await created(client, people([("Zahra", "Karimi")]))

    changed = await client.patch(
        f"/api/v1/patients/{patient_id}", json={"family_name": "Tavakoli"}, headers=clinician
    )

    assert changed.status_code == 200, changed.text
    assert await found(client, clinician, "karimi") == []
    assert [r["id"] for r in await found(client, clinician, "tavakoli")] == [patient_id]
    assert [r["id"] for r in await found(client, clinician, "zahra tav")] == [patient_id]


async def test_records_created_in_bulk_are_found_by_name(client, clinician):
    response = await client.post(
        "/api/v1/patients/bulk",
        json=[
            record(given_name="Mohsen", family_name="Nouri", mrn="GOL-1", source_record_id="GOL-1"),
            record(given_name="Leyla", family_name="Nourbakhsh", mrn="GOL-2", source_record_id="GOL-2"),
            record(given_name="Omid", family_name="Shirazi", mrn="GOL-3", source_record_id="GOL-3"),
        ],
        headers=clinician,
    )
    assert response.status_code == 201, response.text
    ids = response.json()["ids"]

    assert sorted(r["id"] for r in await found(client, clinician, "nour")) == sorted(ids[:2])
    assert [r["id"] for r in await found(client, clinician, "nourbakhsh leyla")] == [ids[1]]
    assert await found(client, clinician, "nourz") == []
    assert [r["id"] for r in await found(client, clinician, "o sh")] == [ids[2]]  # no term: a scan
    assert await found(client, clinician, "hiraz") == []  # words match from their start


async def test_the_index_holds_no_name_in_clear(client, clinician):
    await created(client, people([("Reza", "Karimi-Shirazi"), ("Zohreh", "Mousavi")]))
    words = [
        "reza",
        "karimi",
        "shirazi",
        "karimi-shirazi",
        "zohreh",
        "mousavi",
        "rez",
        "kar",
        "shi",
        "zoh",
        "mou",
    ]

    async def terms(_patients: PatientService, db: Any) -> list[str]:
        async with db.sessions() as session:
            return list((await session.scalars(select(name_terms.c.term))).all())

    stored = await on_app_loop(client, terms)

    # each word and each three-letter start is one keyed hash, cut to 16 hex characters
    assert len(stored) == 2 * 5  # five words (one family name is two), each with its start
    assert all(len(t) == 16 and set(t) <= set("0123456789abcdef") for t in stored)
    assert not [t for t in stored for w in words if w in t.casefold()]


async def test_records_stored_before_the_index_are_found_after_the_backfill(client, clinician, monkeypatch):
    monkeypatch.setattr(service_module, "INDEX_BATCH", 2)  # several batches, each committed
    ids = await created(
        client, people([("Reza", "Karimi"), ("Ali", "Karimi"), ("Zahra", "Karimi"), ("Omid", "Nouri")])
    )

    async def forget_terms(_patients: PatientService, db: Any) -> None:
        async with db.sessions() as session, session.begin():
            await session.execute(delete(name_terms))  # as revision 0012 leaves older records

    await on_app_loop(client, forget_terms)

    # the app indexes them before its first name search
    assert sorted(r["id"] for r in await found(client, clinician, "karimi")) == sorted(ids[:3])
    assert [r["id"] for r in await found(client, clinician, "nouri")] == [ids[3]]


async def test_a_deleted_record_keeps_its_terms_but_is_not_found(client, clinician):
    ids = await created(client, people([("Reza", "Karimi"), ("Ali", "Karimi")]))

    deleted = await client.delete(f"/api/v1/patients/{ids[0]}", headers=clinician)

    assert deleted.status_code == 204, deleted.text
    assert [r["id"] for r in await found(client, clinician, "karimi")] == [ids[1]]
