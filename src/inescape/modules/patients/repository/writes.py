"""Changing stored records in the caller's transaction; never commits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from inescape.kernel.ids import new_id
from inescape.modules.patients.api import PatientCreate
from inescape.modules.patients.models import CHILDREN, patients
from inescape.modules.patients.repository.names import replace_terms
from inescape.modules.patients.repository.rows import child_rows, patient_row


async def touch(
    session: AsyncSession,
    patient_id: str,
    values: Mapping[str, Any],
    *,
    now: datetime,
    expected: int | None = None,
) -> int | None:
    """Apply ``values`` and bump the version; None when there is no such (live) patient, or
    (``expected``) when its version is not ``expected`` any more."""
    query = update(patients).where(patients.c.id == patient_id, patients.c.deleted_at.is_(None))
    if expected is not None:
        query = query.where(patients.c.version == expected)
    result = await session.execute(
        query.values(**values, version=patients.c.version + 1, updated_at=now).returning(patients.c.version)
    )
    row = result.first()
    return None if row is None else int(row.version)


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
    await replace_terms(session, patient_id, record.given_name, record.family_name)


async def add_child(session: AsyncSession, patient_id: str, kind: str, item: msgspec.Struct) -> None:
    """One staging, treatment, observation, biomarker or condition row for ``patient_id``."""
    await session.execute(
        insert(CHILDREN[kind]).values(id=new_id(), patient_id=patient_id, **msgspec.structs.asdict(item))
    )


async def replace_children(
    session: AsyncSession, patient_id: str, kind: str, items: list[msgspec.Struct]
) -> None:
    """The rows of ``kind`` (e.g. comorbidities) of ``patient_id`` become ``items``."""
    table = CHILDREN[kind]
    await session.execute(delete(table).where(table.c.patient_id == patient_id))
    if items:
        rows = [{"id": new_id(), "patient_id": patient_id, **msgspec.structs.asdict(i)} for i in items]
        await session.execute(insert(table), rows)


async def update_primary_condition(session: AsyncSession, patient_id: str, values: Mapping[str, Any]) -> None:
    """Change the primary (earliest diagnosed) condition of ``patient_id``."""
    table = CHILDREN["conditions"]
    primary = (
        select(table.c.id)
        .where(table.c.patient_id == patient_id)
        .order_by(table.c.diagnosis_date, table.c.id)
        .limit(1)
        .scalar_subquery()
    )
    await session.execute(update(table).where(table.c.id == primary).values(**values))


async def soft_delete(session: AsyncSession, patient_id: str, *, now: datetime) -> bool:
    """Mark a live record deleted (the row stays, for provenance and audit); False if none."""
    result = await session.execute(
        update(patients)
        .where(patients.c.id == patient_id, patients.c.deleted_at.is_(None))
        .values(deleted_at=now, version=patients.c.version + 1)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
