"""Timed, bounded probes of backends for ``/health/detailed``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from inescape.kernel.health import ComponentHealth, Status


def describe(exc: BaseException) -> str:
    """One short line naming the failure, without a stack trace."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    return f"{name}: {message[:200]}" if message else name


async def probe(
    name: str,
    backend: str,
    ping: Callable[[], Awaitable[object]],
    *,
    required: bool = True,
    timeout: float = 2.0,
) -> ComponentHealth:
    started = time.perf_counter()
    status: Status
    detail: str | None
    try:
        await asyncio.wait_for(ping(), timeout)
    except TimeoutError:
        status, detail = "down", f"no answer within {timeout:g}s"
    except Exception as exc:  # every failure of a probe is "down"; describe() names it
        status, detail = "down", describe(exc)
    else:
        status, detail = "ok", None
    latency = round((time.perf_counter() - started) * 1000, 2)
    return ComponentHealth(
        name=name,
        backend=backend,
        status=status,
        latency_ms=latency,
        required=required,
        detail=detail,
    )
