"""Health of a backend or a module, as reported by ``/health/detailed``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

Status = Literal["ok", "down", "degraded"]


class ComponentHealth(msgspec.Struct, frozen=True, kw_only=True):
    name: Annotated[str, Meta(description="The backend or module.")]
    status: Annotated[Status, Meta(description="ok, degraded or down.")]
    latency_ms: Annotated[float, Meta(description="How long its check took, in milliseconds.")] = 0.0
    required: Annotated[bool, Meta(description="Whether the platform is down without it.")] = True
    backend: Annotated[str | None, Meta(description="What serves it (embedded, postgresql...).")] = None
    detail: Annotated[str | None, Meta(description="What is wrong, when something is.")] = None


HealthCheck = Callable[[], Awaitable[ComponentHealth]]
