"""Every query of the clinical core; never commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
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
    Select,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger, SmallInteger, TypeDecorator, TypeEngine

from inescape.infra.crypto import field_cipher
from inescape.kernel.clock import as_utc
from inescape.kernel.ids import new_id, new_ids
from inescape.modules.patients.models import CHILDREN, patients
from inescape.modules.patients.schemas import (
    Biomarker,
    Condition,
    Observation,
    Outcome,
    PatientCreate,
    PatientRecord,
    PatientSummary,
    RiskFactors,
    Staging,
    Treatment,
)

CHILD_TYPES: dict[str, type[msgspec.Struct]] = {
    "conditions": Condition,
    "staging": Staging,
    "biomarkers": Biomarker,
    "treatments": Treatment,
    "observations": Observation,
}
STAGE_ORDER = {"post_neoadjuvant": 3, "pathological": 2, "clinical": 1}
JSON_NULL = Json(None)  # what a JSON column stores for None (not SQL NULL), as INSERT does


def lookup_index(value: str, column: str) -> str:
    return field_cipher().blind_index(value, context=f"patients.{column}")


def summary_columns(record: PatientCreate) -> dict[str, Any]:
    """The primary condition's and the latest staging's facts, kept on the patient row."""
    first = min(record.conditions, key=lambda c: c.diagnosis_date, default=None)
    stage = max(record.staging, key=lambda s: (s.assessed_on, STAGE_ORDER[s.kind]), default=None)
    return {
        "histology": first.histology if first else None,
        "location": first.location if first else None,
        "diagnosis_date": first.diagnosis_date if first else None,
        "stage_group": stage.stage_group if stage else None,
    }


def outcome_columns(outcome: Outcome | None) -> dict[str, Any]:
    if outcome is None:
        return dict.fromkeys(
            (
                "vital_status",
                "last_follow_up",
                "death_date",
                "cause_of_death",
                "recurrence_date",
                "recurrence_site",
            )
        )
    return msgspec.structs.asdict(outcome)


def patient_row(
    record: PatientCreate, *, patient_id: str, now: datetime, digest: str | None = None
) -> dict[str, Any]:
    row = {
        "id": patient_id,
        "version": 1,
        "sex": record.sex,
        "birth_date": record.birth_date.isoformat(),
        "birth_year": record.birth_date.year,
        "given_name": record.given_name,
        "family_name": record.family_name,
        "mrn": record.mrn,
        "mrn_index": lookup_index(record.mrn, "mrn") if record.mrn else None,
        "national_id": record.national_id,
        "national_id_index": lookup_index(record.national_id, "national_id") if record.national_id else None,
        "address": record.address,
        "phone": record.phone,
        "email": record.email,
        "ethnicity": record.ethnicity,
        "country": record.country,
        "province": record.province,
        "origin": record.origin,
        "source": record.source,
        "source_record_id": record.source_record_id,
        "source_digest": digest,
        "synthetic_risk": record.synthetic_risk,
        "risk_factors": msgspec.to_builtins(record.risk_factors),
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }
    return row | summary_columns(record) | outcome_columns(record.outcome)


def child_rows(record: PatientCreate, patient_id: str) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in CHILDREN:
        items = getattr(record, name)
        rows[name] = [
            {"id": new_id(), "patient_id": patient_id, **msgspec.structs.asdict(item)} for item in items
        ]
    return rows


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
    """
    pairs = list(zip(records, ids, strict=True))
    if not pairs:
        return
    digest_of = dict(zip(ids, digests, strict=True)) if digests is not None else {}
    connection = await session.connection()
    if connection.dialect.name != "postgresql" or len(pairs) < COPY_MIN_RECORDS:
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
        return
    driver = (await connection.get_raw_connection()).driver_connection
    # Rows are made while COPY streams them: the server works on the first ones meanwhile.
    first = patient_row(pairs[0][0], patient_id=pairs[0][1], now=now, digest=digest_of.get(pairs[0][1]))
    names = list(first)
    pick = itemgetter(*names)
    rest = (pick(patient_row(r, patient_id=i, now=now, digest=digest_of.get(i))) for r, i in pairs[1:])
    await _copy_or_insert(session, driver, patients, names, chain([pick(first)], rest))
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
        await _copy_or_insert(session, driver, table, names, values)


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


