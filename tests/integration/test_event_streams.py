"""Events between processes on Redis Streams: the outbox relay sends, each subscription's group
reads; an event its consumer never acknowledged goes to another consumer, and a duplicate runs
the handler once. Needs the real Redis."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from inescape.infra.bus import SplitBus
from inescape.infra.outbox import OutboxRelay
from inescape.infra.streams import RedisStreamTransport, StreamConsumer, stream_key
from inescape.kernel.bus import Subscription
from inescape.kernel.events import encode_event, event_name
from tests.support.events import SampleExported

pytestmark = pytest.mark.parametrize("backend", ["real"], indirect=True)


@pytest.fixture
async def redis(settings):
    client = Redis.from_url(settings.redis.url)
    yield client
    await client.aclose()


@pytest.fixture
def namespace(settings) -> str:
    return settings.redis.queue_namespace


def recorder(received: list):
    async def handle(event) -> None:
        received.append(event)

    return handle


async def send(redis, namespace: str, event: SampleExported) -> None:
    transport = RedisStreamTransport(redis, namespace=namespace)
    await transport.send(event_id=event.id, name=event_name(event), payload=encode_event(event))


async def pending(redis, namespace: str, group: str) -> int:
    summary = await redis.xpending(stream_key(namespace, "testing.sample.exported.v1"), group)
    return int(summary["pending"])


async def test_a_committed_event_reaches_a_subscriber_through_the_outbox_and_the_stream(
    redis, namespace, services
):
    received: list = []
    relay = OutboxRelay(services.db, RedisStreamTransport(redis, namespace=namespace))
    services.bus = SplitBus(relay.wake)
    subscription = Subscription(SampleExported, recorder(received), "testing.exported")
    consumer = StreamConsumer(redis, [subscription], namespace=namespace, consumer="c1")
    await consumer.ensure_groups(subscription)

    async with services.uow() as uow:
        uow.publish(SampleExported(value=3))
    await services.bus.drain()
    assert received == []  # not in process: it travels through the outbox
    await relay.relay_once()
    await consumer.read(subscription, block=False)

    assert [e.value for e in received] == [3]
    assert await pending(redis, namespace, "testing.exported") == 0


async def test_an_event_whose_consumer_dies_before_ack_is_redelivered_to_another(redis, namespace):
    hung, received = asyncio.Event(), []

    async def hang(_event) -> None:
        hung.set()
        await asyncio.sleep(3600)

    dying = Subscription(SampleExported, hang, "testing.redelivered")
    first = StreamConsumer(redis, [dying], namespace=namespace, claim_idle_s=0.3, consumer="dies")
    await first.ensure_groups(dying)
    event = SampleExported(value=5)
    await send(redis, namespace, event)
    reading = asyncio.create_task(first.read(dying, block=False))
    await hung.wait()
    reading.cancel()  # the consumer dies holding the event, unacknowledged
    await asyncio.gather(reading, return_exceptions=True)

    alive = Subscription(SampleExported, recorder(received), "testing.redelivered")
    second = StreamConsumer(redis, [alive], namespace=namespace, claim_idle_s=0.3, consumer="lives")
    assert await second.read(alive, block=False) == 0  # nothing new: the event is pending
    await asyncio.sleep(0.4)
    claimed = await second.reclaim(alive)

    assert claimed == 1
    assert [e.id for e in received] == [event.id]
    assert await pending(redis, namespace, "testing.redelivered") == 0


async def test_a_duplicate_delivery_runs_the_handler_once(redis, namespace):
    received: list = []
    subscription = Subscription(SampleExported, recorder(received), "testing.deduped")
    consumer = StreamConsumer(redis, [subscription], namespace=namespace, consumer="c1")
    await consumer.ensure_groups(subscription)
    event = SampleExported(value=8)

    await send(redis, namespace, event)
    await send(redis, namespace, event)  # the relay died between sending and marking it sent
    await consumer.read(subscription, block=False)

    assert [e.id for e in received] == [event.id]
    assert await pending(redis, namespace, "testing.deduped") == 0


async def test_a_group_created_late_still_gets_events_sent_before_it(redis, namespace):
    received: list = []
    event = SampleExported(value=1)
    await send(redis, namespace, event)

    subscription = Subscription(SampleExported, recorder(received), "testing.late")
    consumer = StreamConsumer(redis, [subscription], namespace=namespace, consumer="c1")
    await consumer.ensure_groups(subscription)
    await consumer.read(subscription, block=False)

    assert [e.id for e in received] == [event.id]
