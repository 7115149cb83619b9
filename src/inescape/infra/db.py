"""SQL: one async engine (PostgreSQL via psycopg with a pool, or SQLite via aiosqlite)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
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
CHECKPOINT_EVERY = 500  # commits on the event loop's connection between two log checkpoints
log = logging.getLogger("inescape.db")


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


def _checkpoint_wal(connection: sqlite3.Connection) -> None:
    """Copy the write-ahead log into the database file as far as no reader needs it (PASSIVE:
    waits for nobody), so the log does not grow without end."""
    try:
        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error as exc:
        log.warning("the SQLite log checkpoint failed: %s", exc)


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
        self._at_hand: tuple[int, sqlite3.Connection] | None = None
        self._commits_at_hand = 0

    @property
    def one_trip(self) -> bool:
        """Whether ``in_one_trip`` can run (an SQLite file)."""
        return self._file is not None

    async def in_one_trip(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work`` run whole, in one go, on a plain sqlite3 connection to the same file (same
        pragmas); ``work`` commits or rolls back itself.

        Through aiosqlite and SQLAlchemy every statement, cursor and commit is a trip
        between the event loop and the driver's thread, and compiling and binding cost more
        than SQLite's own work: a short transaction of three statements takes a few dozen
        trips. Here it takes none, or one: ``work`` runs at once on the event loop's own
        connection, which never waits for a lock (``busy_timeout`` 0) and never checkpoints
        the write-ahead log itself (with ``synchronous=NORMAL`` a commit there writes to the
        log file, no fsync: tens of microseconds). When another connection holds the write
        lock, ``work`` is rolled back and run again on the database's writer thread, which
        waits for the lock as every connection does; that thread also checkpoints the log
        every ``CHECKPOINT_EVERY`` commits made on the loop. Only where ``one_trip`` is true."""
        if self._file is None:
            raise RuntimeError("in_one_trip needs an SQLite file")
        at_hand = self._at_hand_connection()
        if at_hand is not None:
            try:
                result = work(at_hand)
            except sqlite3.OperationalError as exc:
                if at_hand.in_transaction:
                    at_hand.rollback()
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            else:
                self._commits_at_hand += 1
                if self._commits_at_hand % CHECKPOINT_EVERY == 0:
                    self._on_writer(_checkpoint_wal)
                return result
        # a caller that stops waiting does not stop the transaction: it ends as it would
        return await asyncio.wrap_future(self._on_writer(work))

    def _at_hand_connection(self) -> sqlite3.Connection | None:
        """The event loop's own connection (one per database, for the thread that opened it)."""
        if self._at_hand is None and self._file is not None:
            connection = sqlite3.connect(self._file, check_same_thread=False)
            _sqlite_pragmas(connection, None)
            connection.execute("PRAGMA busy_timeout=0")
            connection.execute("PRAGMA wal_autocheckpoint=0")
            self._at_hand = (threading.get_ident(), connection)
        if self._at_hand is None or self._at_hand[0] != threading.get_ident():
            return None
        return self._at_hand[1]

    def _on_writer(self, work: Callable[[sqlite3.Connection], T]) -> Future[T]:
        """``work`` submitted to the writer thread, on that thread's own connection."""
        if self._file is None:
            raise RuntimeError("the writer thread needs an SQLite file")
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

        return executor.submit(run)

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
        if self._at_hand is not None:
            self._at_hand[1].close()
            self._at_hand = None
        if self._writer is not None:
            executor, opened = self._writer
            self._writer = None

            def close_all() -> None:
                for connection in opened:
                    connection.close()

            await asyncio.get_running_loop().run_in_executor(executor, close_all)
            executor.shutdown(wait=False)
