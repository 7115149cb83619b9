"""Writing many records at once: binary COPY on PostgreSQL, multi-row INSERT elsewhere."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any

import msgspec
from psycopg.types.json import Json, set_json_dumps
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    Table,
    insert,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger, SmallInteger, TypeDecorator, TypeEngine

from inescape.kernel.ids import new_ids
from inescape.modules.patients.api import PatientCreate
from inescape.modules.patients.models import CHILDREN, name_terms, patients
from inescape.modules.patients.repository.names import TERM_COLUMNS, insert_terms, term_rows
from inescape.modules.patients.repository.rows import CHILD_TYPES, child_rows, patient_row

# How many values one SQLite statement binds: the library's own limit (32,766 by default since
# 3.32, 999 before; read from the sqlite3 module the aiosqlite driver uses), and no more than
# 32,766 where a build allows more, so a statement's text stays well under SQLite's 1 MB.
with closing(sqlite3.connect(":memory:")) as _probe:
    SQLITE_VARIABLES = min(32_766, _probe.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
JSON_NULL = Json(None)  # what a JSON column stores for None (not SQL NULL), as INSERT does

# A batch of at least this many records goes through COPY on PostgreSQL; below it the two
# round trips per table of a COPY cost more than the multi-row INSERT they replace.
COPY_MIN_RECORDS = 2


async def insert_records(
    session: AsyncSession,
    records: Sequence[PatientCreate],
    *,
    ids: Sequence[str],
    now: datetime,
    digests: Sequence[str | None] | None = None,
) -> None:
    """Every row of ``records`` in the caller's transaction: all or nothing, never committed here.

    On PostgreSQL a batch is one binary ``COPY ... FROM STDIN`` per table on the session's own
    connection (so inside its transaction), each value passed through its column type's bind
    step first (the identifying fields are encrypted exactly as an INSERT would encrypt them).
    Elsewhere (SQLite) and for a single record: one multi-row INSERT per table (executemany).
    The name terms of the records (``names``: the blind index a name search reads) go with them.
    """
    pairs = list(zip(records, ids, strict=True))
    if not pairs:
        return
    digest_of = dict(zip(ids, digests, strict=True)) if digests is not None else {}
    connection = await session.connection()
    if len(pairs) < COPY_MIN_RECORDS or connection.dialect.name not in ("postgresql", "sqlite"):
        await session.execute(
            insert(patients),
            [patient_row(r, patient_id=i, now=now, digest=digest_of.get(i)) for r, i in pairs],
        )
        children: dict[str, list[dict[str, Any]]] = {name: [] for name in CHILDREN}
        for r, i in pairs:
            for name, rows in child_rows(r, i).items():
                children[name] += rows
        for name, rows in children.items():
            if rows:
                await session.execute(insert(CHILDREN[name]), rows)
        await insert_terms(session, [t for r, i in pairs for t in term_rows(i, r.given_name, r.family_name)])
        return
    driver = (await connection.get_raw_connection()).driver_connection
    write = _copy_or_insert if connection.dialect.name == "postgresql" else _executemany
    # Rows are made while COPY streams them: the server works on the first ones meanwhile.
    first = patient_row(pairs[0][0], patient_id=pairs[0][1], now=now, digest=digest_of.get(pairs[0][1]))
    names = list(first)
    pick = itemgetter(*names)
    rest = (pick(patient_row(r, patient_id=i, now=now, digest=digest_of.get(i))) for r, i in pairs[1:])
    await write(session, driver, patients, names, chain([pick(first)], rest))
    for name, table in CHILDREN.items():
        if not any(getattr(r, name) for r, _ in pairs):
            continue
        # the rows child_rows() makes (a new id, the patient's id, the item's fields), as tuples
        names = ["id", "patient_id", *CHILD_TYPES[name].__struct_fields__]
        items = [(i, item) for r, i in pairs for item in getattr(r, name)]
        values = (
            (child_id, i, *msgspec.structs.astuple(item))
            for child_id, (i, item) in zip(new_ids(len(items)), items, strict=True)
        )
        await write(session, driver, table, names, values)
    terms = (t for r, i in pairs for t in term_rows(i, r.given_name, r.family_name))
    await write(session, driver, name_terms, TERM_COLUMNS, terms)


async def _executemany(
    session: AsyncSession, driver: Any, table: Table, names: Sequence[str], values: Iterable[Sequence[Any]]
) -> None:
    """Write ``values`` (tuples in the order of ``names``) on the SQLite connection ``driver``
    (aiosqlite: one trip to its thread per statement), inside the session's transaction, as
    multi-row INSERTs of as many rows as one statement may bind. Each value goes through its
    column type's bind step for this dialect (encryption, dates as text, JSON), so the rows are
    those an ORM or Core INSERT would store; the per-row statement building and parameter
    dictionaries of a Core ``executemany`` are left out.

    Many rows a statement, not one: the sqlite3 module lets go of the interpreter's lock while
    SQLite works on a statement and takes it back after. Row by row, that is once a row, and
    whenever another thread is busy (the event loop serving requests) each take waits up to the
    interpreter's switch interval (5 ms): 19,800 records (a patient and a condition row each)
    took 191 s beside one busy thread, against 1.2 s as statements of 799 rows (0.9 s either way
    with the interpreter otherwise idle).
    """
    dialect = (await session.connection()).dialect
    if any(c.name not in names and c.default is not None for c in table.columns):
        await session.execute(insert(table), [dict(zip(names, row, strict=True)) for row in values])
        return
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    preparer = dialect.identifier_preparer
    statement = f"INSERT INTO {preparer.format_table(table)} ({', '.join(preparer.quote(n) for n in names)})"
    placeholders = f"({', '.join('?' for _ in names)})"
    rows = list(values)
    if rows and any(step is not None for step in processors):
        columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
        for position, step in enumerate(processors):
            if step is not None:
                columns[position] = _bind_column(step, table.c[names[position]].type, columns[position])
        rows = list(zip(*columns, strict=True))
    per = max(1, SQLITE_VARIABLES // len(names))
    whole = len(rows) // per * per
    if whole:
        await driver.executemany(
            _many_rows(statement, placeholders, per),
            [list(chain.from_iterable(rows[start : start + per])) for start in range(0, whole, per)],
        )
    if whole < len(rows):
        rest = rows[whole:]
        await driver.execute(_many_rows(statement, placeholders, len(rest)), list(chain.from_iterable(rest)))


def _many_rows(head: str, placeholders: str, n: int) -> str:
    return f"{head} VALUES {', '.join([placeholders] * n)}"


def _bind_column(step: Any, column_type: TypeEngine[Any], values: Sequence[Any]) -> list[Any]:
    """``step`` (a column type's bind step) over a column's values, minus the calls that cannot
    change anything: a None the step keeps None (an encrypted field left empty, a missing
    date) stays as it is, and a date or time is written out once however many rows hold it
    (every row's ``created_at``). Encryption is called for every value: a fresh nonce each."""
    if isinstance(column_type, DateTime):  # one object, most often: equal times in two zones differ
        out: list[Any] = []
        last: Any = None
        written = None
        for value in values:
            if value is not last:
                last, written = value, None if value is None else step(value)
            out.append(written)
        return out
    if isinstance(column_type, Date):
        dates = {value: step(value) for value in set(values) if value is not None}
        return [None if value is None else dates[value] for value in values]
    if step(None) is None:
        return [None if value is None else step(value) for value in values]
    return [step(value) for value in values]  # JSON: None is stored as 'null'


class _CopyPlan(msgspec.Struct, frozen=True):
    statement: str
    pg_types: list[str]
    binds: list[tuple[int, Any]]  # (position, the column type's bind step) where it has one


def _pg_type(column_type: TypeEngine[Any]) -> str | None:
    """The PostgreSQL type whose binary format psycopg must write for the column's values."""
    if isinstance(column_type, JSONB):
        return "jsonb"
    if isinstance(column_type, JSON):
        return "json"
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, BigInteger):
        return "int8"
    if isinstance(column_type, SmallInteger):
        return "int2"
    if isinstance(column_type, Integer):
        return "int4"
    if isinstance(column_type, Float):
        precision = column_type.precision
        return "float4" if precision is not None and precision <= 24 else "float8"
    if isinstance(column_type, DateTime):
        return "timestamptz" if column_type.timezone else "timestamp"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, String):  # text and varchar share their binary format
        return "text"
    return None


