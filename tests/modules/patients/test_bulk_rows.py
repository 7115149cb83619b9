"""A bulk load stores the rows one record's write stores: each value through its column type's
bind step (dates as text on SQLite, JSON, an empty encrypted field as NULL), whether the rows
went by the multi-row insert (SQLite), binary COPY (PostgreSQL) or one Core INSERT."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from sqlalchemy import text

from inescape.kernel.ids import new_ids
from inescape.modules.patients.api import PatientCreate
from inescape.modules.patients.models import CHILDREN, patients
from inescape.modules.patients.repository import bulk, reads
from tests.support.auth import bearer, on_app_loop
from tests.support.records import RECORD, record

# Random per write: the id, the nonce of each encrypted field, the research id drawn from the id.
DIFFER = {"id", "patient_id", "research_id", "created_at", "updated_at"}


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.bulk", ["clinician"])


async def stored(client: Any, patient_id: str) -> dict[str, list[dict[str, Any]]]:
    async def read() -> dict[str, list[dict[str, Any]]]:
        async with client.app.state.services.db.sessions() as s:
            tables = {"patients": patients, **CHILDREN}
            found = {}
            for name, table in tables.items():
                key = "id" if name == "patients" else "patient_id"
                # the values as stored: no column type reads them (no decryption, no date parsing)
                query = text(f"SELECT * FROM {table.name} WHERE {key} = :patient_id")
                rows = (await s.execute(query, {"patient_id": patient_id})).mappings()
                found[name] = [dict(r) for r in rows]
            return found

    return await on_app_loop(client.app, read())


def comparable(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name, table_rows in rows.items():
        out[name] = sorted(
            (
                {
                    k: (None if v is None else "encrypted") if str(v).startswith("v1:") else v
                    for k, v in row.items()
                    if k not in DIFFER
                }
                for row in table_rows
            ),
            key=repr,
        )
    return out


async def test_a_bulk_load_stores_the_rows_a_single_write_stores(client, clinician):
    # RECORD has every part (staging, treatments, biomarkers...); the second record leaves the
    # optional identifying fields empty, which must be stored as NULL, not as ciphertext.
    sparse = record(given_name=None, family_name=None, phone=None, email=None, address=None)
    sparse = {k: v for k, v in sparse.items() if v is not None}
    single_ids = []
    for body in (RECORD, sparse):
        created = await client.post("/api/v1/patients", json=body, headers=clinician)
        assert created.status_code == 201, created.text
        single_ids.append(created.json()["id"])
    bulk = await client.post("/api/v1/patients/bulk", json=[RECORD, sparse], headers=clinician)
    assert bulk.status_code == 201, bulk.text
    bulk_ids = bulk.json()["ids"]

    for single_id, bulk_id in zip(single_ids, bulk_ids, strict=True):
        one, many = await stored(client, single_id), await stored(client, bulk_id)
        assert sum(len(rows) for rows in many.values()) > 5  # the children are there
        assert comparable(many) == comparable(one)
    sparse_row = (await stored(client, bulk_ids[1]))["patients"][0]
    assert sparse_row["given_name"] is None
    assert sparse_row["phone"] is None
    assert str((await stored(client, bulk_ids[0]))["patients"][0]["given_name"]).startswith("v1:")


async def test_a_sqlite_bulk_load_sends_many_rows_per_statement_each_landing_in_its_own_row(
    runtime, monkeypatch
):
    # One statement per many rows: an INSERT per row takes the interpreter's lock back after
    # every row, and waits for it (up to 5 ms a time) whenever another thread is busy.
    if runtime.services.db.backend != "sqlite":
        pytest.skip("PostgreSQL loads a batch by COPY")
    monkeypatch.setattr(bulk, "SQLITE_VARIABLES", 100)  # a patient row has 41 values: 2 rows a statement
    records = [
        msgspec.convert(
            record(mrn=f"GOL-{i:07d}", given_name=f"Name{i}", birth_date=f"19{50 + i}-03-14"),
            PatientCreate,
        )
        for i in range(5)
    ]
    ids = new_ids(len(records))
    statements: list[str] = []
    async with runtime.services.db.sessions() as session:
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        await driver.set_trace_callback(statements.append)
        try:
            await bulk.insert_records(session, records, ids=ids, now=datetime.now(UTC))
        finally:
            await driver.set_trace_callback(None)
        await session.commit()
    assert len([s for s in statements if s.startswith("INSERT INTO patients ")]) == 3  # 2 + 2 + 1
    async with runtime.services.db.sessions() as session:
        for patient_id, written in zip(ids, records, strict=True):
            loaded = await reads.load(session, patient_id)
            assert loaded is not None
            assert (loaded.mrn, loaded.given_name, loaded.birth_date) == (
                written.mrn,
                written.given_name,
                written.birth_date,
            )
            assert len(loaded.conditions) == len(written.conditions) == 1
            assert len(loaded.treatments) == len(written.treatments) > 1