async def load(session: AsyncSession, patient_id: str) -> PatientRecord | None:
    row = (
        await session.execute(
            select(patients).where(patients.c.id == patient_id, patients.c.deleted_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    children: dict[str, list[Any]] = {}
    for name, table in CHILDREN.items():
        found = (await session.execute(select(table).where(table.c.patient_id == patient_id))).all()
        children[name] = [
            msgspec.convert(
                {str(k): v for k, v in r._asdict().items() if k not in ("id", "patient_id")},
                CHILD_TYPES[name],
            )
            for r in found
        ]
    return record_of(row, children)


def record_of(row: Any, children: Mapping[str, list[Any]]) -> PatientRecord:
    outcome = None
    if row.vital_status is not None:
        outcome = Outcome(
            vital_status=row.vital_status,
            last_follow_up=row.last_follow_up,
            death_date=row.death_date,
            cause_of_death=row.cause_of_death,
            recurrence_date=row.recurrence_date,
            recurrence_site=row.recurrence_site,
        )
    return PatientRecord(
        id=row.id,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        sex=row.sex,
        birth_date=date.fromisoformat(row.birth_date),
        given_name=row.given_name,
        family_name=row.family_name,
        mrn=row.mrn,
        national_id=row.national_id,
        ethnicity=row.ethnicity,
        country=row.country,
        province=row.province,
        address=row.address,
        phone=row.phone,
        email=row.email,
        origin=row.origin,
        source=row.source,
        source_record_id=row.source_record_id,
        synthetic_risk=row.synthetic_risk,
        risk_factors=msgspec.convert(row.risk_factors, RiskFactors),
        outcome=outcome,
        **children,
    )


def summary_of(row: Any) -> PatientSummary:
    return PatientSummary(
        id=row.id,
        sex=row.sex,
        birth_year=row.birth_year,
        origin=row.origin,
        source=row.source,
        histology=row.histology,
        location=row.location,
        stage_group=row.stage_group,
        diagnosis_date=row.diagnosis_date,
        vital_status=row.vital_status,
        created_at=as_utc(row.created_at),
    )


def filtered(filters: Mapping[str, Any], *, today: date) -> Select[Any]:
    query = select(patients).where(patients.c.deleted_at.is_(None))
    for name in ("sex", "histology", "location", "stage_group", "vital_status", "origin", "source"):
        if filters.get(name) is not None:
            query = query.where(patients.c[name] == filters[name])
    if filters.get("min_age") is not None:
        query = query.where(patients.c.birth_year <= today.year - filters["min_age"])
    if filters.get("max_age") is not None:
        query = query.where(patients.c.birth_year >= today.year - filters["max_age"] - 1)
    if filters.get("diagnosed_from") is not None:
        query = query.where(patients.c.diagnosis_date >= filters["diagnosed_from"])
    if filters.get("diagnosed_to") is not None:
        query = query.where(patients.c.diagnosis_date <= filters["diagnosed_to"])
    if filters.get("mrn") is not None:
        query = query.where(patients.c.mrn_index == lookup_index(filters["mrn"], "mrn"))
    return query


async def touch(
    session: AsyncSession, patient_id: str, values: Mapping[str, Any], *, now: datetime
) -> int | None:
    """Apply ``values`` and bump the version; None when there is no such (live) patient."""
    result = await session.execute(
        update(patients)
        .where(patients.c.id == patient_id, patients.c.deleted_at.is_(None))
        .values(**values, version=patients.c.version + 1, updated_at=now)
        .returning(patients.c.version)
    )
    row = result.first()
    return None if row is None else int(row.version)


class SourceRow(msgspec.Struct, frozen=True):
    patient_id: str
    digest: str | None
    deleted: bool


async def find_by_source(session: AsyncSession, source: str, ids: Sequence[str]) -> dict[str, SourceRow]:
    """The stored real records of ``source`` with these source ids (deleted ones too), by id."""
    if not ids:
        return {}
    query = select(
        patients.c.id, patients.c.source_record_id, patients.c.source_digest, patients.c.deleted_at
    ).where(patients.c.origin == "real", patients.c.source == source, patients.c.source_record_id.in_(ids))
    rows = (await session.execute(query)).all()
    return {r.source_record_id: SourceRow(r.id, r.source_digest, r.deleted_at is not None) for r in rows}


async def replace_record(
    session: AsyncSession, patient_id: str, record: PatientCreate, *, digest: str, now: datetime
) -> None:
    """The whole record in place of the stored one (same id, version bumped, children anew)."""
    row = patient_row(record, patient_id=patient_id, now=now, digest=digest)
    for kept in ("id", "version", "created_at", "deleted_at"):
        row.pop(kept)
    await session.execute(
        update(patients).where(patients.c.id == patient_id).values(**row, version=patients.c.version + 1)
    )
    children = child_rows(record, patient_id)
    for name, table in CHILDREN.items():
        await session.execute(delete(table).where(table.c.patient_id == patient_id))
        rows = children[name]
        if rows:
            await session.execute(insert(table), rows)
