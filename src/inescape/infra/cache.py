"""Cache, sessions and counters: Redis in production, process memory when embedded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from inescape.kernel.errors import Unavailable

P = ParamSpec("P")
T = TypeVar("T")


def redis_options(*, socket_timeout: float | None = 2.0, sync: bool = False) -> dict[str, Any]:
    """Connection settings every Redis client of ours uses (cache, sessions, rate limits,
    queue, event streams). A pooled connection opened before a Redis restart is dead; the
    first command on it fails with a connection error, is retried on a fresh connection
    (within a fraction of a second, three times at most), and only then reaches the caller
    as "unavailable". Idle connections are pinged before reuse. ``sync``: for a client of
    ``redis`` rather than ``redis.asyncio`` (the queue's)."""
    return {
        "socket_connect_timeout": 2,
        "socket_timeout": socket_timeout,
        "socket_keepalive": True,
        "health_check_interval": 5,
        "retry": (Retry if sync else AsyncRetry)(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 3),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
    }


def _unavailable_on_redis_error(
    fn: Callable[P, Coroutine[Any, Any, T]],
) -> Callable[P, Coroutine[Any, Any, T]]:
    @wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await fn(*args, **kwargs)
        except (RedisError, OSError) as exc:
            raise Unavailable(
                "The cache (Redis) is unreachable; try again shortly.", backend="redis", retry_after=5
            ) from exc

    return wrapper


class RedisCache:
    backend = "redis"

    def __init__(self, url: str) -> None:
        self._redis = aioredis.Redis.from_url(url, **redis_options())

    @_unavailable_on_redis_error
    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(key)
        if value is None:
            return None
        return value if isinstance(value, bytes) else str(value).encode()

    @_unavailable_on_redis_error
    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        await self._redis.set(key, value, px=int(ttl * 1000) if ttl else None)

    @_unavailable_on_redis_error
    async def delete(self, key: str) -> None:
        await self._redis.delete(key)

    @_unavailable_on_redis_error
    async def incr(self, key: str, *, ttl: float | None = None) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            if ttl:
                pipe.pexpire(key, int(ttl * 1000), nx=True)
            result = await pipe.execute()
        return int(result[0])

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


class MemoryCache:
    """A dict with expiry times; expired keys are dropped when touched or swept."""

    backend = "memory"

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000):
        self._data: dict[str, tuple[bytes, float | None]] = {}
        self._clock = clock
        self._max_keys = max_keys
        self._lock = asyncio.Lock()

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        item = self._data.get(key)
        if item is not None and item[1] is not None and item[1] <= self._clock():
            del self._data[key]
            return None
        return item

    def _sweep(self) -> None:
        now = self._clock()
        for key in [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]:
            del self._data[key]
        while len(self._data) >= self._max_keys:  # still full: drop the oldest entries
            del self._data[next(iter(self._data))]

    def _expiry(self, ttl: float | None) -> float | None:
        return self._clock() + ttl if ttl else None

    async def get(self, key: str) -> bytes | None:
        item = self._live(key)
        return item[0] if item else None

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None:
        if len(self._data) >= self._max_keys:
            self._sweep()
        self._data[key] = (value, self._expiry(ttl))

    async def delete(self, key: str) -> None:
        self._data.pop(key, None)

    async def incr(self, key: str, *, ttl: float | None = None) -> int:
        async with self._lock:
            item = self._live(key)
            value = int(item[0]) + 1 if item else 1
            self._data[key] = (str(value).encode(), item[1] if item else self._expiry(ttl))
            return value

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._data.clear()


class ReadThrough:
    """Cache-aside reads with stampede protection.

    In this process, concurrent misses of one key share one computation. Across processes,
    the first miss takes a short lease (an atomic counter with a TTL) and computes; the
    others poll the cache for its answer, and compute themselves only if the lease holder
    has not answered within ``lease_s`` (it died, or is slow): a lost holder delays readers,
    it never blocks them.
    """

    def __init__(self, cache: Any, *, lease_s: float = 10.0, poll_s: float = 0.05) -> None:
        self._cache = cache
        self._lease_s = lease_s
        self._poll_s = poll_s
        self._inflight: dict[str, asyncio.Future[bytes]] = {}

    async def get(self, key: str, compute: Callable[[], Coroutine[Any, Any, bytes]], *, ttl: float) -> bytes:
        hit: bytes | None = await self._cache.get(key)
        if hit is not None:
            return hit
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        pending = asyncio.get_running_loop().create_future()
        self._inflight[key] = pending
        try:
            body = await self._fill(key, compute, ttl=ttl)
            pending.set_result(body)
        except BaseException as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            self._inflight.pop(key, None)
        return body

    async def _fill(
        self, key: str, compute: Callable[[], Coroutine[Any, Any, bytes]], *, ttl: float
    ) -> bytes:
        lease = f"{key}:lease"
        if await self._cache.incr(lease, ttl=self._lease_s) > 1:  # another process computes
            deadline = time.monotonic() + self._lease_s
            while time.monotonic() < deadline:
                await asyncio.sleep(self._poll_s)
                hit: bytes | None = await self._cache.get(key)
                if hit is not None:
                    return hit
        try:
            body = await compute()
            await self._cache.set(key, body, ttl=ttl)
        finally:
            await self._cache.delete(lease)
        return body
