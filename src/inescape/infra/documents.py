"""Documents: MongoDB (pymongo's async client, the one beanie drives) or SQL JSON tables.

Both adapters answer the same small query language (see ``kernel.ports.DocumentStore``), and
the shared suite runs against both, so a module written against the port works on either.
"""

from __future__ import annotations

import copy
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError
from pymongo.write_concern import WriteConcern
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from inescape.infra.db import Database
from inescape.infra.tables import documents
from inescape.kernel.clock import Clock, SystemClock
from inescape.kernel.errors import Conflict, Invalid, Unavailable
from inescape.kernel.ids import new_id
from inescape.kernel.ports import Document

DUPLICATE_KEY = 11000
OPERATORS = ("$gt", "$gte", "$lt", "$lte", "$in", "$ne")
SQL_OPERATORS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "$gt": lambda t, a: t > a,
    "$gte": lambda t, a: t >= a,
    "$lt": lambda t, a: t < a,
    "$lte": lambda t, a: t <= a,
    "$in": lambda t, a: t.in_(list(a)),
    "$ne": lambda t, a: or_(t != a, t.is_(None)),
}


def _check_filters(filters: Mapping[str, Any]) -> None:
    for field, cond in filters.items():
        if field.startswith("$"):
            raise Invalid(f"unsupported top-level operator {field!r}")
        if isinstance(cond, Mapping):
            bad = [op for op in cond if op not in OPERATORS]
            if bad:
                raise Invalid(f"unsupported operator {bad[0]!r} on {field!r}; use {OPERATORS}")


class MongoDocumentStore:
    """Writes are acknowledged once journaled (``j``): an acknowledged write, an audit event
    above all, survives a crash of the server. ``w`` is the URL's, else the server's default
    (a majority of a replica set)."""

    backend = "mongodb"

    def __init__(self, url: str, database: str, *, clock: Clock | None = None) -> None:
        self.client: AsyncMongoClient[Document] = AsyncMongoClient(
            url,
            serverSelectionTimeoutMS=2000,
            connectTimeoutMS=2000,
            tz_aware=True,
        )
        concern = {k: v for k, v in self.client.write_concern.document.items() if k != "j"}
        self.db = self.client.get_database(database, write_concern=WriteConcern(**concern, j=True))
        self._clock = clock or SystemClock()

    async def init_documents(self, models: Sequence[type]) -> None:
        """Register modules' beanie ``Document`` classes (indexes included) on this database."""
        if models:
            from beanie import init_beanie

            await init_beanie(database=self.db, document_models=list(models))

    @staticmethod
    def _out(raw: Mapping[str, Any] | None) -> Document | None:
        if raw is None:
            return None
        doc = dict(raw)
        doc["id"] = doc.pop("_id")
        return doc

    async def _guard(self, coro: Any) -> Any:
        try:
            return await coro
        except DuplicateKeyError as exc:
            raise Conflict("a document with this id exists already") from exc
        except PyMongoError as exc:
            raise Unavailable(
                "The document store (MongoDB) is unreachable; try again shortly.",
                backend="mongodb",
                retry_after=5,
            ) from exc

    async def insert(self, collection: str, doc: Document) -> str:
        body = copy.deepcopy(dict(doc))
        doc_id = str(body.pop("id", None) or new_id())
        await self._guard(self.db[collection].insert_one({"_id": doc_id, **body}))
        return doc_id

    async def insert_many(self, collection: str, docs: Sequence[Document]) -> int:
        if not docs:
            return 0
        bodies = []
        for doc in docs:
            body = copy.deepcopy(dict(doc))
            bodies.append({"_id": str(body.pop("id", None) or new_id()), **body})
        try:
            await self.db[collection].insert_many(bodies, ordered=True)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if errors and all(e.get("code") == DUPLICATE_KEY for e in errors):
                # ordered: everything before the first failing index was inserted, nothing after
                return int(errors[0]["index"])
            raise Unavailable(
                "The document store (MongoDB) refused a batch; try again shortly.", backend="mongodb"
            ) from exc
        except PyMongoError as exc:
            raise Unavailable(
                "The document store (MongoDB) is unreachable; try again shortly.",
                backend="mongodb",
                retry_after=5,
            ) from exc
        return len(bodies)

    async def get(self, collection: str, doc_id: str) -> Document | None:
        return self._out(await self._guard(self.db[collection].find_one({"_id": doc_id})))

    async def replace(self, collection: str, doc_id: str, doc: Document) -> bool:
        body = {k: v for k, v in doc.items() if k != "id"}
        result = await self._guard(self.db[collection].replace_one({"_id": doc_id}, body))
        return bool(result.matched_count)

    async def delete(self, collection: str, doc_id: str) -> bool:
        result = await self._guard(self.db[collection].delete_one({"_id": doc_id}))
        return bool(result.deleted_count)

    async def find(
        self,
        collection: str,
        filters: Mapping[str, Any] | None = None,
        *,
        sort: Sequence[tuple[str, int]] = (),
        limit: int = 100,
        skip: int = 0,
    ) -> list[Document]:
        query = self._query(filters or {})
        cursor = self.db[collection].find(query).skip(skip).limit(limit)
        if sort:
            cursor = cursor.sort([("_id" if f == "id" else f, d) for f, d in sort])
        raw = await self._guard(cursor.to_list(length=limit))
        return [d for d in (self._out(r) for r in raw) if d is not None]

    async def count(self, collection: str, filters: Mapping[str, Any] | None = None) -> int:
        return int(await self._guard(self.db[collection].count_documents(self._query(filters or {}))))

    @staticmethod
    def _query(filters: Mapping[str, Any]) -> dict[str, Any]:
        _check_filters(filters)
        return {("_id" if k == "id" else k): v for k, v in filters.items()}

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()


