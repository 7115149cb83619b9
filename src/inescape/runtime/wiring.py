"""The one wiring path from settings to backends: the stores, the key ring and the process's
field cipher, the platform, backend-free library facades, and a synchronous cohort reader.

The web and worker roots, notebooks, the CLI and backups all build their backends here.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from inescape import __version__, migrate
from inescape.infra.bus import InProcessBus
from inescape.infra.cache import MemoryCache, RedisCache
from inescape.infra.crypto.cipher import FieldCipher
from inescape.infra.crypto.column import set_field_cipher
from inescape.infra.crypto.keyring import KeyRing, load_keyring
from inescape.infra.db import Database
from inescape.infra.documents import MongoDocumentStore, SqlDocumentStore
from inescape.infra.encrypted_storage import EncryptedObjectStore
from inescape.infra.jobs.service import JobService
from inescape.infra.platform import FacadeRegistry, Platform
from inescape.infra.queue import JobQueue
from inescape.infra.storage import LocalObjectStore, S3ObjectStore
from inescape.infra.telemetry import Metrics
from inescape.kernel.clock import Clock, SystemClock
from inescape.kernel.modules import MODULE_NAMES
from inescape.modules_loader import load_specs
from inescape.settings import Settings, load_settings

F = TypeVar("F")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Stores:
    """The stores the settings describe, opened without connecting."""

    db: Database
    documents: Any
    storage: Any
    keyring: KeyRing


def open_stores(settings: Settings, *, clock: Clock | None = None, pool_size: int | None = None) -> Stores:
    """The one place that turns settings into stores (the web and worker roots, notebooks,
    the CLI and backups all come here). The key ring follows one rule: generated in the data
    folder only for the embedded database; with a database server, keys must be configured."""
    data = settings.data_path
    clock = clock or SystemClock()
    db = Database(
        settings.database_url, pool_size=pool_size or settings.database.pool_size, echo=settings.database.echo
    )
    documents: Any = (
        MongoDocumentStore(settings.mongodb.url, settings.mongodb.database, clock=clock)
        if settings.mongodb.url
        else SqlDocumentStore(db, clock=clock)
    )
    keyring = key_ring(settings)
    storage: Any = (
        S3ObjectStore(
            endpoint_url=settings.s3.endpoint_url,
            region=settings.s3.region,
            bucket_prefix=settings.s3.bucket_prefix,
            server_side_encryption=settings.s3.sse,
            kms_key_id=settings.s3.sse_kms_key_id,
            connect_timeout_s=settings.s3.connect_timeout_s,
            read_timeout_s=settings.s3.read_timeout_s,
            max_attempts=settings.s3.max_attempts,
        )
        if settings.s3_enabled
        else EncryptedObjectStore(LocalObjectStore(data / "objects"), keyring)
    )
    return Stores(db=db, documents=documents, storage=storage, keyring=keyring)


def key_ring(settings: Settings) -> KeyRing:
    """The encryption keys the settings name, or (embedded only) the generated key file."""
    enc = settings.encryption
    return load_keyring(
        keys=enc.keys,
        key_file=enc.key_file,
        hmac_key=enc.hmac_key,
        active_id=enc.active_key_id,
        generated_file=embedded_key_file(settings),
    )


def embedded_key_file(settings: Settings) -> Path | None:
    """Where the embedded install keeps its generated key ring (None with a database server)."""
    return settings.data_path / "keys" / "encryption.json" if settings.database.url is None else None


def install_field_cipher(settings: Settings) -> KeyRing:
    """The key ring by the one rule (see ``open_stores``), set as the process's field cipher
    for encrypted columns."""
    keyring = key_ring(settings)
    set_field_cipher(FieldCipher(keyring))
    return keyring


def library(face: type[F]) -> F:
    """A backend-free facade (``ModuleSpec.library``) of the built-in modules, for notebooks
    and the CLI; ``LookupError`` when no module offers it."""
    registry = FacadeRegistry()
    for spec in load_specs(MODULE_NAMES):
        registry.add_library(spec)
    if face not in registry:
        raise LookupError(f"no module offers {face.__name__}")
    return registry.get(face)


@contextlib.contextmanager
def open_cohort_reader(settings: Settings | None = None, *, identifiers: bool = False) -> Iterator[Any]:
    """A synchronous connection to the configured database, for reading a cohort without a
    server. With ``identifiers``, the field cipher is set by the same key-ring rule as
    ``inescape serve`` (a database server without configured keys is refused, never given
    a new key file)."""
    from sqlalchemy import create_engine

    settings = settings or load_settings()
    if identifiers:
        install_field_cipher(settings)
    engine = create_engine(migrate.sync_url(settings.database_url))
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def build_platform(settings: Settings) -> Platform:
    clock = SystemClock()
    metrics = Metrics(version=__version__)
    stores = open_stores(settings, clock=clock)
    set_field_cipher(FieldCipher(stores.keyring))  # for EncryptedString columns (process-wide)
    cache: Any = RedisCache(settings.redis.url) if settings.redis.url else MemoryCache()
    queue = (
        JobQueue.redis(settings.redis.url, namespace=settings.redis.queue_namespace)
        if settings.redis.url
        else JobQueue.embedded()
    )
    return Platform(
        db=stores.db,
        documents=stores.documents,
        cache=cache,
        storage=stores.storage,
        queue=queue,
        bus=InProcessBus(observe=metrics.observe_event),
        jobs=JobService(
            stores.db, clock=clock, observe=metrics.observe_job, observe_duration=metrics.observe_job_duration
        ),
        metrics=metrics,
        clock=clock,
        data_dir=settings.data_path,
        requeue_stale_after=timedelta(seconds=max(settings.jobs.lease_seconds * 10, 60)),
        job_max_attempts=settings.jobs.max_attempts,
    )
