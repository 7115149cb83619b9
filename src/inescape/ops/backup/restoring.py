"""Restoring a backup: read and check every part before writing anything, and only into an
empty installation (a fresh database, Mongo database, bucket prefix or data folder)."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Iterator
from typing import Any

from inescape import migrate
from inescape.ops.backup import data, sql
from inescape.ops.backup.crypto import BackupCorrupt, BackupKey, BackupKeyMismatch, open_sealed, resolve_key
from inescape.ops.backup.installation import Installation, Reporter, RestoreRefused, SilentReporter
from inescape.ops.backup.manifest import MANIFEST, Part, manifest_mac, read_manifest
from inescape.ops.backup.targets import Target


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
        expected = manifest_mac(self.manifest, self.material)
        if not hmac.compare_digest(str(self.manifest.get("mac", "")), expected):
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
