"""The module spec: what a module provides and requires, and what the composition root binds.

A module is declared once (``spec = ModuleSpec(...)`` in its ``module.py``) and bound by the
root: ``bind(context)`` receives the platform's ports, the module's settings and the facades
of the modules it requires, and returns a ``Bound`` module, whose routes, jobs, subscriptions
and periodic work close over exactly those dependencies. Nothing in a module reaches for a bag
of services: what a function may touch is what it was given.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from inescape.kernel.bus import Subscription
from inescape.kernel.errors import ConfigurationError
from inescape.kernel.health import HealthCheck
from inescape.kernel.jobs import JobHandler

MODULE_NAMES = ("auth", "patients", "generation", "collection", "training", "cds")

F = TypeVar("F")


class Facades(Protocol):
    """The facades a module's ``bind`` may ask for: only those its spec ``requires``."""

    def get(self, face: type[F]) -> F: ...


@dataclass(frozen=True, kw_only=True)
class Periodic:
    """Work a worker repeats: ``run()`` at start, then every ``every_s`` seconds. Every
    worker process runs it, so it must be safe to run in several at once."""

    name: str
    every_s: float
    run: Callable[[], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class Bound:
    """A module bound to its dependencies: what its ``bind`` returns.

    ``facades`` implement the Protocols the spec ``provides`` (keyed by Protocol);
    ``dependencies`` are injected by name into the module's own routes (Litestar DI);
    ``job_kinds``, ``subscriptions``, ``on_startup``, ``periodic`` and ``health`` close over
    what ``bind`` received; ``middleware`` and ``guards`` apply to every route of the app.
    """

    facades: Mapping[type, object] = field(default_factory=dict)
    dependencies: Mapping[str, object] = field(default_factory=dict)
    job_kinds: Mapping[str, JobHandler] = field(default_factory=dict)
    subscriptions: Sequence[Subscription] = ()
    on_startup: Sequence[Callable[[], Awaitable[None]]] = ()
    periodic: Sequence[Periodic] = ()  # run only where jobs run (a worker)
    health: HealthCheck | None = None
    middleware: Sequence[Any] = ()
    guards: Sequence[Any] = ()


def _unbound(_: Any) -> Bound:
    return Bound()


@dataclass(frozen=True, kw_only=True)
class ModuleSpec:
    """One module: what it serves, provides and requires, and how to bind it.

    ``route_handlers`` are Litestar controllers/routers; the kernel keeps them opaque so it
    stays free of the web framework. ``needs`` names the backends (``database``,
    ``documents``, ``cache``, ``queue``, ``storage``) without which the module is down.
    ``provides`` lists the facade Protocols its ``bind`` implements; ``requires`` those of
    other modules it cannot work without: the root refuses to start, naming the module to
    enable, when one is absent. ``library`` builds the facades that need no backend (pure
    domain functions: staging, survival estimates, FHIR codecs, the generator), for notebooks
    and for other modules' ``bind``; each factory receives the other library facades its
    spec requires (never a bound one). ``owns`` names the document collections and bucket prefixes
    (``bucket/prefix/``) only this module reads and writes.
    """

    name: str
    title: str
    port: int
    bind: Callable[[Any], Bound] = _unbound  # ModuleContext -> Bound
    library: Mapping[type, Callable[[Facades], object]] = field(default_factory=dict)
    provides: tuple[type, ...] = ()
    requires: tuple[type, ...] = ()
    route_handlers: Sequence[Any] = ()
    job_routes: Sequence[Any] = ()  # more handlers under /api/v1/<name>/jobs (e.g. POST to start one)
    documents: Sequence[type] = ()
    owns: tuple[str, ...] = ()
    queue: str | None = None
    needs: tuple[str, ...] = ("database",)
    settings: type | None = None  # a msgspec Struct read from INESCAPE_<NAME>_* by the root

    @property
    def queue_name(self) -> str:
        return self.queue or self.name


class MissingFacade(ConfigurationError):
    """A module requires a facade no enabled module provides."""

    def __init__(self, module: str, face: type, provider: str | None) -> None:
        where = (
            f"module {provider!r}, which is not enabled: add it to INESCAPE_MODULES"
            if provider
            else "no known module: enable the plugin that provides it (INESCAPE_PLUGINS)"
        )
        super().__init__(
            "INESCAPE_MODULES", f"module {module!r} requires {face.__name__}, provided by {where}"
        )


def binding_order(
    specs: Sequence[ModuleSpec],
    available: Sequence[ModuleSpec] = (),
    *,
    known: Sequence[ModuleSpec] = (),
) -> list[ModuleSpec]:
    """``specs`` ordered so that every module comes after the providers of the bound facades
    it requires (library facades exist before any bind),
    with the providers taken from ``available`` (enabled modules this process binds without
    serving them) added before their first user. Raises ``MissingFacade`` naming the module
    to enable when a requirement has no enabled provider (found among ``known``)."""
    providers = {face: spec for spec in [*available, *specs] for face in spec.provides}
    library = {face for spec in [*available, *specs] for face in spec.library}
    known_by = {face: spec.name for spec in known for face in (*spec.provides, *spec.library)}
    ordered: list[ModuleSpec] = []
    visiting: set[str] = set()

    def visit(spec: ModuleSpec) -> None:
        if spec in ordered:
            return
        if spec.name in visiting:
            raise ConfigurationError(
                "INESCAPE_MODULES", f"modules require each other in a cycle at {spec.name!r}"
            )
        visiting.add(spec.name)
        for face in spec.requires:
            if face in library:  # built before any bind: no order to keep
                continue
            provider = providers.get(face)
            if provider is None:
                raise MissingFacade(spec.name, face, known_by.get(face))
            visit(provider)
        visiting.discard(spec.name)
        ordered.append(spec)

    for spec in specs:
        visit(spec)
    return ordered
