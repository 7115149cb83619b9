"""``inescape backup`` and ``inescape restore``: the whole installation in encrypted parts.

A backup is a folder (or ``s3://bucket/prefix``) holding ``manifest.json`` and one sealed file
per part: ``database`` (pg_dump custom format, or the SQLite file), ``documents`` (NDJSON),
``objects`` and ``objects-index``. The manifest carries no data, only what identifies and
checks the parts (sizes, SHA-256 of plaintext and ciphertext, counts), and an HMAC under the
backup key so it cannot be edited to match a swapped part.

Restore reads and checks every part before it writes anything, and only into an empty
installation: a fresh database, Mongo database, bucket prefix or data folder.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from inescape import migrate
from inescape.infra.crypto.keyring import KeyRing
from inescape.infra.db import Database
from inescape.kernel.errors import Conflict, Invalid
from inescape.kernel.ports import DocumentStore, ObjectStore
from inescape.ops import backup_data as data
from inescape.ops import backup_sql as sql
from inescape.ops.backup_crypto import (
    BackupCorrupt,
    BackupKey,
    BackupKeyMismatch,
    PartDigest,
    SealedWriter,
    open_sealed,
    resolve_key,
)
from inescape.ops.backup_targets import Target
from inescape.runtime.wiring import embedded_key_file, open_stores
from inescape.settings import Settings

MANIFEST = "manifest.json"
FORMAT = "inescape-backup"
FORMAT_VERSION = 1


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


@dataclass
class Part:
    name: str
    file: str
    bytes: int
    sha256: str
    cipher_bytes: int
    cipher_sha256: str
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, file: str, digest: PartDigest, counts: dict[str, int]) -> Part:
        return cls(
            name,
            file,
            digest.plain_bytes,
            digest.plain_sha256,
            digest.cipher_bytes,
            digest.cipher_sha256,
            counts,
        )

    def digest(self) -> PartDigest:
        return PartDigest(self.bytes, self.cipher_bytes, self.sha256, self.cipher_sha256)


def _mac(manifest: dict[str, Any], material: bytes) -> str:
    body = json.dumps({k: v for k, v in manifest.items() if k != "mac"}, sort_keys=True).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"inescape.backup.manifest.v1").derive(
        material
    )
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _sealed(target: Target, key: BackupKey, name: str, file: str) -> SealedWriter:
    return SealedWriter(target.sink(file), key, name)


def _finish(writer: SealedWriter, work: Callable[[], Any]) -> tuple[PartDigest, Any]:
    try:
        result = work()
    except BaseException:
        writer.abort()
        raise
    return writer.close(), result


# --- backup -------------------------------------------------------------------------------------
async def backup(
    inst: Installation, target: Target, key: BackupKey, *, app_version: str, reporter: Reporter | None = None
) -> dict[str, Any]:
    """Write every part, then ``manifest.json``; returns the manifest."""
    show = reporter or SilentReporter()
    if target.exists(MANIFEST):
        raise Conflict(f"{target.location} holds a backup already; choose a new folder or prefix")
    created = datetime.now(UTC).isoformat()
    revision = await asyncio.to_thread(migrate.current, inst.database_url)
    parts = [await _backup_database(inst, target, key, show)]
    parts.append(await _backup_documents(inst, target, key, show))
    parts += await _backup_objects(inst, target, key, show)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": created,
        "app_version": app_version,
        "migration_revision": revision,
        "backends": {
            "database": inst.db.backend,
            "documents": inst.documents.backend,
            "objects": inst.storage.backend,
        },
        "key_id": key.key_id,
        "encryption_key_ids": list(inst.ring.key_ids),
        "parts": [asdict(p) for p in parts],
    }
    manifest["mac"] = _mac(manifest, key.material)
    sink = target.sink(MANIFEST)
    sink.write(json.dumps(manifest, indent=2).encode("utf-8") + b"\n")
    sink.close()
    return manifest


async def _backup_database(inst: Installation, target: Target, key: BackupKey, show: Reporter) -> Part:
    if inst.db.backend == "sqlite":
        path = sql.sqlite_path(inst.database_url)
        file = "database.sqlite.enc"
        show.begin("database (SQLite)", path.stat().st_size if path.exists() else 0)
        writer = _sealed(target, key, "database", file)
        digest, counts = _finish(writer, lambda: sql.sqlite_dump(path, writer, on_bytes=show.advance))
    else:
        major = await asyncio.to_thread(sql.pg_server_major, inst.database_url)
        tool = sql.find_pg_tool("pg_dump", major, inst.pg_bin_dir)
        file = "database.pgdump.enc"
        show.begin(f"database (pg_dump {major})", 0)
        writer = _sealed(target, key, "database", file)
        digest, counts = _finish(
            writer, lambda: sql.pg_dump(inst.database_url, writer, tool=tool, on_bytes=show.advance)
        )
    show.end()
    return Part.of("database", file, digest, counts)


async def _backup_documents(inst: Installation, target: Target, key: BackupKey, show: Reporter) -> Part:
    show.begin(f"documents ({inst.documents.backend})", 0)
    writer = _sealed(target, key, "documents", "documents.ndjson.enc")
    try:
        counts = await data.dump_documents(inst.documents, inst.db, writer, show.advance)
    except BaseException:
        writer.abort()
        raise
    show.end()
    return Part.of("documents", "documents.ndjson.enc", writer.close(), counts)


async def _backup_objects(inst: Installation, target: Target, key: BackupKey, show: Reporter) -> list[Part]:
    listing = await data.list_objects(inst.storage)
    show.begin(f"objects ({inst.storage.backend})", len(listing))
    writer = _sealed(target, key, "objects", "objects.bin.enc")
    index = _sealed(target, key, "objects-index", "objects.index.ndjson.enc")
    try:
        counts = await data.dump_objects(inst.storage, listing, writer, index, show.advance)
    except BaseException:
        writer.abort()
        index.abort()
        raise
    show.end()
    return [
        Part.of("objects", "objects.bin.enc", writer.close(), counts),
        Part.of("objects-index", "objects.index.ndjson.enc", index.close(), {"objects": len(listing)}),
    ]


# --- restore ------------------------------------------------------------------------------------
def read_manifest(target: Target) -> dict[str, Any]:
    if not target.exists(MANIFEST):
        raise Invalid(f"no {MANIFEST} at {target.location}: not a backup")
    try:
        manifest = json.loads(b"".join(target.read(MANIFEST)))
    except ValueError:
        raise BackupCorrupt(f"{MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupCorrupt(f"{MANIFEST} is not an INEsCape backup manifest")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise Invalid(f"backup format {manifest.get('format_version')} is not readable by this version")
    return manifest


class Restore:
    """One restore: ``check`` (reads only) then ``write``."""

    def __init__(
        self,
        inst: Installation,
        target: Target,
        *,
        dedicated: BackupKey | None,
        reporter: Reporter | None = None,
    ) -> None:
        self.inst, self.target, self.show = inst, target, reporter or SilentReporter()
        self.manifest = read_manifest(target)
        self.material = resolve_key(str(self.manifest.get("key_id", "")), dedicated, inst.ring)
        if not hmac.compare_digest(str(self.manifest.get("mac", "")), _mac(self.manifest, self.material)):
            raise BackupCorrupt(f"{MANIFEST} was altered, or it belongs to a different key")
        self.parts = {p["name"]: Part(**p) for p in self.manifest["parts"]}

    def _key_for(self, key_id: str) -> bytes:
        if key_id != self.manifest["key_id"]:
            raise BackupKeyMismatch(
                f"a part is encrypted with {key_id}, the manifest says {self.manifest['key_id']}"
            )
        return self.material

    def plain(self, name: str) -> Iterator[bytes]:
        part = self.parts[name]
        return open_sealed(self.target.read(part.file), name, self._key_for, part.digest())

    async def check(self) -> None:
        """Everything that can refuse, before anything is written."""
        self._check_fit()
        await self._check_empty()
        for name, part in self.parts.items():
            self.show.begin(f"verifying {name}", part.bytes)
            if name == "objects":
                self._verify_objects()
            elif name == "documents":
                self._verify_documents()
            elif name != "objects-index":
                for chunk in self.plain(name):
                    self.show.advance(len(chunk))
            self.show.end()

    def _check_fit(self) -> None:
        backends = self.manifest["backends"]
        here = {"database": self.inst.db.backend, "documents": self.inst.documents.backend}
        for kind, backend in here.items():
            if backends[kind] != backend:
                raise RestoreRefused(
                    f"the backup's {kind} backend is {backends[kind]}, this installation's is {backend}: "
                    "restore into an installation configured like the source"
                )
        missing = [k for k in self.manifest["encryption_key_ids"] if k not in self.inst.ring.key_ids]
        if missing:
            raise RestoreRefused(
                f"identifying fields in the backup are encrypted under key(s) {', '.join(missing)}, "
                "which this installation's key ring lacks: configure the source's INESCAPE_ENCRYPTION_KEYS "
                "(or its key file, <data dir>/keys/encryption.json when embedded) first"
            )
        revision = self.manifest["migration_revision"]
        if revision is not None and not _known_revision(revision):
            raise RestoreRefused(
                f"the backup's database is at migration {revision}, unknown to this version: "
                f"restore with INEsCape {self.manifest['app_version']} or newer"
            )

    async def _check_empty(self) -> None:
        rows = await asyncio.to_thread(sql.table_counts, self.inst.database_url, self.inst.db.backend)
        problems = [f"table {t} ({n} rows)" for t, n in rows.items() if n]
        problems += [
            f"collection {c}" for c in await data.nonempty_collections(self.inst.documents, self.inst.db)
        ]
        problems += [f"bucket {b}" for b in await data.nonempty_buckets(self.inst.storage)]
        if problems:
            shown = ", ".join(problems[:5]) + (f" and {len(problems) - 5} more" if len(problems) > 5 else "")
            raise RestoreRefused(
                f"refusing to restore into a non-empty installation ({shown}); point INESCAPE_DATABASE_URL, "
                "_MONGODB_DATABASE, _S3_BUCKET_PREFIX or _DATA_DIR at a new, empty one, "
                "or wipe this one first"
            )

    def _verify_documents(self) -> None:
        counts: dict[str, int] = {}
        for collection, _ in data.document_lines(self._counted("documents")):
            counts[collection] = counts.get(collection, 0) + 1
        expected = {c: n for c, n in self.parts["documents"].counts.items() if n}
        if counts != expected:
            raise BackupCorrupt("documents: the counts differ from manifest.json")

    def _verify_objects(self) -> None:
        index = data.index_entries(self.plain("objects-index"))
        found = [v for kind, v in data.object_events(self._counted("objects")) if kind == "end"]
        if found != index:
            raise BackupCorrupt("objects: the objects differ from their index")

    def _counted(self, name: str) -> Iterator[bytes]:
        for chunk in self.plain(name):
            self.show.advance(len(chunk))
            yield chunk

    async def write(self) -> list[str]:
        """Restore the parts; returns the summary lines."""
        lines = [await self._write_database()]
        lines.append(await self._write_documents())
        lines.append(await self._write_objects())
        lines.append(await self._revision_line())
        return lines

    async def _write_database(self) -> str:
        part = self.parts["database"]
        self.show.begin("restoring database", part.bytes)
        if self.inst.db.backend == "sqlite":
            path = sql.sqlite_path(self.inst.database_url)
            await asyncio.to_thread(
                sql.sqlite_restore, path, self.plain("database"), on_bytes=self.show.advance
            )
        else:
            major = await asyncio.to_thread(sql.pg_server_major, self.inst.database_url)
            tool = sql.find_pg_tool("pg_restore", major, self.inst.pg_bin_dir)
            await asyncio.to_thread(
                sql.pg_restore,
                self.inst.database_url,
                self.plain("database"),
                tool=tool,
                on_bytes=self.show.advance,
            )
        self.show.end()
        rows = await asyncio.to_thread(sql.table_counts, self.inst.database_url, self.inst.db.backend)
        differ = [t for t, n in part.counts.items() if rows.get(t) != n]
        if differ:
            raise BackupCorrupt(f"database: row counts differ after restore in {', '.join(differ)}")
        return f"database: {len(rows)} tables, {sum(rows.values()):,} rows"

    async def _write_documents(self) -> str:
        part = self.parts["documents"]
        total = sum(part.counts.values())
        if self.inst.documents.backend == "sql":
            return f"documents: {total:,} in {len(part.counts)} collections (restored with the database)"
        self.show.begin("restoring documents", total)
        counts = await data.load_documents(self.inst.documents, self.plain("documents"), self.show.advance)
        self.show.end()
        return f"documents: {sum(counts.values()):,} in {len(counts)} collections"

    async def _write_objects(self) -> str:
        part = self.parts["objects"]
        self.show.begin("restoring objects", sum(part.counts.values()))
        await self.inst.storage.ensure_buckets()  # type: ignore[attr-defined]
        counts = await data.load_objects(
            self.inst.storage, data.object_events(self.plain("objects")), self.show.advance
        )
        self.show.end()
        return (
            f"objects: {sum(counts.values()):,} ({', '.join(f'{b} {n}' for b, n in sorted(counts.items()))})"
        )

    async def _revision_line(self) -> str:
        revision = await asyncio.to_thread(migrate.current, self.inst.database_url)
        head = _head_revision()
        if revision != head:
            return f"database at migration {revision}, this version's is {head}: run `inescape migrate`"
        return f"database at migration {revision} (current)"


def _script() -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))


def _known_revision(revision: str) -> bool:
    try:
        return _script().get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown id
        return False


def _head_revision() -> str | None:
    head: str | None = _script().get_current_head()
    return head


async def restore(
    inst: Installation, target: Target, *, dedicated: BackupKey | None, reporter: Reporter | None = None
) -> list[str]:
    """Check the backup and the installation, then restore; returns the summary lines."""
    job = Restore(inst, target, dedicated=dedicated, reporter=reporter)
    await job.check()
    return await job.write()


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
