"""The document and object parts.

Documents: NDJSON, one line per document, ``{"c": collection, "d": document}`` in MongoDB's
canonical extended JSON, so dates, binaries and ids come back as the same types. MongoDB is read
through its driver (every collection, beanie's included); the SQL document store through the
port, paging by id.

Objects: one stream of records, each a JSON line ``{"bucket", "key"}``, the content in
length-prefixed frames ending with an empty one, and a JSON line ``{"bytes", "sha256"}``; a
separate index part lists the same per object, so every object is checked before any is written.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from bson import json_util
from bson.json_util import CANONICAL_JSON_OPTIONS

from inescape.infra.db import Database
from inescape.infra.storage import BUCKETS
from inescape.infra.tables import documents as documents_table
from inescape.kernel.errors import Unavailable
from inescape.kernel.ports import DocumentStore, ObjectStore
from inescape.ops.backup.crypto import BackupCorrupt, SealedWriter

PAGE = 500
_FRAME = struct.Struct(">I")
FRAME_SIZE = 1024 * 1024


# --- documents ----------------------------------------------------------------------------------
async def collections(store: DocumentStore, db: Database) -> list[str]:
    mongo = getattr(store, "db", None)
    if store.backend == "mongodb" and mongo is not None:
        return sorted(await mongo.list_collection_names())
    async with db.engine.connect() as conn:
        found = await conn.execute(sa.select(documents_table.c.collection).distinct())
        return sorted(str(row[0]) for row in found)


async def _documents(store: DocumentStore, collection: str) -> AsyncIterator[dict[str, Any]]:
    mongo = getattr(store, "db", None)
    if store.backend == "mongodb" and mongo is not None:
        async for raw in mongo[collection].find({}, sort=[("_id", 1)], batch_size=PAGE):
            yield raw
        return
    last: str | None = None
    while True:
        filters = {} if last is None else {"id": {"$gt": last}}
        page = await store.find(collection, filters, sort=[("id", 1)], limit=PAGE)
        for doc in page:
            yield doc
        if len(page) < PAGE:
            return
        last = str(page[-1]["id"])


async def dump_documents(
    store: DocumentStore, db: Database, writer: SealedWriter, on_doc: Callable[[int], Any]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for collection in await collections(store, db):
        counts[collection] = 0
        async for doc in _documents(store, collection):
            line = json_util.dumps({"c": collection, "d": doc}, json_options=CANONICAL_JSON_OPTIONS)
            writer.write(line.encode("utf-8") + b"\n")
            counts[collection] += 1
            on_doc(1)
    return counts


def document_lines(plain: Iterator[bytes]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(collection, document)`` per NDJSON line of the decrypted part."""
    rest = b""
    for chunk in plain:
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            if line:
                record = json_util.loads(line, json_options=CANONICAL_JSON_OPTIONS)
                yield str(record["c"]), dict(record["d"])
    if rest.strip():
        raise BackupCorrupt("documents: the last line is incomplete")


async def load_documents(
    store: DocumentStore, plain: Iterator[bytes], on_doc: Callable[[int], Any]
) -> dict[str, int]:
    """Insert every document with its own id (MongoDB only: the SQL store's documents come
    back with the database)."""
    mongo = getattr(store, "db", None)
    if mongo is None:
        raise Unavailable("documents can only be loaded into MongoDB this way", backend=store.backend)
    counts: Counter[str] = Counter()
    batch: list[dict[str, Any]] = []
    current: str | None = None

    async def flush() -> None:
        if batch and current is not None:
            await mongo[current].insert_many(list(batch), ordered=True)
            on_doc(len(batch))
            batch.clear()

    for collection, doc in document_lines(plain):
        if collection != current or len(batch) >= PAGE:
            await flush()
            current = collection
        batch.append(doc)
        counts[collection] += 1
    await flush()
    return dict(counts)


async def nonempty_collections(store: DocumentStore, db: Database) -> list[str]:
    mongo = getattr(store, "db", None)
    if store.backend == "mongodb" and mongo is not None:
        names = await mongo.list_collection_names()
        return sorted([n for n in names if await mongo[n].find_one({}, projection={"_id": 1}) is not None])
    return []  # the SQL store's documents are rows of the database, checked with it


# --- objects ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ObjectEntry:
    bucket: str
    key: str
    size: int
    sha256: str

    def line(self) -> bytes:
        entry = {"bucket": self.bucket, "key": self.key, "bytes": self.size, "sha256": self.sha256}
        return json.dumps(entry, sort_keys=True).encode("utf-8") + b"\n"