_SQLITE_INSERT = "INSERT INTO documents (collection, id, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)"
_SQLITE_BODY = "SELECT body FROM documents WHERE collection = ? AND id = ?"
_SQLITE_SET_BODY = "UPDATE documents SET body = ?, updated_at = ? WHERE collection = ? AND id = ?"


def _same(value: Any) -> Any:
    return value


class SqlDocumentStore:
    """The same documents as rows of ``documents`` (collection, id, JSON body)."""

    backend = "sql"

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or SystemClock()
        self._sqlite_binds: tuple[Callable[[Any], Any], ...] | None = None

    async def init_documents(self, models: Sequence[type]) -> None:
        return None  # one JSON table holds every collection

    def _value(self, path: str) -> Any:
        return documents.c.body[tuple(path.split("."))]

    def _typed(self, path: str, sample: Any) -> Any:
        value = self._value(path)
        if isinstance(sample, bool):
            return value.as_boolean()
        if isinstance(sample, int | float):
            return value.as_float()
        return value.as_string()

    def _condition(self, path: str, cond: Any) -> ColumnElement[bool]:
        def target(sample: Any) -> Any:
            return documents.c.id if path == "id" else self._typed(path, sample)

        if not isinstance(cond, Mapping):
            if cond is None:
                return cast("ColumnElement[bool]", self._value(path).as_string().is_(None))
            return cast("ColumnElement[bool]", target(cond) == cond)
        parts = [
            SQL_OPERATORS[op](target(arg[0] if op == "$in" and arg else arg), arg) for op, arg in cond.items()
        ]
        return and_(*parts)

    def _where(self, collection: str, filters: Mapping[str, Any]) -> ColumnElement[bool]:
        _check_filters(filters)
        conds = [self._condition(k, v) for k, v in filters.items()]
        return and_(documents.c.collection == collection, *conds)

    def _sort_key(self, path: str) -> Any:
        if path == "id":
            return documents.c.id
        if self._db.backend == "postgresql":
            return self._value(path)  # JSONB orders numbers numerically, strings by text
        return func.json_extract(documents.c.body, "$." + path)

    async def insert(self, collection: str, doc: Document) -> str:
        body = copy.deepcopy(dict(doc))
        doc_id = str(body.pop("id", None) or new_id())
        now = self._clock.now()
        try:
            async with self._db.sessions() as session, session.begin():
                await session.execute(
                    insert(documents).values(
                        collection=collection, id=doc_id, body=body, created_at=now, updated_at=now
                    )
                )
        except IntegrityError:  # the primary key decides, also between processes
            raise Conflict("a document with this id exists already") from None
        return doc_id

    def _rows(self, collection: str, docs: Sequence[Document]) -> list[dict[str, Any]]:
        now = self._clock.now()
        rows = []
        for doc in docs:
            body = copy.deepcopy(dict(doc))
            doc_id = str(body.pop("id", None) or new_id())
            rows.append(
                {"collection": collection, "id": doc_id, "body": body, "created_at": now, "updated_at": now}
            )
        return rows

    def shares_database(self, other: object) -> bool:
        """Whether ``other`` keeps its documents in the same SQL database (one transaction
        can write both)."""
        return isinstance(other, SqlDocumentStore) and other._db is self._db

    async def insert_many_and_update(
        self,
        collection: str,
        docs: Sequence[Document],
        *,
        target: tuple[str, str],
        change: Callable[[Document | None], Document | None],
    ) -> int:
        """``insert_many`` and, in the same transaction, the document ``target`` (collection,
        id) set to what ``change`` makes of its stored value (None: left as it is). One commit
        and one trip to the database's thread: the audit trail's append with its checkpoint
        (on an SQLite file, the whole transaction on the database's writer thread).
        A taken id leaves everything out (0)."""
        if not docs:
            return 0
        if self._db.one_trip:
            return await self._db.in_one_trip(self._sqlite_append(collection, docs, target, change))
        rows = self._rows(collection, docs)
        other, other_id = target
        where = and_(documents.c.collection == other, documents.c.id == other_id)

        def write(session: Session) -> int:
            try:
                session.execute(insert(documents), rows)
            except IntegrityError:
                session.rollback()
                return 0
            stored = session.scalar(select(documents.c.body).where(where))
            changed = change(None if stored is None else {"id": other_id, **stored})
            if changed is not None:
                body, now = {k: v for k, v in changed.items() if k != "id"}, self._clock.now()
                if stored is None:
                    values = {"collection": other, "id": other_id, "created_at": now}
                    session.execute(insert(documents).values(**values, body=body, updated_at=now))
                else:
                    session.execute(update(documents).where(where).values(body=body, updated_at=now))
            session.commit()
            return len(rows)

        async with self._db.sessions() as session:
            return await session.run_sync(write)

    def _sqlite_append(
        self,
        collection: str,
        docs: Sequence[Document],
        target: tuple[str, str],
        change: Callable[[Document | None], Document | None],
    ) -> Callable[[sqlite3.Connection], int]:
        """``insert_many_and_update``'s transaction on a plain sqlite3 connection, its values
        bound as SQLAlchemy binds them (the same JSON text and timestamps)."""
        if self._sqlite_binds is None:
            dialect = self._db.engine.dialect
            body = documents.c.body.type.dialect_impl(dialect)
            self._sqlite_binds = (
                body.bind_processor(dialect) or _same,
                body.result_processor(dialect, None) or _same,
                documents.c.updated_at.type.dialect_impl(dialect).bind_processor(dialect) or _same,
            )
        body_in, body_out, time_in = self._sqlite_binds
        now = time_in(self._clock.now())
        values = []
        for doc in docs:  # each body is JSON text from here on: nobody else's to change
            doc_id = str(doc.get("id") or new_id())
            body = body_in({k: v for k, v in doc.items() if k != "id"})
            values.append((collection, doc_id, body, now, now))
        other, other_id = target

        def write(connection: sqlite3.Connection) -> int:
            try:
                try:
                    connection.executemany(_SQLITE_INSERT, values)
                except sqlite3.IntegrityError:
                    connection.rollback()
                    return 0
                found = connection.execute(_SQLITE_BODY, (other, other_id)).fetchone()
                stored = None if found is None else body_out(found[0])
                changed = change(None if stored is None else {"id": other_id, **stored})
                if changed is not None:
                    body = body_in({k: v for k, v in changed.items() if k != "id"})
                    if stored is None:
                        connection.execute(_SQLITE_INSERT, (other, other_id, body, now, now))
                    else:
                        connection.execute(_SQLITE_SET_BODY, (body, now, other, other_id))
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            return len(values)

        return write

    async def insert_many(self, collection: str, docs: Sequence[Document]) -> int:
        if not docs:
            return 0
        rows = self._rows(collection, docs)
        try:
            async with self._db.sessions() as session, session.begin():
                await session.execute(insert(documents), rows)
        except IntegrityError:  # one transaction: a taken id leaves the whole batch out
            return 0
        return len(rows)

    async def get(self, collection: str, doc_id: str) -> Document | None:
        async with self._db.sessions() as session:
            body = await session.scalar(
                select(documents.c.body).where(documents.c.collection == collection, documents.c.id == doc_id)
            )
        return None if body is None else {"id": doc_id, **body}

    async def replace(self, collection: str, doc_id: str, doc: Document) -> bool:
        body = {k: v for k, v in doc.items() if k != "id"}
        async with self._db.sessions() as session, session.begin():
            result = await session.execute(
                update(documents)
                .where(
                    documents.c.collection == collection,
                    documents.c.id == doc_id,
                )
                .values(body=body, updated_at=self._clock.now())
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete(self, collection: str, doc_id: str) -> bool:
        async with self._db.sessions() as session, session.begin():
            result = await session.execute(
                delete(documents).where(documents.c.collection == collection, documents.c.id == doc_id)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def find(
        self,
        collection: str,
        filters: Mapping[str, Any] | None = None,
        *,
        sort: Sequence[tuple[str, int]] = (),
        limit: int = 100,
        skip: int = 0,
    ) -> list[Document]:
        query = select(documents.c.id, documents.c.body).where(self._where(collection, filters or {}))
        for path, direction in sort:
            key = self._sort_key(path)
            query = query.order_by(key.desc() if direction < 0 else key.asc())
        query = query.offset(skip).limit(limit)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).all()
        return [{"id": row.id, **row.body} for row in rows]

    async def count(self, collection: str, filters: Mapping[str, Any] | None = None) -> int:
        async with self._db.sessions() as session:
            total = await session.scalar(
                select(func.count()).select_from(documents).where(self._where(collection, filters or {}))
            )
        return int(total or 0)

    async def ping(self) -> None:
        await self._db.ping()

    async def close(self) -> None:
        return None
