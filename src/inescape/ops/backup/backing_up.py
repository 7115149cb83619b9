"""Writing a backup: every part sealed under the backup key, then ``manifest.json``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from inescape import migrate
from inescape.kernel.errors import Conflict
from inescape.ops.backup import data, sql
from inescape.ops.backup.crypto import BackupKey, PartDigest, SealedWriter
from inescape.ops.backup.installation import Installation, Reporter, SilentReporter
from inescape.ops.backup.manifest import FORMAT, FORMAT_VERSION, MANIFEST, Part, manifest_mac
from inescape.ops.backup.targets import Target


def _sealed(target: Target, key: BackupKey, name: str, file: str) -> SealedWriter:
    return SealedWriter(target.sink(file), key, name)


def _finish(writer: SealedWriter, work: Callable[[], Any]) -> tuple[PartDigest, Any]:
    try:
        result = work()
    except BaseException:
        writer.abort()
        raise
    return writer.close(), result


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
    manifest["mac"] = manifest_mac(manifest, key.material)
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
