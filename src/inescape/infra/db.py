"""SQL: one async engine (PostgreSQL via psycopg with a pool, or SQLite via aiosqlite)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase

from inescape.infra.health import probe
from inescape.kernel.errors import ConfigurationError
from inescape.kernel.health import ComponentHealth

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)
T = TypeVar("T")


class Base(DeclarativeBase):
    """Declarative base for every module's tables; one metadata, one migration history."""

    metadata = metadata


def normalise_url(url: str, *, setting: str = "INESCAPE_DATABASE_URL") -> str:
    """Pick the async driver for a plain ``postgresql://`` or ``sqlite:///`` URL."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(setting, f"not a database URL ({exc})") from None
    driver = parsed.drivername
    if driver in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg_async"):
        return parsed.set(drivername="postgresql+psycopg_async").render_as_string(False)
    if driver in ("sqlite", "sqlite+aiosqlite"):
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(False)
    raise ConfigurationError(setting, f"unsupported database {driver!r}; use postgresql:// or sqlite:///")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # In WAL mode, NORMAL makes a commit durable once it returns against a crash of the
    # process (the commit is in the WAL file, which the next open replays); only a power cut
    # or an OS crash may lose the last commits. FULL (an fsync per commit) would cover those
    # too, at a cost to every write; the embedded install is one machine, and process
    # crashes (kill -9) are what it must survive without losing an audit event.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self.backend = "postgresql" if self.url.startswith("postgresql") else "sqlite"
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
        if self.backend == "postgresql":
            kwargs |= {"pool_size": pool_size, "max_overflow": pool_size, "pool_timeout": 10}
            # an acknowledged commit is on disk, whatever the server's or database's default
            # (the audit trail answers a request only after its event is committed)
            kwargs["connect_args"] = {"connect_timeout": 5, "options": "-c synchronous_commit=on"}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.backend == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, class_=AsyncSession)
        parsed = make_url(self.url)
        # a plain SQLite file (not one in memory, which a second connection would not see,
        # nor a URL with driver options)
        file = parsed.database not in (None, "", ":memory:")
        plain = self.backend == "sqlite" and file and not parsed.query
        self._file = parsed.database if plain else None
        self._writer: tuple[ThreadPoolExecutor, list[sqlite3.Connection]] | None = None

    @property
    def one_trip(self) -> bool:
        """Whether ``in_one_trip`` can run (an SQLite file)."""
        return self._file is not None

    async def in_one_trip(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` run whole on the database's writer thread, with that thread's own sqlite3
        connection to the same file (same pragmas); ``work`` commits or rolls back itself.

        Through aiosqlite and SQLAlchemy every statement, cursor and commit is a trip
        between the event loop and the driver's thread, and compiling and binding cost more
        than SQLite's own work: a short transaction of three statements takes a few dozen
        trips. Here it takes one. Only where ``one_trip`` is true."""
        if self._file is None:
            raise RuntimeError("in_one_trip needs an SQLite file")
        if self._writer is None:
            self._writer = (ThreadPoolExecutor(1, thread_name_prefix="inescape-sqlite-writer"), [])
        executor, opened = self._writer
        path = self._file

        def run() -> T:
            if not opened:
                connection = sqlite3.connect(path, check_same_thread=False)
                _sqlite_pragmas(connection, None)
                opened.append(connection)
            return work(opened[0])

        # a caller that stops waiting does not stop the transaction: it ends as it would
        return await asyncio.get_running_loop().run_in_executor(executor, run)

    @property
    def safe_url(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def health(self) -> ComponentHealth:
        return await probe("database", self.backend, self.ping)

    async def close(self) -> None:
        await self.engine.dispose()
        if self._writer is not None:
            executor, opened = self._writer
            self._writer = None

            def close_all() -> None:
                for connection in opened:
                    connection.close()

            await asyncio.get_running_loop().run_in_executor(executor, close_all)
            executor.shutdown(wait=False)
