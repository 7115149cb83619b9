"""What the composition root hands a module's ``bind``: the platform's ports, the module's
settings, and the facades it requires; and the one way to submit a job."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from inescape.infra.bus import InProcessBus
from inescape.infra.db import Database
from inescape.infra.jobs.dispatch import Dispatcher
from inescape.infra.jobs.service import JobService
from inescape.infra.queue import JobQueue
from inescape.infra.telemetry import Metrics
from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock
from inescape.kernel.errors import ConfigurationError
from inescape.kernel.jobs import JobView
from inescape.kernel.modules import ModuleSpec
from inescape.kernel.ports import Cache, DocumentStore, ObjectStore

F = TypeVar("F")
S = TypeVar("S")


class Jobs:
    """Submitting a job: its row written in a transaction, its id handed to the queue only
    after commit. One call for every module's "start a job" edge."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    async def submit(
        self,
        *,
        module: str,
        kind: str,
        params: Mapping[str, Any],
        queue: str | None = None,
        owner: str | None = None,
        max_attempts: int | None = None,
        uow: UnitOfWork | None = None,
    ) -> JobView:
        """Write the job (in ``uow`` when the caller has more to write in the same
        transaction, else in its own) and enqueue it once committed."""
        if uow is not None:
            return await self._write(uow, module, kind, params, queue, owner, max_attempts)
        async with self._platform.uow() as own:
            return await self._write(own, module, kind, params, queue, owner, max_attempts)

    async def _write(
        self,
        uow: UnitOfWork,
        module: str,
        kind: str,
        params: Mapping[str, Any],
        queue: str | None,
        owner: str | None,
        max_attempts: int | None,
    ) -> JobView:
        p = self._platform
        queue_name = queue or module
        job = await p.jobs.create(
            uow.session,
            module=module,
            kind=kind,
            queue=queue_name,
            params=params,
            owner=owner,
            max_attempts=max_attempts or p.job_max_attempts,
        )
        uow.after_commit(lambda: p.enqueue(queue_name, job.id))
        return job


@dataclass(kw_only=True)
class Platform:
    """The ports every module may be given: stores, queue, bus, jobs, metrics, clock."""

    db: Database
    documents: DocumentStore
    cache: Cache
    storage: ObjectStore
    queue: JobQueue
    bus: InProcessBus
    jobs: JobService
    metrics: Metrics
    clock: Clock
    data_dir: Path
    requeue_stale_after: timedelta = timedelta(minutes=5)
    job_max_attempts: int = 3
    dispatcher: Dispatcher | None = None  # one per process, shared by every module's view

    def __post_init__(self) -> None:
        if self.dispatcher is None:
            self.dispatcher = Dispatcher(self.queue, self.jobs)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.bus, self.clock)

    @property
    def submitter(self) -> Jobs:
        return Jobs(self)

    async def enqueue(self, queue: str, job_id: str, delay_s: float = 0.0) -> None:
        """Hand a committed job to the queue; while the queue is down, it is sent again as
        soon as the queue is back (``Dispatcher``)."""
        assert self.dispatcher is not None
        await self.dispatcher.send(queue, job_id, delay_s)


class FacadeRegistry:
    """The facades bound so far, each under the Protocol it implements."""

    def __init__(self) -> None:
        self._bound: dict[type, object] = {}
        self._lazy: dict[type, Callable[[], object]] = {}

    def provide(self, face: type, impl: object) -> None:
        self._bound[face] = impl

    def provide_lazily(self, face: type, make: Callable[[], object]) -> None:
        """Build ``face`` on first use (library facades that use each other, in any order)."""
        self._lazy[face] = make

    def get(self, face: type[F]) -> F:
        if face not in self._bound and face in self._lazy:
            self._bound[face] = self._lazy.pop(face)()
        try:
            impl: Any = self._bound[face]
        except KeyError:
            raise ConfigurationError("INESCAPE_MODULES", f"nothing provides {face.__name__}") from None
        return impl  # type: ignore[no-any-return]

    def __contains__(self, face: type) -> bool:
        return face in self._bound or face in self._lazy

    def add_library(self, spec: ModuleSpec) -> None:
        """``spec``'s library facades, each built when first asked for, from the library
        facades ``spec`` requires."""
        for face, make in spec.library.items():
            scoped = self.only(spec.name, spec.requires)
            self.provide_lazily(face, functools.partial(make, scoped))

    def only(self, module: str, faces: tuple[type, ...]) -> _Scoped:
        return _Scoped(self, module, faces)


class _Scoped:
    """What one module's ``bind`` sees: only the facades its spec requires."""

    def __init__(self, registry: FacadeRegistry, module: str, faces: tuple[type, ...]) -> None:
        self._registry = registry
        self._module = module
        self._faces = faces

    def get(self, face: type[F]) -> F:
        if face not in self._faces:
            raise ConfigurationError(
                "INESCAPE_MODULES",
                f"module {self._module!r} asked for {face.__name__} "
                "without declaring it in its spec's requires",
            )
        return self._registry.get(face)


@dataclass(frozen=True, kw_only=True)
class ModuleContext(Generic[S]):
    """What a module's ``bind`` receives."""

    platform: Platform
    settings: S
    facades: _Scoped

    @property
    def jobs(self) -> Jobs:
        return self.platform.submitter
