"""The audit trail is a hash chain: verify names a deleted, altered or reordered event. On
both backends (MongoDB and the SQL JSON table)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, func, select

from inescape.infra.documents import SqlDocumentStore
from inescape.infra.owned import OwnedDocuments
from inescape.infra.tables import documents
from inescape.modules.auth.audit import CHECKPOINTS, COLLECTION, HEAD, AuditKeys, AuditTrail, event_hash

KEYS = AuditKeys.derived(b"k" * 32)


def appender(services, keys: AuditKeys = KEYS) -> AuditTrail:
    """A trail as a process of the platform builds it: events in the audit store, the signed
    checkpoint in the SQL database."""
    checkpoints = SqlDocumentStore(services.db, clock=services.clock)
    return AuditTrail(services.documents, services.clock, keys=keys, checkpoints=checkpoints)


@pytest.fixture
def trail(services):
    return appender(services)


async def fill(trail, n: int) -> None:
    for i in range(n):
        await trail.record(
            action="patients.read",
            outcome="success",
            user=f"u{i % 3}",
            roles=["clinician"],
            resource_type="patient",
            resource_id=f"p{i}",
            patient_id=f"p{i}",
            request_id=f"r{i}",
            client_ip="10.0.0.1",
        )


async def test_an_untouched_chain_verifies(trail):
    await fill(trail, 12)

    report = await trail.verify(page=5)

    assert report.ok
    assert report.checked == 12
    assert report.problems == []


async def test_a_deleted_event_is_detected(trail, services):
    await fill(trail, 6)
    await services.documents.delete(COLLECTION, f"{3:012d}")

    report = await trail.verify()

    assert not report.ok
    assert any("event 3 is missing" in p for p in report.problems)


async def test_an_altered_event_is_detected(trail, services):
    await fill(trail, 5)
    doc = await services.documents.get(COLLECTION, f"{2:012d}")
    doc["user"] = "somebody-else"
    await services.documents.replace(COLLECTION, doc["id"], doc)

    report = await trail.verify()

    assert report.problems == ["event 2 was altered: its hash does not match its content"]


async def test_reordered_events_are_detected(trail, services):
    await fill(trail, 5)
    two = await services.documents.get(COLLECTION, f"{2:012d}")
    four = await services.documents.get(COLLECTION, f"{4:012d}")
    for doc, seq in ((two, 4), (four, 2)):  # swap their places, content intact
        await services.documents.replace(COLLECTION, f"{seq:012d}", {**doc, "seq": seq})

    report = await trail.verify()

    assert not report.ok


async def test_concurrent_appends_keep_one_linear_chain(trail, services):
    other = appender(services)  # a second process's appender

    await asyncio.gather(
        *(t.record(action="a", outcome="success", user=str(i)) for i, t in enumerate([trail, other] * 10))
    )

    report = await trail.verify()
    assert report.ok
    assert report.checked == 20


async def test_concurrent_requests_share_commits_and_each_gets_its_own_event(trail, services):
    other = appender(services)
    await other.record(action="first", outcome="success")  # the other process holds an old head

    events = await asyncio.gather(
        *(trail.record(action="read", outcome="success", request_id=f"r{i}") for i in range(200)),
        *(other.record(action="write", outcome="success", request_id=f"w{i}") for i in range(50)),
    )

    assert sorted(e.seq for e in events) == list(range(2, 252))
    stored = await services.documents.find(COLLECTION, {"request_id": "r137"})
    assert [d["seq"] for d in stored] == [events[137].seq]
    report = await trail.verify()
    assert report.ok
    assert report.checked == 251


async def test_an_event_is_written_even_when_its_caller_stops_waiting(trail, services):
    waiting = asyncio.create_task(trail.record(action="read", outcome="success", request_id="gone"))
    await asyncio.sleep(0)
    waiting.cancel()
    await trail.record(action="read", outcome="success", request_id="next")

    assert [d["request_id"] for d in await services.documents.find(COLLECTION, sort=[("id", 1)])] == [
        "gone",
        "next",
    ]


async def test_the_audit_query_filters_and_pages_newest_first(trail):
    await fill(trail, 9)

    first = await trail.query(filters={"user": "u1"}, before_seq=None, limit=2)
    rest = await trail.query(filters={"user": "u1"}, before_seq=first[-1].seq, limit=10)

    assert [e.seq for e in first] == [8, 5]
    assert [e.seq for e in rest] == [2]


# --- the keyed chain and its signed checkpoint ---------------------------------------------


def recompute_from(docs: list[dict], start: int, keys: AuditKeys | None) -> None:
    """What someone with write access to the audit store but not the key can do: rewrite the
    chain from ``start`` on, with a key of their own or as unkeyed events."""
    prev = docs[start - 2]["hash"] if start > 1 else "0" * 64
    for doc in docs[start - 1 :]:
        doc["prev_hash"] = prev
        if keys is None:
            doc.pop("key_id", None)
        else:
            doc["key_id"] = keys.active
        prev = doc["hash"] = event_hash(doc, keys)


async def stored(services) -> list[dict]:
    return await services.documents.find(COLLECTION, sort=[("id", 1)], limit=1000)


async def test_deleting_the_newest_events_is_reported_as_a_deletion_at_the_end(trail, services):
    await fill(trail, 10)
    for seq in (9, 10):
        await services.documents.delete(COLLECTION, f"{seq:012d}")

    report = await trail.verify()

    assert not report.ok
    assert report.checked == 8
    assert any("events 9 to 10 deleted at the end" in p for p in report.problems), report.problems


async def test_deleting_the_newest_events_and_the_checkpoint_is_reported(trail, services):
    await fill(trail, 6)
    await services.documents.delete(COLLECTION, f"{6:012d}")
    await SqlDocumentStore(services.db).delete(CHECKPOINTS, HEAD)

    report = await trail.verify()

    assert not report.ok
    assert any("checkpoint is missing" in p for p in report.problems)


@pytest.mark.parametrize(
    "attacker_key", [AuditKeys.derived(b"a guess" * 5), None], ids=["own key", "unkeyed"]
)
async def test_an_altered_event_with_the_chain_recomputed_after_it_is_reported(trail, services, attacker_key):
    await fill(trail, 6)
    docs = await stored(services)
    docs[2]["user"] = "somebody-else"
    recompute_from(docs, 3, attacker_key)
    for doc in docs[2:]:
        await services.documents.replace(COLLECTION, doc["id"], doc)

    report = await trail.verify()

    assert not report.ok
    assert any(p.startswith("event 3 ") for p in report.problems), report.problems
    assert not any("follow" in p for p in report.problems)  # the links themselves were made good


async def test_a_checkpoint_moved_back_by_hand_fails_its_signature(trail, services):
    await fill(trail, 5)
    checkpoints = SqlDocumentStore(services.db)
    head = await checkpoints.get(CHECKPOINTS, HEAD)
    await checkpoints.replace(CHECKPOINTS, HEAD, {**head, "seq": 3})

    report = await trail.verify()

    assert not report.ok
    assert any("checkpoint was altered" in p for p in report.problems)


async def test_another_installs_key_cannot_verify_the_chain(trail, services):
    await fill(trail, 3)

    report = await appender(services, AuditKeys.derived(b"x" * 32)).verify()

    assert not report.ok
    assert any("signed with a key this install does not have" in p for p in report.problems)


async def test_a_chain_written_before_keying_verifies_and_keying_starts_after_it(trail, services):
    legacy = []
    prev = "0" * 64
    for seq in (1, 2, 3):
        doc = {**{k: None for k in ("user", "resource_type", "resource_id", "patient_id")}, "seq": seq}
        doc |= {"time": "2026-01-01T00:00:00", "roles": [], "action": "old", "outcome": "success"}
        doc |= {"request_id": None, "client_ip": None, "detail": None, "prev_hash": prev}
        prev = doc["hash"] = event_hash(doc)
        legacy.append({"id": f"{seq:012d}", **doc})
    await services.documents.insert_many(COLLECTION, legacy)

    await fill(trail, 3)
    intact = await trail.verify()
    docs = await stored(services)
    recompute_from(docs, 5, None)  # the keyed events after the mark rewritten as unkeyed ones
    for doc in docs[4:]:
        await services.documents.replace(COLLECTION, doc["id"], doc)
    downgraded = await trail.verify()

    assert intact.ok, intact.problems
    assert intact.checked == 6
    assert [d.get("key_id") is None for d in await stored(services)][:4] == [True, True, True, False]
    assert any("event 5 carries no signature though every event from 4 on" in p for p in downgraded.problems)


# --- durable before acknowledged -----------------------------------------------------------


async def test_the_audit_store_acknowledges_only_journaled_writes(services):
    """MongoDB answers a plain write once it is in memory (the journal follows within
    100 ms): a crash in between loses an event whose request was answered."""
    store = services.documents
    if store.backend != "mongodb":
        pytest.skip("the SQL document store commits with the database (see the next test)")

    concern = store.db[COLLECTION].write_concern

    assert concern.document.get("j") is True
    assert concern.acknowledged


async def test_sql_commits_are_synchronous_whatever_the_database_default(services, tmp_path):
    from sqlalchemy import text

    from inescape.infra.db import Database

    db = services.db
    if db.backend != "postgresql":
        pytest.skip("SQLite: WAL with synchronous=NORMAL, durable against a crash of the process")
    name = db.engine.url.database
    async with db.engine.connect() as conn:
        await conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        await conn.commit()
    fresh = Database(db.url)
    try:
        async with fresh.engine.connect() as conn:
            setting = await conn.scalar(text("SHOW synchronous_commit"))
    finally:
        await fresh.close()

    assert setting == "on"


@pytest.mark.parametrize("views", [False, True], ids=["stores", "module-views"])
async def test_on_one_sql_database_an_event_and_its_checkpoint_are_one_commit(services, views, monkeypatch):
    """The embedded default keeps events and checkpoint in one SQL database: a caller is
    answered after the one commit that holds its event and the checkpoint covering it (also
    through the auth module's views of the stores, as the platform wires them). On an SQLite
    file that commit is made on the database's writer thread, whose statements are counted
    there."""
    if not isinstance(services.documents, SqlDocumentStore):
        pytest.skip("events in MongoDB: the checkpoint moves in the SQL database after them")
    events: Any = services.documents
    checkpoints: Any = SqlDocumentStore(services.db, clock=services.clock)
    if views:
        events = OwnedDocuments(events, module="auth", collections=[COLLECTION])
        checkpoints = OwnedDocuments(checkpoints, module="auth", collections=[CHECKPOINTS])
    trail = AuditTrail(events, services.clock, keys=KEYS, checkpoints=checkpoints)
    commits: list[object] = []
    engine = services.db.engine.sync_engine
    await fill(trail, 1)  # reads the head first
    count_commit = commits.append
    real_trip = services.db.in_one_trip

    async def counted_trip(work: Any) -> Any:
        def traced(connection: Any) -> Any:
            connection.set_trace_callback(lambda sql: sql.strip() == "COMMIT" and commits.append(sql))
            try:
                return work(connection)
            finally:
                connection.set_trace_callback(None)

        return await real_trip(traced)

    monkeypatch.setattr(services.db, "in_one_trip", counted_trip)
    event.listen(engine, "commit", count_commit)
    try:
        await fill(trail, 5)
    finally:
        event.remove(engine, "commit", count_commit)
    async with services.db.engine.connect() as conn:  # what any reader sees now
        stored = await conn.scalar(
            select(documents.c.body).where(documents.c.collection == CHECKPOINTS, documents.c.id == HEAD)
        )
        count = await conn.scalar(select(func.count()).where(documents.c.collection == COLLECTION))

    assert len(commits) == 5
    assert count == 6
    assert stored["seq"] == 6
