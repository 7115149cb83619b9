"""Every query of the clinical core; never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import msgspec
from sqlalchemy import Select, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from inescape.infra.crypto import field_cipher
from inescape.kernel.clock import as_utc
from inescape.kernel.ids import new_id
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


def patient_row(record: PatientCreate, *, patient_id: str, now: datetime) -> dict[str, Any]:
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


async def insert_records(
    session: AsyncSession, records: Sequence[PatientCreate], *, ids: Sequence[str], now: datetime
) -> None:
    """Multi-row inserts, one statement per table (executemany), not one ORM object per row."""
    await session.execute(
        insert(patients), [patient_row(r, patient_id=i, now=now) for r, i in zip(records, ids, strict=True)]
    )
    for name, table in CHILDREN.items():
        rows = [row for r, i in zip(records, ids, strict=True) for row in child_rows(r, i)[name]]
        if rows:
            await session.execute(insert(table), rows)


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
