"""Stores as one module sees them: only the document collections and bucket prefixes it owns.

Every collection and every ``bucket/prefix/`` has one owning module (``ModuleSpec.owns``);
another module reaches that data through the owner's facade, never by name. The root hands
each module these views, so a module that reads or writes what it does not own fails at the
first such call, in every test, instead of coupling two modules through a string.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from inescape.kernel.errors import ConfigurationError
from inescape.kernel.ports import DocumentStore, ObjectStore


class NotOwned(RuntimeError):
    """A module touched a collection or object it does not own (a defect, not user input)."""


def owners(declared: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """{collection or bucket prefix: module}; refuses one claimed by two modules, or a
    prefix inside another module's prefix."""
    found: dict[str, str] = {}
    for module, names in declared.items():
        for name in names:
            clash = next(
                (
                    (other, owner)
                    for other, owner in found.items()
                    if owner != module and (other == name or _nested(other, name))
                ),
                None,
            )
            if clash is not None:
                raise ConfigurationError(
                    "INESCAPE_MODULES",
                    f"{name!r} is claimed by modules {clash[1]!r} and {module!r}: each collection "
                    "and bucket prefix has one owning module",
                )
            found[name] = module
    return found


def _nested(a: str, b: str) -> bool:
    return "/" in a and "/" in b and (a.startswith(b) or b.startswith(a))


class OwnedDocuments:
    """A document store limited to the collections a module owns."""

    def __init__(self, store: DocumentStore, *, module: str, collections: Sequence[str]) -> None:
        self._store = store
        self._module = module
        self._collections = frozenset(collections)
        self.backend = getattr(store, "backend", "unknown")
        self._partners: frozenset[str] = frozenset()  # the collections of views sharing a transaction

    def _check(self, collection: str) -> None:
        if collection not in self._collections:
            raise NotOwned(
                f"module {self._module!r} used document collection {collection!r}, which it does not "
                f"own (it owns: {', '.join(sorted(self._collections)) or 'none'}); use the owner's facade"
            )

    async def insert(self, collection: str, doc: Any) -> str:
        self._check(collection)
        return await self._store.insert(collection, doc)

    async def insert_many(self, collection: str, docs: Sequence[Any]) -> int:
        self._check(collection)
        return await self._store.insert_many(collection, docs)

    async def get(self, collection: str, doc_id: str) -> Any:
        self._check(collection)
        return await self._store.get(collection, doc_id)

    async def replace(self, collection: str, doc_id: str, doc: Any) -> bool:
        self._check(collection)
        return await self._store.replace(collection, doc_id, doc)

    async def delete(self, collection: str, doc_id: str) -> bool:
        self._check(collection)
        return await self._store.delete(collection, doc_id)

    async def find(self, collection: str, *args: Any, **kwargs: Any) -> Any:
        self._check(collection)
        return await self._store.find(collection, *args, **kwargs)

    async def count(self, collection: str, filters: Mapping[str, Any] | None = None) -> int:
        self._check(collection)
        return await self._store.count(collection, filters)

    def shares_database(self, other: object) -> bool:
        """Whether ``other`` (a store or another module view) writes to the same SQL database,
        so that ``insert_many_and_update`` may also write its collections."""
        inner = other._store if isinstance(other, OwnedDocuments) else other
        shares = getattr(self._store, "shares_database", None)
        together = bool(shares and shares(inner))
        if together and isinstance(other, OwnedDocuments):
            self._partners |= other._collections
        return together

    async def insert_many_and_update(
        self, collection: str, docs: Sequence[Any], *, target: tuple[str, str], change: Any
    ) -> int:
        self._check(collection)
        if target[0] not in self._partners:
            self._check(target[0])
        store: Any = self._store
        return int(await store.insert_many_and_update(collection, docs, target=target, change=change))

    async def ping(self) -> None:
        await self._store.ping()

    async def close(self) -> None:  # the root closes the real store
        return None

    def __getattr__(self, name: str) -> Any:  # backend-specific extras (e.g. a prefix query)
        return getattr(self._store, name)


class OwnedObjects:
    """An object store limited to the ``bucket/prefix/`` keys a module owns."""

    def __init__(self, store: ObjectStore, *, module: str, prefixes: Sequence[str]) -> None:
        self._store = store
        self._module = module
        self._prefixes = tuple(p for p in prefixes if "/" in p)
        self.backend = getattr(store, "backend", "unknown")

    def _check(self, bucket: str, key: str) -> None:
        path = f"{bucket}/{key.lstrip('/')}"
        if not any(path.startswith(prefix) for prefix in self._prefixes):
            raise NotOwned(
                f"module {self._module!r} used object {path!r}, outside what it owns "
                f"({', '.join(self._prefixes) or 'nothing'}); use the owner's facade"
            )

    async def put(self, bucket: str, key: str, *args: Any, **kwargs: Any) -> Any:
        self._check(bucket, key)
        return await self._store.put(bucket, key, *args, **kwargs)

    async def put_stream(self, bucket: str, key: str, *args: Any, **kwargs: Any) -> Any:
        self._check(bucket, key)
        return await self._store.put_stream(bucket, key, *args, **kwargs)

    async def get(self, bucket: str, key: str) -> bytes:
        self._check(bucket, key)
        return await self._store.get(bucket, key)

    def stream(self, bucket: str, key: str, **kwargs: Any) -> AsyncIterator[bytes]:
        self._check(bucket, key)
        return self._store.stream(bucket, key, **kwargs)

    async def exists(self, bucket: str, key: str) -> bool:
        self._check(bucket, key)
        return await self._store.exists(bucket, key)

    async def delete(self, bucket: str, key: str) -> None:
        self._check(bucket, key)
        await self._store.delete(bucket, key)

    async def list(self, bucket: str, prefix: str = "") -> list[str]:
        self._check(bucket, prefix)
        return await self._store.list(bucket, prefix)

    async def ping(self) -> None:
        await self._store.ping()

    async def close(self) -> None:  # the root closes the real store
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)
