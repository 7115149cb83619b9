"""The rate limiter on Redis and in memory: the same decisions for the same sequence, atomic
under concurrency, keys that expire, and a clear error when Redis is down."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
import redis.asyncio as aioredis

from inescape.infra.cache import MemoryCache, RedisCache
from inescape.infra.ratelimit.backends import MemoryRateLimiter, RedisRateLimiter
from inescape.infra.ratelimit.errors import TooManyAttempts
from inescape.infra.ratelimit.gcra import KEY_PREFIX, Decision, RateLimiter
from inescape.kernel.errors import Unavailable
from inescape.modules.auth.throttle import LoginThrottle


class Ticks:
    def __init__(self) -> None:
        self.now = 1_767_225_600.0  # 2026-01-01, a realistic magnitude for the microsecond maths

    def __call__(self) -> float:
        return self.now


def make_limiter(backend: str, settings, clock: Ticks | None) -> RateLimiter:
    if backend == "real":
        return RedisRateLimiter.from_url(settings.redis.url, clock=clock)
    return MemoryRateLimiter(clock=clock) if clock else MemoryRateLimiter()


@pytest.fixture
def group() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


# (seconds to advance, operation, subject, limit, window) -> expected decision
SEQUENCE: list[tuple[float, str, str, int, float, Decision]] = [
    (0, "hit", "a", 3, 60, Decision(True, 3, 2, 20.0, 0.0)),
    (0, "hit", "a", 3, 60, Decision(True, 3, 1, 40.0, 0.0)),
    (0, "peek", "a", 3, 60, Decision(True, 3, 1, 40.0, 0.0)),
    (1, "hit", "a", 3, 60, Decision(True, 3, 0, 59.0, 0.0)),
    (0, "hit", "a", 3, 60, Decision(False, 3, 0, 59.0, 19.0)),
    (0, "hit", "b", 3, 60, Decision(True, 3, 2, 20.0, 0.0)),
    (18.5, "hit", "a", 3, 60, Decision(False, 3, 0, 40.5, 0.5)),
    (0.5, "hit", "a", 3, 60, Decision(True, 3, 0, 60.0, 0.0)),
    (0, "peek", "a", 3, 60, Decision(False, 3, 0, 60.0, 20.0)),
    (100, "hit", "a", 3, 60, Decision(True, 3, 2, 20.0, 0.0)),
    (0, "hit", "c", 7, 1, Decision(True, 7, 6, 0.142857, 0.0)),
]


async def test_both_backends_decide_a_scripted_sequence_the_same_way(backend, settings, group):
    clock = Ticks()
    limiter = make_limiter(backend, settings, clock)
    got = []
    for advance, op, subject, limit, window, _ in SEQUENCE:
        clock.now += advance
        method = limiter.hit if op == "hit" else limiter.peek
        got.append(await method(f"{group}:{subject}", limit, window))
    await limiter.close()

    assert got == [expected for *_, expected in SEQUENCE]


async def test_redis_and_memory_agree_on_a_long_random_sequence(backend, settings, group):
    if backend == "embedded":
        pytest.skip("compares Redis with memory; needs the real Redis")
    rng = random.Random(20260101)
    clock = Ticks()
    redis_limiter = make_limiter("real", settings, clock)
    memory_limiter = MemoryRateLimiter(clock=clock)
    for _ in range(300):
        clock.now += rng.choice([0, 0, 0.001, 0.3, 1.7, 7, 61])
        key, limit, window = f"{group}:{rng.choice('xyz')}", rng.choice([1, 2, 5]), rng.choice([1, 10, 60])
        op = rng.choice(["hit", "hit", "hit", "peek"])

        on_redis = await getattr(redis_limiter, op)(key, limit, window)
        in_memory = await getattr(memory_limiter, op)(key, limit, window)

        assert on_redis == in_memory
    await redis_limiter.close()


async def test_fifty_concurrent_hits_on_a_limit_of_ten_allow_exactly_ten(backend, settings, group):
    limiter = make_limiter(backend, settings, clock=None)

    decisions = await asyncio.gather(*(limiter.hit(f"{group}:burst", 10, 60) for _ in range(50)))
    await limiter.close()

    assert sum(d.allowed for d in decisions) == 10
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(10))


async def test_on_the_server_clock_a_slot_frees_after_window_over_limit(backend, settings, group):
    limiter = make_limiter(backend, settings, clock=None)
    await limiter.hit(f"{group}:s", 2, 0.4)
    await limiter.hit(f"{group}:s", 2, 0.4)

    denied = await limiter.hit(f"{group}:s", 2, 0.4)
    await asyncio.sleep(denied.retry_after_s + 0.05)
    after = await limiter.hit(f"{group}:s", 2, 0.4)
    await limiter.close()

    assert not denied.allowed
    assert 0 < denied.retry_after_s <= 0.2
    assert after.allowed


async def test_redis_keys_are_namespaced_and_expire_when_the_quota_is_full_again(backend, settings, group):
    if backend == "embedded":
        pytest.skip("Redis keys")
    limiter = make_limiter(backend, settings, clock=None)
    await limiter.hit(f"{group}:ip:192.0.2.1", 10, 60)
    client = aioredis.Redis.from_url(settings.redis.url)

    ttl_ms = await client.pttl(f"{KEY_PREFIX}{group}:ip:192.0.2.1")
    await limiter.reset(f"{group}:ip:192.0.2.1")
    gone = await client.exists(f"{KEY_PREFIX}{group}:ip:192.0.2.1")
    await client.aclose()
    await limiter.close()

    assert 0 < ttl_ms <= 6_001
    assert gone == 0


async def test_an_unreachable_redis_is_reported_as_unavailable():
    limiter = RedisRateLimiter.from_url("redis://127.0.0.1:1/0")

    with pytest.raises(Unavailable) as caught:
        await limiter.hit("api:ip:x", 10, 60)
    await limiter.close()

    assert caught.value.backend == "redis"


async def test_login_back_off_works_the_same_on_both_backends(backend, settings, group):
    clock = Ticks()
    limiter = make_limiter(backend, settings, clock)
    cache = RedisCache(settings.redis.url) if backend == "real" else MemoryCache(clock=clock)
    throttle = LoginThrottle(limiter, cache, clock=clock)
    user = f"{group}@example.org"
    for _ in range(5):
        await throttle.check(user, "192.0.2.9")
        await throttle.record_failure(user, "192.0.2.9")

    with pytest.raises(TooManyAttempts) as caught:
        await throttle.check(user, "192.0.2.9")
    clock.now += 1
    await throttle.check(user, "192.0.2.9")
    await throttle.record_success(user, "192.0.2.9")
    await throttle.record_failure(user, "192.0.2.9")
    await throttle.check(user, "192.0.2.9")
    await cache.close()
    await limiter.close()

    assert caught.value.retry_after == 1
