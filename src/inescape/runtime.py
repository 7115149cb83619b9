"""Building the platform from settings, and its start-up and shutdown.

Shared by the two composition roots, ``app.py`` (the web process) and ``worker.py``.
Creating a ``Runtime`` opens no connection; ``start()`` does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from inescape import migrate
from inescape.infra.bus import InProcessBus
from inescape.infra.cache import MemoryCache, RedisCache
from inescape.infra.crypto import FieldCipher, load_keyring, set_field_cipher
from inescape.infra.db import Database
from inescape.infra.documents import MongoDocumentStore, SqlDocumentStore
from inescape.infra.encrypted_storage import EncryptedObjectStore
from inescape.infra.health import describe, probe
from inescape.infra.jobs import JobRunner, JobService
from inescape.infra.platform import Services
from inescape.infra.queue import JobQueue
from inescape.infra.storage import LocalObjectStore, S3ObjectStore
from inescape.infra.telemetry import Metrics
from inescape.kernel.clock import SystemClock
from inescape.kernel.errors import ConfigurationError, Unavailable
from inescape.kernel.health import ComponentHealth
from inescape.kernel.modules import ModuleSpec, Periodic
from inescape.modules_loader import import_all_models, load_specs
from inescape.settings import Settings, read_settings

log = logging.getLogger("inescape")

BACKEND_SETTING = {
    "database": "INESCAPE_DATABASE_URL",
    "documents": "INESCAPE_MONGODB_URL",
    "cache": "INESCAPE_REDIS_URL",
    "queue": "INESCAPE_REDIS_URL",
    "storage": "INESCAPE_S3_ENDPOINT_URL",
}


def build_services(settings: Settings) -> Services:
    data = settings.data_path
    clock = SystemClock()
    metrics = Metrics()
    db = Database(settings.database_url, pool_size=settings.database.pool_size, echo=settings.database.echo)
    documents: Any = (
        MongoDocumentStore(settings.mongodb.url, settings.mongodb.database, clock=clock)
        if settings.mongodb.url
        else SqlDocumentStore(db, clock=clock)
    )
    cache: Any = RedisCache(settings.redis.url) if settings.redis.url else MemoryCache()
    queue = (
        JobQueue.redis(settings.redis.url, namespace=settings.redis.queue_namespace)
        if settings.redis.url
        else JobQueue.embedded()
    )
    enc = settings.encryption
    keyring = load_keyring(
        keys=enc.keys,
        key_file=enc.key_file,
        hmac_key=enc.hmac_key,
        active_id=enc.active_key_id,
        generated_file=data / "keys" / "encryption.json" if settings.database.url is None else None,
    )
    set_field_cipher(FieldCipher(keyring))  # for EncryptedString columns (process-wide)
    storage: Any = (
        S3ObjectStore(
            endpoint_url=settings.s3.endpoint_url,
            region=settings.s3.region,
            bucket_prefix=settings.s3.bucket_prefix,
            server_side_encryption=settings.s3.sse,
            kms_key_id=settings.s3.sse_kms_key_id,
        )
        if settings.s3_enabled
        else EncryptedObjectStore(LocalObjectStore(data / "objects"), keyring)
    )
    return Services(
        db=db,
        documents=documents,
        cache=cache,
        storage=storage,
        queue=queue,
        bus=InProcessBus(observe=metrics.observe_event),
        jobs=JobService(db, clock=clock, observe=metrics.observe_job),
        metrics=metrics,
        clock=clock,
        data_dir=data,
        requeue_stale_after=timedelta(seconds=max(settings.jobs.lease_seconds * 10, 60)),
        job_max_attempts=settings.jobs.max_attempts,
    )


class Runtime:
    """The services plus the modules mounted on them; one per process."""

    def __init__(self, settings: Settings, specs: Sequence[ModuleSpec] | None = None) -> None:
        self.settings = settings
        self.specs = list(specs) if specs is not None else load_specs(settings.modules, settings.plugins)
        self.services = build_services(settings)
        self.services.module_settings = {
            spec.name: read_settings(spec.settings, f"INESCAPE_{spec.name.upper()}_")
            for spec in self.specs
            if spec.settings is not None
        }
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runner = JobRunner(
            self.services.jobs,
            {kind: handler for spec in self.specs for kind, handler in spec.job_kinds.items()},
            send=self.services.enqueue,
            services=self.services,
            lease=timedelta(seconds=settings.jobs.lease_seconds),
        )
        self._sweeper: asyncio.Task[None] | None = None
        self._periodic: list[asyncio.Task[None]] = []

    # --- start-up -------------------------------------------------------------------------
    async def check_backends(self) -> None:
        """Fail fast, naming the setting, when a configured backend cannot be reached."""
        for health in await self.backend_health():
            if health.status != "ok":
                setting = BACKEND_SETTING.get(health.name, "INESCAPE_DATA_DIR")
                if health.backend in ("sqlite", "local", "sql", "memory"):
                    setting = "INESCAPE_DATA_DIR" if health.name != "database" else setting
                raise ConfigurationError(
                    setting, f"cannot reach the {health.name} backend ({health.backend}): {health.detail}"
                )

    async def prepare(self) -> None:
        """Create the data folder and buckets, then reach every backend (or raise
        ``ConfigurationError`` naming the setting to fix)."""
        self.settings.data_path.mkdir(parents=True, exist_ok=True)
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
        self.settings.data_path.mkdir(parents=True, exist_ok=True)
        import_all_models()
        if migrate_db if migrate_db is not None else self.services.db.backend == "sqlite":
            await asyncio.to_thread(migrate.upgrade, self.settings.database_url)
        await self.prepare()
        await self.services.documents.init_documents(  # type: ignore[attr-defined]
            [d for spec in self.specs for d in spec.documents]
        )
        for spec in self.specs:
            for subscription in spec.subscriptions:
                self.services.bus.subscribe(subscription)
            self.services.queue.declare(spec.queue_name, self._run_job_from_thread)
        for spec in self.specs:
            for hook in spec.on_startup:
                await hook(self.services)
        if worker:
            self.services.queue.start_worker(threads=self.settings.jobs.worker_threads)
            await self.requeue(startup=True)
            self._sweeper = asyncio.create_task(self._sweep())
            self._periodic = [
                asyncio.create_task(self._repeat(work)) for spec in self.specs for work in spec.periodic
            ]

    def _run_job_from_thread(self, job_id: str) -> None:
        """The dramatiq actor body: run the job on the runtime's event loop, wait for it."""
        assert self.loop is not None, "runtime not started"
        asyncio.run_coroutine_threadsafe(self.runner.run(job_id), self.loop).result()

    async def requeue(self, *, startup: bool) -> int:
        """Hand unfinished jobs (start-up) or lost ones (later) back to the queue."""
        pending = await self.services.jobs.to_requeue(
            startup=startup, stale_after=self.services.requeue_stale_after
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
        interval = max(self.settings.jobs.lease_seconds, 1.0)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.requeue(startup=False)
            except Exception:  # a backend blip: the next sweep tries again
                log.warning("job sweep failed", exc_info=True)

    async def _repeat(self, work: Periodic) -> None:
        while True:
            try:
                await work.run(self.services)
            except Exception:  # a backend blip: the next round tries again
                log.warning("periodic work failed", extra={"work": work.name}, exc_info=True)
            await asyncio.sleep(work.every_s)

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in self._periodic:
            task.cancel()
        await asyncio.gather(*self._periodic, return_exceptions=True)
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
            elif spec.health is not None:
                own = await spec.health(self.services)()
                entry["status"], entry["detail"] = own.status, own.detail
            result.append(entry)
        return result
