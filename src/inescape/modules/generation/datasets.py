"""The datasets (implements ``DatasetsApi``): metadata documents in ``dataset_metadata`` and
files in the ``datasets`` bucket, generated (``generation/dataset/<id>/<name>``) or collected
(uploads under ``collection/upload/<id>/``, raw pages under ``collection/run/<job>/``)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

from inescape.kernel.errors import Conflict
from inescape.kernel.ports import DocumentStore, ObjectStore
from inescape.modules.generation.api import BUCKET, DATASETS, DatasetFile, DatasetInfo, DatasetNotFound
from inescape.modules.generation.outputs import CONTENT_TYPES

READ_CHUNK = 1 << 20


class Datasets:
    def __init__(self, *, documents: DocumentStore, storage: ObjectStore) -> None:
        self._documents = documents
        self._storage = storage

    # --- metadata --------------------------------------------------------------------------
    async def describe(self, dataset_id: str) -> DatasetInfo:
        found = await self._documents.get(DATASETS, dataset_id)
        if found is None:
            raise DatasetNotFound(f"no dataset {dataset_id!r}")
        return msgspec.convert(dict(found), DatasetInfo)

    async def latest(self, *, limit: int = 200, skip: int = 0) -> list[DatasetInfo]:
        docs = await self._documents.find(
            DATASETS, {}, sort=[("created_at", -1), ("id", -1)], limit=limit, skip=skip
        )
        return [msgspec.convert(dict(d), DatasetInfo) for d in docs]

    async def register(self, info: DatasetInfo) -> None:
        doc: dict[str, Any] = msgspec.to_builtins(info)
        try:
            await self._documents.insert(DATASETS, doc)
        except Conflict:  # a retry after the metadata was written: the new one is the same dataset
            await self._documents.replace(DATASETS, info.id, doc)

    # --- files -----------------------------------------------------------------------------
    async def read_file(self, dataset_id: str, name: str) -> bytes:
        file = await self.file(dataset_id, name)
        return await self._storage.get(BUCKET, file.key)

    async def file(self, dataset_id: str, name: str) -> DatasetFile:
        """The file ``name`` of the dataset; ``DatasetNotFound`` when it has none."""
        file = (await self.describe(dataset_id)).file(name)
        if file is None:
            raise DatasetNotFound(
                f"dataset {dataset_id} has no file {name!r}; its files are listed in its metadata"
            )
        return file

    def open(self, file: DatasetFile) -> AsyncIterator[bytes]:
        return self._storage.stream(BUCKET, file.key)

    async def store_files(
        self, dataset_id: str, files: Sequence[tuple[str, str | None, str, Path, int]]
    ) -> list[DatasetFile]:
        """A generated dataset's finished local files (name, table, format, path, rows), each
        streamed to ``generation/dataset/<id>/<name>`` with a SHA-256 of the bytes stored."""
        stored = []
        for name, table, fmt, path, rows in files:
            key = f"generation/dataset/{dataset_id}/{name}"
            digest = hashlib.sha256()
            size = await self._storage.put_stream(
                BUCKET, key, _read(path, digest), content_type=CONTENT_TYPES[fmt]
            )
            stored.append(
                DatasetFile(
                    name=name,
                    table=table,
                    format=fmt,
                    key=key,
                    rows=rows,
                    bytes=size,
                    sha256=digest.hexdigest(),
                )
            )
        return stored

    # --- collected data: where it goes -----------------------------------------------------
    def upload_key(self, upload_id: str, filename: str | None = None) -> str:
        return f"collection/upload/{upload_id}/payload"

    def payload_key(self, job_id: str, page: int) -> str:
        return f"collection/run/{job_id}/page-{page:05d}.json"

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await self._storage.put(BUCKET, key, data, content_type=content_type)

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], *, content_type: str) -> int:
        return await self._storage.put_stream(BUCKET, key, chunks, content_type=content_type)

    def stream(self, key: str) -> AsyncIterator[bytes]:
        return self._storage.stream(BUCKET, key)


async def _read(path: Path, digest: Any) -> AsyncIterator[bytes]:
    source = await asyncio.to_thread(path.open, "rb")  # local disk, off the event loop all the same
    try:
        while block := await asyncio.to_thread(source.read, READ_CHUNK):
            digest.update(block)
            yield block
    finally:
        source.close()
