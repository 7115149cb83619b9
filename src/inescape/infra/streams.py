"""Events between processes on Redis Streams: the outbox relay's transport and the consumer.

One stream per event name (``<namespace>:events:<name>``) and one consumer group per
subscription, so each subscription handles each event once however many replicas read it.
An event is acknowledged after its handler ran; one left unacknowledged (its consumer died)
is claimed by another consumer after ``claim_idle_s`` (``XAUTOCLAIM``). Delivery is at least
once; a per-group marker keyed by event id makes the handler run once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from inescape.kernel.bus import RetryPolicy, Subscription
from inescape.kernel.events import Event, decode_event, event_types
from inescape.kernel.ids import new_id

log = logging.getLogger("inescape.streams")

MAX_LEN = 100_000  # events kept per stream (approximate trim); consumers are far behind only when down
DONE_TTL_S = 7 * 24 * 3600  # how long a handled event id is remembered per group


def stream_key(namespace: str, name: str) -> str:
    return f"{namespace}:events:{name}"


class RedisStreamTransport:
    """The outbox relay's transport: one ``XADD`` per event."""

    def __init__(self, redis: Redis, *, namespace: str) -> None:
        self._redis = redis
        self._namespace = namespace

    async def send(self, *, event_id: str, name: str, payload: bytes) -> None:
        await self._redis.xadd(
            stream_key(self._namespace, name),
            {"id": event_id, "name": name, "payload": payload},
            maxlen=MAX_LEN,
            approximate=True,
        )


def streamed_names(subscription: Subscription) -> list[str]:
    """The names of the events, among those that leave the process, ``subscription`` takes."""
    return sorted(
        name
        for name, cls in event_types().items()
        if cls.leaves_process and issubclass(cls, subscription.event_type)
    )


class StreamConsumer:
    """Reads the streams of ``subscriptions``, one task per subscription (its group)."""

    def __init__(
        self,
        redis: Redis,
        subscriptions: Sequence[Subscription],
        *,
        namespace: str,
        claim_idle_s: float = 30.0,
        block_s: float = 1.0,
        policy: RetryPolicy | None = None,
        consumer: str | None = None,
    ) -> None:
        self._redis = redis
        self._subscriptions = [s for s in subscriptions if streamed_names(s)]
        self._namespace = namespace
        self._claim_idle_ms = max(int(claim_idle_s * 1000), 1)
        self._block_ms = max(int(block_s * 1000), 1)
        self._stopping = False
        self._policy = policy or RetryPolicy(attempts=3)
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{new_id()[:8]}"
        self._tasks: list[asyncio.Task[None]] = []
        self._types = event_types()

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self.run(sub)) for sub in self._subscriptions]

    async def stop(self) -> None:
        """Let each reader finish its current blocking read (at most ``block_s``) and leave;
        cancel only a reader that does not. A read cancelled mid-command may never answer
        the cancellation (redis-py), so shutting down never depends on it alone."""
        self._stopping = True
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=self._block_ms / 1000 + 2.0)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=2.0)
        self._tasks = []

    def _streams(self, sub: Subscription) -> list[str]:
        return [stream_key(self._namespace, name) for name in streamed_names(sub)]

    async def ensure_groups(self, sub: Subscription) -> None:
        for stream in self._streams(sub):
            try:  # from the start of the stream: events sent before the group existed count too
                await self._redis.xgroup_create(stream, sub.name, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def run(self, sub: Subscription) -> None:
        """Read and handle until cancelled; a Redis outage is logged and waited out."""
        ready = False
        next_claim = 0.0
        while not self._stopping:
            try:
                if not ready:
                    await self.ensure_groups(sub)
                    ready = True
                if time.monotonic() >= next_claim:
                    await self.reclaim(sub)
                    next_claim = time.monotonic() + max(self._claim_idle_ms / 2000, 0.5)
                await self.read(sub)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis down or the stream deleted: set up again shortly
                log.warning("event stream read failed", extra={"group": sub.name}, exc_info=True)
                ready = False
                await asyncio.sleep(1.0)

    async def read(self, sub: Subscription, *, block: bool = True) -> int:
        """Handle the next new events of ``sub``'s streams; return how many came."""
        reply: Any = await self._redis.xreadgroup(
            sub.name,
            self.consumer,
            {stream: ">" for stream in self._streams(sub)},
            count=50,
            block=self._block_ms if block else None,
        )
        count = 0
        for stream, messages in reply or []:
            for message_id, fields in messages:
                await self.handle(sub, stream, message_id, fields)
                count += 1
        return count

    async def reclaim(self, sub: Subscription) -> int:
        """Take over events another consumer left unacknowledged for ``claim_idle_s``."""
        count = 0
        for stream in self._streams(sub):
            start: Any = "0-0"
            while True:
                reply: Any = await self._redis.xautoclaim(
                    stream, sub.name, self.consumer, self._claim_idle_ms, start_id=start, count=50
                )
                start, messages = reply[0], reply[1]
                for message_id, fields in messages:
                    if fields:  # None when the entry was trimmed meanwhile
                        await self.handle(sub, stream, message_id, fields)
                        count += 1
                    else:
                        await self._redis.xack(stream, sub.name, message_id)
                if start in (b"0-0", "0-0"):
                    break
        if count:
            log.info("redelivered unacknowledged events", extra={"group": sub.name, "count": count})
        return count

    async def handle(self, sub: Subscription, stream: Any, message_id: Any, fields: Any) -> None:
        """Run the handler once per event id for this group, then acknowledge."""
        event_id = _text(fields.get(b"id") or fields.get("id"))
        marker = f"{self._namespace}:events:done:{sub.name}:{event_id}"
        claimed = await self._redis.set(marker, "running", nx=True, px=self._claim_idle_ms)
        if not claimed:
            if _text(await self._redis.get(marker)) == "done":  # a duplicate: handled already
                await self._redis.xack(stream, sub.name, message_id)
            return  # "running": another consumer has it; if it dies, the marker expires
        try:
            event = decode_event(fields.get(b"payload") or fields.get("payload"), self._types)
        except Exception:  # an event this version cannot read: log it, never block the stream
            log.warning("undecodable event skipped", extra={"group": sub.name, "event_id": event_id})
            await self._redis.set(marker, "done", ex=DONE_TTL_S)
            await self._redis.xack(stream, sub.name, message_id)
            return
        if await self._run(sub, event):
            await self._redis.set(marker, "done", ex=DONE_TTL_S)
        else:
            await self._redis.delete(marker)
        await self._redis.xack(stream, sub.name, message_id)

    async def _run(self, sub: Subscription, event: Event) -> bool:
        for attempt in range(1, self._policy.attempts + 1):
            try:
                await sub.handler(event)
            except Exception:  # a subscriber's bug: retried, then logged and given up
                final = attempt == self._policy.attempts
                log.warning(
                    "event subscriber failed",
                    exc_info=final,
                    extra={"group": sub.name, "event_id": event.id, "attempt": attempt, "gave_up": final},
                )
                if final:
                    return False
                await asyncio.sleep(self._policy.delay(attempt))
            else:
                return True
        return False


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
