"""What a backup reads and a restore writes: the installation's stores, opened through the
root from the settings, and how a long part reports its progress."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from inescape.infra.crypto.keyring import KeyRing
from inescape.infra.db import Database
from inescape.kernel.errors import Conflict
from inescape.kernel.ports import DocumentStore, ObjectStore
from inescape.runtime.wiring import embedded_key_file, open_stores
from inescape.settings import Settings


class RestoreRefused(Conflict):
    """The installation is not empty, or the backup does not fit it."""


class Reporter(Protocol):
    """Progress of a long part: ``begin`` with a total (bytes or items), ``advance``, ``end``."""

    def begin(self, label: str, total: int) -> None: ...

    def advance(self, amount: int) -> None: ...

    def end(self) -> None: ...


class SilentReporter:
    def begin(self, label: str, total: int) -> None:
        return None

    def advance(self, amount: int) -> None:
        return None

    def end(self) -> None:
        return None


@dataclass
class Installation:
    """What a backup reads and a restore writes; the CLI builds it from the settings."""

    database_url: str
    db: Database
    documents: DocumentStore
    storage: ObjectStore
    ring: KeyRing
    pg_bin_dir: str | None = None


def open_installation(
    settings: Settings, *, create_keys: bool, pg_bin_dir: str | None = None
) -> Installation:
    """The stores the settings describe, opened through the root without start-up work. A
    restore (``create_keys=False``) never generates the embedded key file: a new key could
    not read the backup's encrypted fields."""
    enc = settings.encryption
    generated = embedded_key_file(settings)
    if (
        generated is not None
        and not (enc.keys or enc.key_file)
        and not create_keys
        and not generated.exists()
    ):
        raise RestoreRefused(
            f"no encryption key ring at {generated}: copy the source installation's key file there "
            "(or set INESCAPE_ENCRYPTION_KEYS) before restoring"
        )
    stores = open_stores(settings, pool_size=2)
    return Installation(
        settings.database_url, stores.db, stores.documents, stores.storage, stores.keyring, pg_bin_dir
    )


async def close_installation(inst: Installation) -> None:
    await inst.documents.close()
    await inst.storage.close()
    await inst.db.close()