def _copy_plan(table: Table, names: Sequence[str], dialect: Dialect) -> _CopyPlan | None:
    """How to COPY values of the columns ``names`` (in that order) into ``table``; None when
    an INSERT would do something COPY does not: fill in a Python-side default of a column left
    out, or bind a type that has no binary mapping here."""
    if any(c.name not in names and c.default is not None for c in table.columns):
        return None
    columns: list[Column[Any]] = [table.c[name] for name in names]
    pg_types: list[str] = []
    binds: list[tuple[int, Any]] = []
    for position, column in enumerate(columns):
        column_type: TypeEngine[Any] = column.type
        if isinstance(column_type, TypeDecorator):  # e.g. EncryptedString: encrypt, as INSERT does
            decorator = column_type
            binds.append((position, lambda v, d=decorator: d.process_bind_param(v, dialect)))
            column_type = decorator.impl_instance
        pg_type = _pg_type(column_type)
        if pg_type is None:
            return None
        if isinstance(column_type, JSON) and not column_type.none_as_null:
            binds.append((position, _json_null_as_json))
        pg_types.append(pg_type)
    preparer = dialect.identifier_preparer
    statement = (
        f"COPY {preparer.format_table(table)} "
        f"({', '.join(preparer.quote(c.name) for c in columns)}) FROM STDIN (FORMAT BINARY)"
    )
    return _CopyPlan(statement, pg_types, binds)


def _json_null_as_json(value: Any) -> Any:
    return JSON_NULL if value is None else value


async def _copy_or_insert(
    session: AsyncSession, driver: Any, table: Table, names: Sequence[str], values: Iterable[Sequence[Any]]
) -> None:
    """Write ``values`` (tuples in the order of ``names``) through one binary COPY on the
    psycopg connection ``driver`` (the session's, so its transaction), or an INSERT."""
    plan = _copy_plan(table, names, (await session.connection()).dialect)
    if plan is None:
        await session.execute(insert(table), [dict(zip(names, row, strict=True)) for row in values])
        return
    binds = plan.binds
    async with driver.cursor() as cursor:
        set_json_dumps(msgspec.json.encode, cursor)  # this cursor's JSON values only
        async with cursor.copy(plan.statement) as copy:
            copy.set_types(plan.pg_types)
            for row in values:
                if binds:
                    row = list(row)
                    for position, bind in binds:
                        row[position] = bind(row[position])
                await copy.write_row(row)
