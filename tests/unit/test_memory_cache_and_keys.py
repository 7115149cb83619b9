from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inescape.infra.cache import MemoryCache
from inescape.infra.storage import check_location
from inescape.kernel.errors import Invalid


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_the_memory_cache_forgets_expired_keys_and_bounds_its_size():
    clock = Ticks()
    cache = MemoryCache(clock=clock, max_keys=3)
    await cache.set("a", b"1", ttl=10)
    await cache.set("b", b"2")
    clock.now = 11
    await cache.set("c", b"3")
    await cache.set("d", b"4")
    await cache.set("e", b"5")

    assert await cache.get("a") is None
    assert len(cache._data) <= 3
    assert await cache.get("e") == b"5"


@given(st.text(min_size=1, max_size=60))
def test_an_object_key_with_dot_dot_or_a_leading_slash_is_always_refused(key):
    unsafe = ".." in key or key.startswith("/") or "//" in key
    if unsafe:
        with pytest.raises(Invalid):
            check_location("datasets", key)


@given(st.lists(st.from_regex(r"[a-z0-9_\-]{1,12}", fullmatch=True), min_size=1, max_size=5))
def test_ordinary_keys_are_accepted(parts):
    check_location("models", "/".join(parts))
