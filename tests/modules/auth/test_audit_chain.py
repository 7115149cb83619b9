"""The audit trail is a hash chain: verify names a deleted, altered or reordered event. On
both backends (MongoDB and the SQL JSON table)."""

from __future__ import annotations

import asyncio

import pytest

from inescape.modules.auth.audit import COLLECTION, AuditTrail


@pytest.fixture
def trail(services):
    return AuditTrail(services.documents, services.clock)


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
    other = AuditTrail(services.documents, services.clock)  # a second process's appender

    await asyncio.gather(
        *(t.record(action="a", outcome="success", user=str(i)) for i, t in enumerate([trail, other] * 10))
    )

    report = await trail.verify()
    assert report.ok
    assert report.checked == 20


async def test_concurrent_requests_share_commits_and_each_gets_its_own_event(trail, services):
    other = AuditTrail(services.documents, services.clock)
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
