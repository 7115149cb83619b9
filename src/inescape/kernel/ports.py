"""Ports to the outside world. Each has a real adapter and an embedded one in ``infra``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Protocol

Document = dict[str, Any]


class Cache(Protocol):
    backend: str

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, *, ttl: float | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def incr(self, key: str, *, ttl: float | None = None) -> int:
        """Add one and return the new value; ``ttl`` applies when the key is created."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class ObjectStore(Protocol):
    """Buckets ``images``, ``models``, ``datasets``; keys ``<module>/<entity>/<id>/...``."""

    backend: str

    async def put(
        self, bucket: str, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> None: ...

    async def put_stream(
        self, bucket: str, key: str, chunks: AsyncIterator[bytes], *, content_type: str = ...
    ) -> int: ...

    async def get(self, bucket: str, key: str) -> bytes: ...

    def stream(self, bucket: str, key: str, *, chunk_size: int = ...) -> AsyncIterator[bytes]: ...

    async def exists(self, bucket: str, key: str) -> bool: ...

    async def delete(self, bucket: str, key: str) -> None: ...

    async def list(self, bucket: str, prefix: str = "") -> list[str]: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class DocumentStore(Protocol):
    """Schemaless documents by collection (metadata, audit logs, model cards).

    Filters are equality on top-level or dotted fields plus ``$gt/$gte/$lt/$lte/$in/$ne``:
    the subset both MongoDB and the SQL JSON tables answer the same way.
    """

    backend: str

    async def insert(self, collection: str, doc: Document) -> str: ...

    async def insert_many(self, collection: str, docs: Sequence[Document]) -> int:
        """Insert ``docs`` in order, stopping at the first whose id exists already.

        Returns how many were inserted: always a prefix of ``docs``, committed, and the rest
        absent (the SQL store inserts all or none; MongoDB may keep the prefix before the
        conflict). Any other failure raises ``Unavailable`` with nothing known to be written.
        """
        ...

    async def get(self, collection: str, doc_id: str) -> Document | None: ...

    async def replace(self, collection: str, doc_id: str, doc: Document) -> bool: ...

    async def delete(self, collection: str, doc_id: str) -> bool: ...

    async def find(
        self,
        collection: str,
        filters: Mapping[str, Any] | None = None,
        *,
        sort: Sequence[tuple[str, int]] = (),
        limit: int = 100,
        skip: int = 0,
    ) -> list[Document]: ...

    async def count(self, collection: str, filters: Mapping[str, Any] | None = None) -> int: ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...
