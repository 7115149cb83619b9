"""The embedded database's one-trip transaction (the audit append): done at once on the event
loop's own connection, and when another connection holds SQLite's write lock, waited for on
the writer thread while the event loop goes on serving."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from inescape.infra.db import Database
from inescape.infra.documents import SqlDocumentStore
from inescape.infra.tables import documents


@pytest.fixture
async def store(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/embedded.db")
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda sync: documents.create(sync))
    yield SqlDocumentStore(db), tmp_path / "embedded.db"
    await db.close()


async def append(store: SqlDocumentStore, doc_id: str, n: int) -> int:
    return await store.insert_many_and_update(
        "events", [{"id": doc_id, "n": n}], target=("heads", "head"), change=lambda _stored: {"n": n}
    )


async def test_an_append_commits_the_documents_and_the_target_together(store):
    docs, _ = store

    assert await append(docs, "e1", 1) == 1
    assert await append(docs, "e2", 2) == 1
    assert await append(docs, "e2", 3) == 0  # a taken id leaves everything out

    assert await docs.get("events", "e2") == {"id": "e2", "n": 2}
    assert await docs.get("heads", "head") == {"id": "head", "n": 2}


async def test_an_append_waits_for_another_writer_without_holding_up_the_event_loop(store):
    docs, path = store
    await append(docs, "e1", 1)
    other = sqlite3.connect(path)
    other.execute("BEGIN IMMEDIATE")  # another process's transaction holds the write lock
    try:
        waiting = asyncio.create_task(append(docs, "e2", 2))
        started = time.monotonic()
        await asyncio.sleep(0.3)
        slept = time.monotonic() - started

        assert not waiting.done()
        assert slept < 0.6  # the loop was not stuck in a lock wait meanwhile
    finally:
        other.rollback()
        other.close()

    assert await asyncio.wait_for(waiting, 10) == 1
    assert await docs.get("events", "e2") == {"id": "e2", "n": 2}
    assert await docs.get("heads", "head") == {"id": "head", "n": 2}