async def list_objects(storage: ObjectStore) -> list[tuple[str, str]]:
    return [(bucket, key) for bucket in BUCKETS for key in await storage.list(bucket)]


async def dump_objects(
    storage: ObjectStore,
    listing: list[tuple[str, str]],
    writer: SealedWriter,
    index: SealedWriter,
    on_object: Callable[[int], Any],
) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(BUCKETS, 0)
    for bucket, key in listing:
        writer.write(json.dumps({"bucket": bucket, "key": key}).encode("utf-8") + b"\n")
        sha, size = hashlib.sha256(), 0
        async for chunk in storage.stream(bucket, key, chunk_size=FRAME_SIZE):
            writer.write(_FRAME.pack(len(chunk)) + chunk)
            sha.update(chunk)
            size += len(chunk)
        entry = ObjectEntry(bucket, key, size, sha.hexdigest())
        writer.write(_FRAME.pack(0) + json.dumps({"bytes": size, "sha256": entry.sha256}).encode() + b"\n")
        index.write(entry.line())
        counts[bucket] += 1
        on_object(1)
    return counts


class _Bytes:
    def __init__(self, plain: Iterator[bytes]) -> None:
        self._plain, self._buffer = plain, bytearray()

    def _fill(self, size: int) -> bool:
        while len(self._buffer) < size:
            chunk = next(self._plain, None)
            if chunk is None:
                return False
            self._buffer.extend(chunk)
        return True

    def read(self, size: int) -> bytes:
        if not self._fill(size):
            raise BackupCorrupt("objects: the stream ends inside an object")
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def line(self) -> bytes | None:
        while b"\n" not in self._buffer:
            chunk = next(self._plain, None)
            if chunk is None:
                if self._buffer:
                    raise BackupCorrupt("objects: the stream ends inside a record")
                return None
            self._buffer.extend(chunk)
        end = self._buffer.index(b"\n")
        out = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return out


Event = tuple[str, Any]


def object_events(plain: Iterator[bytes]) -> Iterator[Event]:
    """``("start", (bucket, key))``, ``("data", bytes)``..., ``("end", ObjectEntry)`` per
    object; raises ``BackupCorrupt`` when content and its recorded checksum differ."""
    reader = _Bytes(plain)
    while (head := reader.line()) is not None:
        where = json.loads(head)
        bucket, key = str(where["bucket"]), str(where["key"])
        yield "start", (bucket, key)
        sha, size = hashlib.sha256(), 0
        while length := _FRAME.unpack(reader.read(_FRAME.size))[0]:
            data = reader.read(length)
            sha.update(data)
            size += length
            yield "data", data
        trailer = json.loads(reader.line() or b"{}")
        entry = ObjectEntry(bucket, key, size, sha.hexdigest())
        if trailer != {"bytes": size, "sha256": entry.sha256}:
            raise BackupCorrupt(f"objects: {bucket}/{key} differs from its recorded checksum")
        yield "end", entry


def index_entries(plain: Iterator[bytes]) -> list[ObjectEntry]:
    text = b"".join(plain).decode("utf-8")  # one short line per object
    entries = [json.loads(line) for line in text.splitlines() if line]
    return [ObjectEntry(e["bucket"], e["key"], int(e["bytes"]), str(e["sha256"])) for e in entries]


async def load_objects(
    storage: ObjectStore, events: Iterator[Event], on_object: Callable[[int], Any]
) -> dict[str, int]:
    counts: Counter[str] = Counter()

    async def content() -> AsyncIterator[bytes]:
        for kind, value in events:
            if kind == "end":
                return
            yield value

    for kind, value in events:
        if kind != "start":
            raise BackupCorrupt("objects: a record is out of order")
        bucket, key = value
        await storage.put_stream(bucket, key, content())
        counts[bucket] += 1
        on_object(1)
    return dict(counts)


async def nonempty_buckets(storage: ObjectStore) -> list[str]:
    found = []
    for bucket in BUCKETS:
        try:
            keys = await storage.list(bucket)
        except Unavailable as exc:
            code = getattr(exc.__cause__, "response", {}).get("Error", {}).get("Code")
            if code == "NoSuchBucket":
                continue
            raise
        if keys:
            found.append(f"{bucket} ({len(keys)} objects)")
    return found
