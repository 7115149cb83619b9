"""The ``Runtime``: the platform plus the modules bound on it, and its start-up, shutdown and
health. One per process, shared by the two composition roots, ``app.py`` (the web process)
and ``worker.py``. Creating a ``Runtime`` opens no connection; ``start()`` does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from inescape import migrate
from inescape.infra.health import describe, probe
from inescape.infra.jobs.runner import JobRunner
from inescape.infra.owned import OwnedDocuments, OwnedObjects, owners
from inescape.infra.platform import FacadeRegistry, ModuleContext, Platform
from inescape.infra.private_files import private_database_file, private_folder
from inescape.kernel.errors import ConfigurationError, Unavailable
from inescape.kernel.health import ComponentHealth
from inescape.kernel.modules import MODULE_NAMES, Bound, ModuleSpec, Periodic, binding_order
from inescape.modules_loader import import_all_models, load_specs
from inescape.runtime import collector
from inescape.runtime.metrics import module_metric_subscriptions
from inescape.runtime.wiring import build_platform
from inescape.settings import Settings, read_settings

log = logging.getLogger("inescape")
F = TypeVar("F")

BACKEND_SETTING = {
    "database": "INESCAPE_DATABASE_URL",
    "documents": "INESCAPE_MONGODB_URL",
    "cache": "INESCAPE_REDIS_URL",
    "queue": "INESCAPE_REDIS_URL",
    "storage": "INESCAPE_S3_ENDPOINT_URL",
}


def served_specs(settings: Settings, names: Sequence[str] | None = None) -> list[ModuleSpec]:
    """The enabled modules (plugins included) a process serves: ``names`` or all of them.
    A name that is not a built-in module nor an enabled plugin is loaded as a built-in
    (``serve --module`` names one that may be disabled)."""
    enabled = load_specs(settings.modules, settings.plugins)
    if names is None:
        return enabled
    by_name = {spec.name: spec for spec in enabled}
    return [by_name.get(n) or load_specs([n])[0] for n in names]


class Runtime:
    """The platform plus the modules bound on it; one per process.

    ``specs`` are the modules this process serves (routes, jobs, subscriptions); the other
    enabled modules whose facades they require are bound too, without serving anything.
    A requirement no enabled module provides stops the construction, naming the module.
    """

    def __init__(
        self,
        settings: Settings,
        specs: Sequence[ModuleSpec] | None = None,
        *,
        configure: Callable[[Platform], None] | None = None,
    ) -> None:
        """``configure`` adjusts the platform before any module is bound (the web root sets
        the split bus there, so every module publishes on the transport it will use)."""
        self.settings = settings
        enabled = load_specs(settings.modules, settings.plugins)
        served = list(specs) if specs is not None else enabled
        names = {spec.name for spec in served}
        known = load_specs([n for n in MODULE_NAMES if n not in names])
        order = binding_order(served, [s for s in enabled if s.name not in names], known=known)
        self.services = build_platform(settings)
        if configure is not None:
            configure(self.services)
        self.owners = owners({spec.name: spec.owns for spec in order})
        self.facades = FacadeRegistry()
        for spec in [*enabled, *(s for s in served if s not in enabled)]:
            self.facades.add_library(spec)
        self.bound: dict[str, Bound] = {}
        for spec in order:
            bound = spec.bind(
                ModuleContext(
                    platform=self._platform_for(spec),
                    settings=read_settings(spec.settings, f"INESCAPE_{spec.name.upper()}_")
                    if spec.settings is not None
                    else None,
                    facades=self.facades.only(spec.name, (*spec.requires, *spec.library)),
                )
            )
            missing = [face.__name__ for face in spec.provides if face not in bound.facades]
            if missing:
                raise ConfigurationError(
                    "INESCAPE_MODULES", f"module {spec.name!r} does not bind {', '.join(missing)}"
                )
            for face, impl in bound.facades.items():
                self.facades.provide(face, impl)
            if spec.name in names:
                self.bound[spec.name] = bound
        self.specs = [spec for spec in order if spec.name in names]
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runner = JobRunner(
            self.services.jobs,
            {kind: handler for bound in self.bound.values() for kind, handler in bound.job_kinds.items()},
            send=self.services.enqueue,
            bus=self.services.bus,
            lease=timedelta(seconds=settings.jobs.lease_seconds),
        )
        self._sweeper: asyncio.Task[None] | None = None
        self._dispatching: asyncio.Task[None] | None = None
        self._periodic: list[asyncio.Task[None]] = []
        self._paced = False  # whether this runtime holds the collector's server pace

    def _platform_for(self, spec: ModuleSpec) -> Platform:
        """The platform as ``spec`` sees it: its own collections and bucket prefixes only."""
        owned = spec.owns
        return dataclasses.replace(
            self.services,
            documents=OwnedDocuments(
                self.services.documents, module=spec.name, collections=[n for n in owned if "/" not in n]
            ),
            storage=OwnedObjects(
                self.services.storage, module=spec.name, prefixes=[n for n in owned if "/" in n]
            ),
        )

    @property
    def platform(self) -> Platform:
        return self.services

    def facade(self, face: type[F]) -> F:
        """The bound implementation of a facade Protocol (for the CLI, notebooks and tests)."""
        return self.facades.get(face)

    # --- start-up -------------------------------------------------------------------------
    async def check_backends(self) -> None:
        """Reach every configured backend, probing again (with growing pauses) those that do
        not answer until ``startup_wait_s`` has passed, so a busy machine or a server still
        starting is waited for; then fail, naming the setting to fix."""
        budget = self.settings.startup_wait_s
        deadline = time.monotonic() + budget
        pause = 0.2
        while True:
            down = [h for h in await self.backend_health() if h.status != "ok"]
            left = deadline - time.monotonic()
            if not down or left <= 0:
                break
            log.warning(
                "backend not reachable yet at start-up; trying again",
                extra={"backends": [f"{h.name}: {h.detail}" for h in down], "seconds_left": round(left, 1)},
            )
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, 5.0)
        for health in down:
            setting = BACKEND_SETTING.get(health.name, "INESCAPE_DATA_DIR")
            if health.backend in ("sqlite", "local", "sql", "memory"):
                setting = "INESCAPE_DATA_DIR" if health.name != "database" else setting
            waited = f" (probed for {budget:g}s; INESCAPE_STARTUP_WAIT_S waits longer)" if budget > 0 else ""
            raise ConfigurationError(
                setting, f"cannot reach the {health.name} backend ({health.backend}): {health.detail}{waited}"
            )

    async def prepare(self) -> None:
        """Create the data folder and buckets, then reach every backend (or raise
        ``ConfigurationError`` naming the setting to fix)."""
        private_folder(self.settings.data_path)
        try:
            await self.services.storage.ensure_buckets()  # type: ignore[attr-defined]
        except (Unavailable, OSError) as exc:
            setting = "INESCAPE_S3_ENDPOINT_URL" if self.settings.s3_enabled else "INESCAPE_DATA_DIR"
            problem = describe(exc.__cause__ or exc)
            raise ConfigurationError(setting, f"cannot prepare the buckets: {problem}") from None
        await self.check_backends()

    async def start(self, *, worker: bool, migrate_db: bool | None = None) -> None:
        """Connect, migrate the embedded database, register modules, start a worker if asked."""
        self.loop = asyncio.get_running_loop()
        private_folder(self.settings.data_path)
        if self.settings.database.url is None:  # the embedded database, in the data folder
            private_database_file(self.settings.sqlite_path)
        import_all_models()
        if migrate_db if migrate_db is not None else self.services.db.backend == "sqlite":
            await asyncio.to_thread(migrate.upgrade, self.settings.database_url)
        await self.prepare()
        await self.services.documents.init_documents(  # type: ignore[attr-defined]
            [d for spec in self.specs for d in spec.documents]
        )
        for spec in self.specs:
            for subscription in self.bound[spec.name].subscriptions:
                self.services.bus.subscribe(subscription)
            self.services.queue.declare(spec.queue_name, self._run_job_from_thread)
        served = [spec.name for spec in self.specs]
        for subscription in module_metric_subscriptions(self.services.metrics, served):
            self.services.bus.subscribe(subscription)
        for spec in self.specs:
            for hook in self.bound[spec.name].on_startup:
                await hook()
        assert self.services.dispatcher is not None
        if not self._paced:
            collector.pace()
            self._paced = True
        self._dispatching = asyncio.create_task(self.services.dispatcher.run())
        if worker:
            self.services.queue.start_worker(threads=self.settings.jobs.worker_threads)
            await self.requeue(startup=True)
            self._sweeper = asyncio.create_task(self._sweep())
            self._periodic = [
                asyncio.create_task(self._repeat(work))
                for bound in self.bound.values()
                for work in bound.periodic
            ]

    def _run_job_from_thread(self, job_id: str) -> None:
        """The dramatiq actor body: run the job on the runtime's event loop, wait for it."""
        assert self.loop is not None, "runtime not started"
        asyncio.run_coroutine_threadsafe(self.runner.run(job_id), self.loop).result()

    async def requeue(self, *, startup: bool, stale_after: timedelta | None = None) -> int:
        """Hand unfinished jobs (start-up) or lost ones (later) back to the queue."""
        pending = await self.services.jobs.to_requeue(
            startup=startup,
            stale_after=self.services.requeue_stale_after if stale_after is None else stale_after,
        )
        sent = 0
        for queue, job_id in pending:
            if queue in self.services.queue.queues:
                await self.services.enqueue(queue, job_id)
                sent += 1
        if pending:
            log.info("re-queued unfinished jobs", extra={"count": sent, "startup": startup})
        return sent

    async def _sweep(self) -> None:
        """Every second, whether the queue's server restarted (and lost what it held): then
        every queued job is handed over again at once; every lease period, jobs lost since."""
        interval = max(self.settings.jobs.lease_seconds, 1.0)
        clock = asyncio.get_running_loop().time
        await self.services.queue.restarted()  # remember the server as it is now
        due = clock() + interval
        while True:
            await asyncio.sleep(min(interval, 1.0))
            try:
                if await self.services.queue.restarted():
                    log.warning("the queue's server restarted; handing queued jobs over again")
                    await self.requeue(startup=False, stale_after=timedelta(0))
                if clock() >= due:
                    due = clock() + interval
                    await self.requeue(startup=False)
            except Exception:  # a backend blip: the next sweep tries again
                log.warning("job sweep failed", exc_info=True)

    async def _repeat(self, work: Periodic) -> None:
        while True:
            try:
                await work.run()
            except Exception:  # a backend blip: the next round tries again
                log.warning("periodic work failed", extra={"work": work.name}, exc_info=True)
            await asyncio.sleep(work.every_s)

    async def stop(self) -> None:
        background = [t for t in (self._sweeper, self._dispatching, *self._periodic) if t is not None]
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await asyncio.to_thread(self.services.queue.stop_worker)
        await self.services.bus.drain()
        for closable in (
            self.services.queue,
            self.services.cache,
            self.services.documents,
            self.services.storage,
        ):
            try:
                await closable.close()
            except Exception:  # closing a dead connection must not hide the shutdown
                log.debug("close failed", exc_info=True)
        await self.services.db.close()
        if self._paced:
            collector.unpace()
            self._paced = False

    # --- health ---------------------------------------------------------------------------
    async def backend_health(self) -> list[ComponentHealth]:
        s = self.services
        checks = [
            probe("database", s.db.backend, s.db.ping),
            probe("documents", s.documents.backend, s.documents.ping),
            probe("cache", s.cache.backend, s.cache.ping),
            probe("queue", s.queue.backend, s.queue.ping),
            probe("storage", s.storage.backend, s.storage.ping),
        ]
        return list(await asyncio.gather(*checks))

    async def module_health(self, backends: Sequence[ComponentHealth]) -> list[dict[str, Any]]:
        down = {b.name for b in backends if b.status != "ok"}
        result = []
        for spec in self.specs:
            missing = [n for n in spec.needs if n in down]
            entry: dict[str, Any] = {
                "name": spec.name,
                "title": spec.title,
                "port": spec.port,
                "needs": list(spec.needs),
                "status": "down" if missing else "ok",
            }
            if missing:
                entry["detail"] = f"needs {', '.join(missing)}"
            elif (check := self.bound[spec.name].health) is not None:
                own = await check()
                entry["status"], entry["detail"] = own.status, own.detail
            result.append(entry)
        return result
