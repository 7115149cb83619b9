"""The two limiters: Redis (one Lua round trip per hit, shared by every replica) and process
memory (the embedded default); ``rate_limiter_for`` picks the one matching the cache."""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from inescape.infra.cache import RedisCache, redis_options
from inescape.infra.ratelimit.gcra import KEY_PREFIX, US, Decision, RateLimiter, decision, gcra, interval_us
from inescape.kernel.errors import Unavailable
from inescape.kernel.ports import Cache

# The same steps as gcra. TIME is the server's clock (one clock for every replica); tests
# pass their own "now" (ARGV[3] >= 0) so both backends can be driven by one fake clock.
_LUA = """
local limit = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local burst = limit * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now <= burst then
  if ARGV[4] == '1' then
    redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1)
    return {1, new_tat - now, 0}
  end
  return {1, tat - now, 0}
end
return {0, tat - now, new_tat - now - burst}
"""


class RedisRateLimiter:
    """Keys ``inescape:ratelimit:<group>:<subject>``, each expiring when its quota is full again."""

    backend = "redis"

    def __init__(
        self, client: aioredis.Redis, *, clock: Callable[[], float] | None = None, owns_client: bool = False
    ) -> None:
        self._redis = client
        self._script = client.register_script(_LUA)
        self._clock = clock  # None: the Redis server's clock
        self._owns_client = owns_client

    @classmethod
    def from_url(cls, url: str, *, clock: Callable[[], float] | None = None) -> RedisRateLimiter:
        client = aioredis.Redis.from_url(url, **redis_options())
        return cls(client, clock=clock, owns_client=True)

    async def close(self) -> None:
        if self._owns_client:  # a client shared with the cache is the cache's to close
            await self._redis.aclose()

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        return await self._run(key, limit, window_s, consume=True)

    async def peek(self, key: str, limit: int, window_s: float) -> Decision:
        return await self._run(key, limit, window_s, consume=False)

    async def reset(self, key: str) -> None:
        try:
            await self._redis.delete(KEY_PREFIX + key)
        except (RedisError, OSError) as exc:
            raise _unavailable() from exc

    async def _run(self, key: str, limit: int, window_s: float, *, consume: bool) -> Decision:
        interval = interval_us(limit, window_s)
        now = -1 if self._clock is None else int(self._clock() * US)
        try:
            result = await self._script(keys=[KEY_PREFIX + key], args=[limit, interval, now, int(consume)])
        except (RedisError, OSError) as exc:
            raise _unavailable() from exc
        return decision(result, limit, interval)


def _unavailable() -> Unavailable:
    return Unavailable("The rate limiter (Redis) is unreachable.", backend="redis", retry_after=5)


class MemoryRateLimiter:
    """One process's limits. Each call reads and writes without awaiting in between, so it
    is atomic on the event loop."""

    backend = "memory"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._tats: dict[str, int] = {}
        self._clock = clock
        self._max_keys = max_keys

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        return self._run(key, limit, window_s, consume=True)

    async def peek(self, key: str, limit: int, window_s: float) -> Decision:
        return self._run(key, limit, window_s, consume=False)

    async def reset(self, key: str) -> None:
        self._tats.pop(key, None)

    async def close(self) -> None:
        self._tats.clear()

    def _run(self, key: str, limit: int, window_s: float, *, consume: bool) -> Decision:
        interval = interval_us(limit, window_s)
        now = int(self._clock() * US)
        result = gcra(self._tats.get(key), now, limit, interval, consume)
        if result[0] and consume:
            if key not in self._tats and len(self._tats) >= self._max_keys:
                self._sweep(now)
            self._tats[key] = now + result[1]
        return decision(result, limit, interval)

    def _sweep(self, now: int) -> None:
        for key in [k for k, tat in self._tats.items() if tat <= now]:
            del self._tats[key]
        while len(self._tats) >= self._max_keys:  # still full: forget the oldest (most lenient)
            del self._tats[next(iter(self._tats))]


def rate_limiter_for(cache: Cache) -> RateLimiter:
    """The limiter that shares the cache's backend (and its Redis connection pool)."""
    if isinstance(cache, RedisCache):
        return RedisRateLimiter(cache._redis)
    return MemoryRateLimiter()
