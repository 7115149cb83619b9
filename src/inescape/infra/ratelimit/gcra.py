"""The GCRA arithmetic both limiters share, and the ``RateLimiter`` port.

Integer microseconds throughout, so the memory and Redis backends (whose Lua script,
``backends._LUA``, mirrors ``gcra``) give the same decisions for the same sequence of hits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

KEY_PREFIX = "inescape:ratelimit:"
US = 1_000_000


@dataclass(frozen=True, slots=True)
class Decision:
    """One hit's outcome. ``remaining`` counts what is left after this hit; ``reset_after_s``
    is the time until the whole quota is back; ``retry_after_s`` is 0 when allowed."""

    allowed: bool
    limit: int
    remaining: int
    reset_after_s: float
    retry_after_s: float

    def headers(self) -> list[tuple[bytes, bytes]]:
        """IETF ``RateLimit-*`` headers (integer seconds), plus ``Retry-After`` when denied."""
        out = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(math.ceil(self.reset_after_s)).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(max(1, math.ceil(self.retry_after_s))).encode()))
        return out


class RateLimiter(Protocol):
    backend: str

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        """Count one request against ``key`` if the quota allows it."""
        ...

    async def peek(self, key: str, limit: int, window_s: float) -> Decision:
        """Whether a hit now would be allowed, counting nothing (``remaining`` is before it)."""
        ...

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


def interval_us(limit: int, window_s: float) -> int:
    interval = round(window_s * US) // limit if limit >= 1 else 0
    if interval < 1:
        raise ValueError(f"a limit of {limit} per {window_s} s is not a usable rate")
    return interval


def gcra(stored: int | None, now: int, limit: int, interval: int, consume: bool) -> tuple[int, int, int]:
    """(allowed 0/1, microseconds of quota in use, microseconds to wait). Mirrored in
    ``backends._LUA``."""
    burst = limit * interval
    tat = max(stored or now, now)
    new_tat = tat + interval
    if new_tat - now <= burst:
        return 1, (new_tat - now) if consume else (tat - now), 0
    return 0, tat - now, new_tat - now - burst


def decision(result: Sequence[Any], limit: int, interval: int) -> Decision:
    allowed, used, wait = (int(v) for v in result)
    return Decision(
        allowed=bool(allowed),
        limit=limit,
        remaining=(limit * interval - used) // interval,
        reset_after_s=used / US,
        retry_after_s=wait / US,
    )
