"""Reading records back: one whole record, list rows, and the list's filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import msgspec
from sqlalchemy import Select, and_, bindparam, exists, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from inescape.kernel.clock import as_utc
from inescape.modules.patients.api import (
    Outcome,
    PatientRecord,
    PatientSummary,
    RiskFactors,
    SurgicalFitness,
)
from inescape.modules.patients.models import CHILDREN, biomarkers, patients, staging, treatments
from inescape.modules.patients.repository.names import having_terms
from inescape.modules.patients.repository.rows import CHILD_TYPES, lookup_index


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


async def is_live(session: AsyncSession, patient_id: str) -> bool:
    """Whether ``patient_id`` names a patient that is not deleted."""
    query = select(patients.c.id).where(patients.c.id == patient_id, patients.c.deleted_at.is_(None))
    return (await session.execute(query)).first() is not None


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
            progression_date=row.progression_date,
        )
    fitness = None
    if row.fit_for_surgery is not None:
        fitness = SurgicalFitness(
            fit=row.fit_for_surgery,
            assessed_by=row.fitness_assessed_by,
            assessed_on=row.fitness_assessed_on,
            note=row.fitness_note,
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
        fitness_for_surgery=fitness,
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
        given_name=row.given_name,
        family_name=row.family_name,
        mrn=row.mrn,
    )


def stage_group_of(scheme: str) -> ColumnElement[Any]:
    """The patient's latest stage group assessed under ``scheme``."""
    return (
        select(staging.c.stage_group)
        .where(staging.c.patient_id == patients.c.id, staging.c.kind == scheme)
        .order_by(staging.c.assessed_on.desc(), staging.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _one_of(column: ColumnElement[Any], value: Any) -> ColumnElement[bool]:
    """A filter's value, or one of its values (a list: OR within the field)."""
    if isinstance(value, list | tuple | set | frozenset):
        return column.in_(list(value))
    equal: ColumnElement[bool] = column == value
    return equal


def _had(table: Any, condition: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(table.c.patient_id == patients.c.id, condition)


def _biomarker_results(values: Any) -> ColumnElement[bool]:
    pairs = [str(v).partition(":") for v in (values if isinstance(values, list | tuple) else [values])]
    return or_(
        false(),
        *[and_(biomarkers.c.kind == kind.lower(), biomarkers.c.value == result) for kind, _, result in pairs],
    )


def filtered(filters: Mapping[str, Any], *, today: date) -> Select[Any]:
    """The live records ``filters`` select: each field one value or a list of them (OR within
    a field, AND across fields); ``treatment`` and ``biomarker`` select patients with at least
    one such treatment kind or ``KIND:value`` result; with ``scheme``, ``stage_group`` reads
    that staging's latest stage group."""
    query = select(patients).where(patients.c.deleted_at.is_(None))
    for name in ("sex", "histology", "location", "vital_status", "origin", "source"):
        if filters.get(name) is not None:
            query = query.where(_one_of(patients.c[name], filters[name]))
    if filters.get("stage_group") is not None:
        scheme = filters.get("scheme")
        column = stage_group_of(scheme) if scheme else patients.c.stage_group
        query = query.where(_one_of(column, filters["stage_group"]))
    if filters.get("treatment") is not None:
        query = query.where(_had(treatments, _one_of(treatments.c.kind, filters["treatment"])))
    if filters.get("biomarker") is not None:
        query = query.where(_had(biomarkers, _biomarker_results(filters["biomarker"])))
    if filters.get("min_age") is not None:
        query = query.where(patients.c.birth_year <= today.year - filters["min_age"])
    if filters.get("max_age") is not None:
        query = query.where(patients.c.birth_year >= today.year - filters["max_age"] - 1)
    if filters.get("diagnosed_from") is not None:
        query = query.where(patients.c.diagnosis_date >= filters["diagnosed_from"])
    if filters.get("diagnosed_to") is not None:
        query = query.where(patients.c.diagnosis_date <= filters["diagnosed_to"])
    return _searched(query, filters)


def _searched(query: Select[Any], filters: Mapping[str, Any]) -> Select[Any]:
    """``query`` narrowed by the list's searches: MRN, id, and a name search's terms."""
    if filters.get("mrn") is not None:  # the blind index: the MRN itself is stored encrypted
        query = query.where(patients.c.mrn_index == lookup_index(filters["mrn"], "mrn"))
    if filters.get("id") is not None:
        query = query.where(patients.c.id == filters["id"])
    if filters.get("name_terms"):  # records holding every one of these name terms
        query = query.where(*having_terms(filters["name_terms"]))
    return query


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


async def page(
    session: AsyncSession,
    filters: Mapping[str, Any],
    *,
    today: date,
    limit: int,
    after: str | None,
    descending: bool,
) -> list[PatientSummary]:
    """Up to ``limit`` list rows in id (creation) order, those past the cursor id ``after``."""
    query = filtered(filters, today=today)
    if after:
        query = query.where(patients.c.id < after if descending else patients.c.id > after)
    order = patients.c.id.desc() if descending else patients.c.id.asc()
    rows = (await session.execute(query.order_by(order).limit(limit))).all()
    return [summary_of(r) for r in rows]


async def matching_ids(session: AsyncSession, filters: Mapping[str, Any], *, today: date) -> list[str]:
    """The ids of the live records ``filters`` selects, in id order."""
    query = filtered(filters, today=today).with_only_columns(patients.c.id).order_by(patients.c.id)
    return list((await session.scalars(query)).all())


# --- the research id: stamped, then sorted and sought by --------------------------------
async def unstamped(session: AsyncSession, *, limit: int) -> list[str]:
    """Up to ``limit`` ids of live records that carry no research id yet."""
    query = (
        select(patients.c.id)
        .where(patients.c.research_id.is_(None), patients.c.deleted_at.is_(None))
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def one_stamped(session: AsyncSession) -> tuple[str, str] | None:
    """Some record's (id, stored research id), to check the stamps against the current key."""
    query = select(patients.c.id, patients.c.research_id).where(patients.c.research_id.is_not(None)).limit(1)
    row = (await session.execute(query)).first()
    return None if row is None else (row.id, row.research_id)


async def stamp(session: AsyncSession, research_ids: Mapping[str, str]) -> None:
    """Store {patient id: research id} (a statement per row, sent as one batch)."""
    if research_ids:
        await session.execute(
            update(patients).where(patients.c.id == bindparam("pid")).values(research_id=bindparam("rid")),
            [{"pid": k, "rid": v} for k, v in research_ids.items()],
        )


async def unstamp_all(session: AsyncSession) -> None:
    await session.execute(update(patients).values(research_id=None))


async def research_page(
    session: AsyncSession,
    filters: Mapping[str, Any],
    *,
    today: date,
    limit: int,
    after: str | None,
    descending: bool,
) -> list[tuple[str, PatientSummary]]:
    """Up to ``limit`` (research id, list row) in research-id order, past the research id ``after``."""
    query = filtered(filters, today=today).where(patients.c.research_id.is_not(None))
    rid = patients.c.research_id
    if after:
        query = query.where(rid < after if descending else rid > after)
    rows = (await session.execute(query.order_by(rid.desc() if descending else rid.asc()).limit(limit))).all()
    return [(r.research_id, summary_of(r)) for r in rows]


async def by_research_id(session: AsyncSession, research_id: str) -> str | None:
    """The live record stamped with ``research_id``."""
    query = select(patients.c.id).where(
        patients.c.research_id == research_id, patients.c.deleted_at.is_(None)
    )
    return (await session.scalars(query.limit(1))).first()
