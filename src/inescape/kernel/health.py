"""Health of a backend or a module, as reported by ``/health/detailed``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import msgspec

Status = Literal["ok", "down", "degraded"]


class ComponentHealth(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    status: Status
    latency_ms: float = 0.0
    required: bool = True
    backend: str | None = None
    detail: str | None = None


HealthCheck = Callable[[], Awaitable[ComponentHealth]]
