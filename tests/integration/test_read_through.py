"""Cache stampede protection: many readers missing one key at once compute it once, in one
process and across processes sharing the cache (Redis on the real backend)."""

from __future__ import annotations

import asyncio

import pytest

from inescape.infra.cache import ReadThrough


class Slow:
    """An expensive answer that counts how often it was computed."""

    def __init__(self, delay: float = 0.05) -> None:
        self.calls = 0
        self.delay = delay

    async def __call__(self) -> bytes:
        self.calls += 1
        await asyncio.sleep(self.delay)
        return f"answer {self.calls}".encode()


async def test_concurrent_misses_in_one_process_compute_once(services):
    reads, slow = ReadThrough(services.cache), Slow()

    answers = await asyncio.gather(*(reads.get("k:one", slow, ttl=60) for _ in range(30)))

    assert slow.calls == 1
    assert set(answers) == {b"answer 1"}
    assert await reads.get("k:one", slow, ttl=60) == b"answer 1"  # now a hit
    assert slow.calls == 1


async def test_processes_sharing_a_cache_wait_for_the_one_computing(services):
    processes = [ReadThrough(services.cache, poll_s=0.01) for _ in range(4)]
    slow = Slow(delay=0.2)

    answers = await asyncio.gather(*(p.get("k:shared", slow, ttl=60) for p in processes))

    assert slow.calls == 1
    assert set(answers) == {b"answer 1"}


async def test_a_lease_holder_that_never_answers_delays_readers_but_never_blocks_them(services):
    await services.cache.incr("k:stuck:lease", ttl=30)  # a process took the lease and died
    reads, slow = ReadThrough(services.cache, lease_s=0.3, poll_s=0.02), Slow(delay=0)

    assert await reads.get("k:stuck", slow, ttl=60) == b"answer 1"
    assert slow.calls == 1


async def test_a_failed_computation_is_not_cached_and_fails_every_waiter(services):
    reads = ReadThrough(services.cache)
    calls = 0

    async def broken() -> bytes:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        raise RuntimeError("database went away")

    results = await asyncio.gather(
        *(reads.get("k:broken", broken, ttl=60) for _ in range(5)), return_exceptions=True
    )

    assert calls == 1
    assert all(isinstance(r, RuntimeError) for r in results)
    assert await services.cache.get("k:broken") is None
    with pytest.raises(RuntimeError):  # the next reader tries again, without waiting on a lease
        await reads.get("k:broken", broken, ttl=60)
    assert calls == 2
