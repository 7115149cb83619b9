"""The task queue: dramatiq with the Redis broker, or a stub broker with an in-process worker.

The queue only ever carries job ids: the job itself is a database row. One dramatiq queue per
module (``generation``, ``training``, ...), each with one actor ``<queue>.run_job``. Actors
are declared on the broker built here, never on dramatiq's global broker at import time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from redis.exceptions import RedisError

from inescape.infra.cache import redis_options
from inescape.kernel.errors import Unavailable

log = logging.getLogger("inescape.queue")

DAY_MS = 24 * 3600 * 1000


class JobQueue:
    def __init__(self, broker: dramatiq.Broker, *, backend: str) -> None:
        self.broker = broker
        self.backend = backend
        self._actors: dict[str, dramatiq.Actor[[str], None]] = {}
        self._worker: dramatiq.Worker | None = None
        self._run_id: str | None = None

    @classmethod
    def redis(cls, url: str, *, namespace: str = "inescape") -> JobQueue:
        pool = redis.ConnectionPool.from_url(url, **redis_options(socket_timeout=5, sync=True))
        broker = RedisBroker(namespace=namespace, connection_pool=pool)  # type: ignore[no-untyped-call]
        return cls(broker, backend="redis")

    @classmethod
    def embedded(cls) -> JobQueue:
        return cls(StubBroker(), backend="memory")

    def declare(self, queue_name: str, run: Callable[[str], None]) -> None:
        """Declare ``<queue>.run_job``; the job row owns attempts, so dramatiq never retries."""
        if queue_name in self._actors:
            return
        self._actors[queue_name] = dramatiq.Actor(
            run,
            broker=self.broker,
            actor_name=f"{queue_name}.run_job",
            queue_name=queue_name,
            priority=0,
            options={"max_retries": 0, "time_limit": DAY_MS, "max_age": 7 * DAY_MS},
        )

    @property
    def queues(self) -> tuple[str, ...]:
        return tuple(self._actors)

    async def send(self, queue_name: str, job_id: str, *, delay_s: float = 0.0) -> None:
        actor = self._actors.get(queue_name)
        if actor is None:
            raise LookupError(f"no queue {queue_name!r} declared")
        delay = int(delay_s * 1000) or None
        try:
            await asyncio.to_thread(actor.send_with_options, args=(job_id,), delay=delay)
        except (RedisError, OSError, dramatiq.errors.ConnectionError) as exc:
            raise Unavailable(
                "The task queue (Redis) is unreachable; try again shortly.", backend="redis", retry_after=5
            ) from exc

    def start_worker(self, queues: Iterable[str] | None = None, *, threads: int = 4) -> None:
        if self._worker is not None:
            return
        # How long an idle thread waits before it looks again (and notices a stop): a worker
        # stops in about twice this. An in-memory queue wakes its waiters when a job arrives,
        # so a short wait only costs idle wake-ups; Redis is polled after each empty wait (ten
        # polls a second per queue at 100 ms: nothing to Redis, and a job waits 0.1 s at most).
        timeout = 50 if self.backend == "memory" else 100
        self._worker = dramatiq.Worker(
            self.broker, queues=set(queues or self.queues), worker_threads=threads, worker_timeout=timeout
        )
        self._worker.start()
        log.info(
            "worker started",
            extra={"queues": sorted(queues or self.queues), "threads": threads, "broker": self.backend},
        )

    def stop_worker(self, timeout_ms: int = 10_000) -> None:
        if self._worker is not None:
            self._worker.stop(timeout=timeout_ms)
            self._worker = None

    async def restarted(self) -> bool:
        """Whether the Redis server restarted since the last call (its run id changed): a
        server without persistence comes back with empty queues, and every job handed to it
        before must be handed again. False while it is unreachable, or with no Redis."""
        if not isinstance(self.broker, RedisBroker):
            return False
        try:
            info = await asyncio.to_thread(self.broker.client.info, "server")
        except (RedisError, OSError):
            return False
        run_id = str(info.get("run_id", ""))
        before, self._run_id = self._run_id, run_id
        return before is not None and run_id != before

    async def ping(self) -> None:
        if isinstance(self.broker, RedisBroker):
            await asyncio.to_thread(self.broker.client.ping)

    async def close(self) -> None:
        self.stop_worker()
        await asyncio.to_thread(self.broker.close)
