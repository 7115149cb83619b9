"""The bus delivers after commit: a rolled-back event never arrives, a committed one arrives
once at each subscriber, a failing subscriber is retried alone. Outbox rows share the
transaction. On both backends."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from inescape.infra.outbox import OutboxRelay
from inescape.infra.tables import jobs as jobs_table
from inescape.infra.tables import outbox
from inescape.kernel.bus import RetryPolicy, Subscription
from inescape.kernel.events import decode_event
from tests.support.events import SampleExported, SampleRecorded


def recorder(received: list):
    async def handle(event) -> None:
        received.append(event)

    return handle


async def outbox_rows(services) -> list:
    async with services.db.sessions() as s:
        return (await s.execute(select(outbox).order_by(outbox.c.created_at))).all()


async def job_count(services) -> int:
    async with services.db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(jobs_table)))


async def test_a_committed_event_reaches_each_subscriber_once(services):
    first, second = [], []
    services.bus.subscribe(Subscription(SampleRecorded, recorder(first), "first"))
    services.bus.subscribe(Subscription(SampleRecorded, recorder(second), "second"))

    async with services.uow() as uow:
        uow.publish(SampleRecorded(value=7))
    await services.bus.drain()

    assert [e.value for e in first] == [7]
    assert [e.value for e in second] == [7]


async def test_an_event_is_not_delivered_before_commit(services):
    received = []
    services.bus.subscribe(Subscription(SampleRecorded, recorder(received), "r"))

    async with services.uow() as uow:
        uow.publish(SampleRecorded(value=1))
        await services.bus.drain()
        assert received == []
    await services.bus.drain()

    assert len(received) == 1


async def test_a_rolled_back_transaction_delivers_nothing_and_writes_nothing(services):
    received = []
    services.bus.subscribe(Subscription(SampleRecorded, recorder(received), "r"))

    with pytest.raises(RuntimeError):
        async with services.uow() as uow:
            await services.jobs.create(uow.session, module="cds", kind="x", queue="cds", params={})
            uow.publish(SampleRecorded(value=2))
            uow.publish(SampleExported(value=2))
            raise RuntimeError("business rule broken")
    await services.bus.drain()

    assert received == []
    assert await outbox_rows(services) == []
    assert await job_count(services) == 0


async def test_a_failing_subscriber_is_retried_without_affecting_the_others(services):
    services.bus.policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)
    calls: list[int] = []
    healthy = []

    async def flaky(event) -> None:
        calls.append(event.value)
        if len(calls) < 3:
            raise ConnectionError("downstream hiccup")

    services.bus.subscribe(Subscription(SampleRecorded, flaky, "flaky"))
    services.bus.subscribe(Subscription(SampleRecorded, recorder(healthy), "healthy"))

    async with services.uow() as uow:
        uow.publish(SampleRecorded(value=5))
    await services.bus.drain()

    assert calls == [5, 5, 5]
    assert [e.value for e in healthy] == [5]
    metrics = services.metrics.render().decode()
    assert 'inescape_bus_events_total{event="testing.sample.recorded.v1",outcome="retried"} 2.0' in metrics


async def test_a_subscriber_that_always_fails_gives_up_and_is_counted(services):
    services.bus.policy = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.01)

    async def broken(event) -> None:
        raise ValueError("bug")

    services.bus.subscribe(Subscription(SampleRecorded, broken, "broken"))
    async with services.uow() as uow:
        uow.publish(SampleRecorded(value=9))
    await services.bus.drain()

    metrics = services.metrics.render().decode()
    assert 'event="testing.sample.recorded.v1",outcome="failed"} 1.0' in metrics


async def test_an_event_that_leaves_the_process_is_in_the_outbox_with_the_commit(services):
    async with services.uow() as uow:
        uow.publish(SampleExported(value=11))
        uow.publish(SampleRecorded(value=12))  # stays in the process

    rows = await outbox_rows(services)
    assert [r.name for r in rows] == ["testing.sample.exported.v1"]
    assert decode_event(rows[0].payload) == SampleExported(
        id=rows[0].id, occurred_at=decode_event(rows[0].payload).occurred_at, value=11
    )


class RecordingTransport:
    def __init__(self, fail_first: int = 0) -> None:
        self.sent: list[str] = []
        self.fail_first = fail_first

    async def send(self, *, event_id: str, name: str, payload: bytes) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("stream down")
        self.sent.append(event_id)


async def test_the_relay_sends_each_outbox_event_once_in_commit_order(services):
    ids = []
    for value in range(3):
        async with services.uow() as uow:
            event = SampleExported(value=value)
            ids.append(event.id)
            uow.publish(event)
    transport = RecordingTransport()
    relay = OutboxRelay(services.db, transport)

    assert await relay.relay_once() == 3
    assert await relay.relay_once() == 0
    assert transport.sent == ids


async def test_the_relay_keeps_an_event_when_the_transport_fails(services):
    async with services.uow() as uow:
        uow.publish(SampleExported(value=1))
    transport = RecordingTransport(fail_first=1)
    relay = OutboxRelay(services.db, transport)

    assert await relay.relay_once() == 0
    assert await relay.relay_once() == 1
    rows = await outbox_rows(services)
    assert rows[0].published_at is not None
    assert rows[0].attempts == 2


async def test_a_burst_of_events_runs_a_few_handlers_at_a_time_and_delivers_every_one(services):
    # A bulk load of thousands of records publishes thousands of events: their handlers must
    # not all hold a pool connection at once, and a slow subscriber must not hold up another.
    import asyncio

    from inescape.infra.bus import PER_SUBSCRIPTION

    running, most, slow_done, quick = 0, 0, [], []

    async def slow(event) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.05)  # 500 of them, 16 at a time: 1.6 s at least
        running -= 1
        slow_done.append(event.value)

    services.bus.subscribe(Subscription(SampleRecorded, slow, "slow"))
    services.bus.subscribe(Subscription(SampleRecorded, recorder(quick), "quick"))
    async with services.uow() as uow:
        for value in range(500):
            uow.publish(SampleRecorded(value=value))
    for _ in range(100):  # the quick subscriber is not kept waiting behind the slow one
        if len(quick) == 500:
            break
        await asyncio.sleep(0.01)
    assert len(quick) == 500
    assert len(slow_done) < 500
    await services.bus.drain()

    assert sorted(slow_done) == list(range(500))
    assert most == PER_SUBSCRIPTION
