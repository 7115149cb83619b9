"""The module spec: what a module contributes to the composition root."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inescape.kernel.bus import Subscription
from inescape.kernel.health import HealthCheck
from inescape.kernel.jobs import JobHandler

MODULE_NAMES = ("auth", "patients", "generation", "collection", "training", "cds")


@dataclass(frozen=True, kw_only=True)
class Periodic:
    """Work a worker repeats: ``run(services)`` at start, then every ``every_s`` seconds.
    Every worker process runs it, so it must be safe to run in several at once."""

    name: str
    every_s: float
    run: Callable[[Any], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class ModuleSpec:
    """One module: its routes, subscriptions, job kinds, documents, health, port.

    ``route_handlers`` are Litestar controllers/routers; the kernel keeps them opaque so it
    stays free of the web framework. ``needs`` names the backends (``database``,
    ``documents``, ``cache``, ``queue``, ``storage``) without which the module is down;
    ``health`` adds a module-specific check, built from the services it receives.
    """

    name: str
    title: str
    port: int
    route_handlers: Sequence[Any] = ()
    job_routes: Sequence[Any] = ()  # more handlers under /api/v1/<name>/jobs (e.g. POST to start one)
    subscriptions: Sequence[Subscription] = ()
    job_kinds: Mapping[str, JobHandler] = field(default_factory=dict)
    documents: Sequence[type] = ()
    health: Callable[[Any], HealthCheck] | None = None
    on_startup: Sequence[Callable[[Any], Awaitable[None]]] = ()
    periodic: Sequence[Periodic] = ()  # run only where jobs run (a worker)
    queue: str | None = None
    needs: tuple[str, ...] = ("database",)
    middleware: Sequence[Any] = ()  # Litestar middleware applied to every route of the app
    guards: Sequence[Any] = ()  # Litestar guards applied to every route of the app
    settings: type | None = None  # a msgspec Struct read from INESCAPE_<NAME>_* by the root

    @property
    def queue_name(self) -> str:
        return self.queue or self.name
