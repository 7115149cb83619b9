"""Saved cohorts: a name and a definition (the list's filters as a document, checked when
saved), applied whenever the cohort is used (``cohort=<id>``, training, FHIR export), so it
follows the records as they change. Any reader of patient data may use a saved cohort; its
creator or an administrator may delete it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import delete, insert, select

from inescape.infra.db import Database
from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock, as_utc
from inescape.kernel.errors import Invalid, NotFound
from inescape.kernel.ids import is_id, new_id
from inescape.modules.patients import filters as checks
from inescape.modules.patients.models import cohorts


class CohortNotFound(NotFound):
    """No saved cohort has this id."""


class CohortRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    description: str | None
    filters: dict[str, Any]
    created_by: str | None
    created_at: datetime


def _row(r: Any) -> CohortRow:
    return CohortRow(
        id=r.id,
        name=r.name,
        description=r.description,
        filters=dict(r.filters),
        created_by=r.created_by,
        created_at=as_utc(r.created_at),
    )


class SavedCohorts:
    def __init__(self, *, db: Database, uow: Callable[[], UnitOfWork], clock: Clock) -> None:
        self._db = db
        self._uow = uow
        self._clock = clock

    async def create(
        self, *, name: str, description: str | None, filters: Mapping[str, Any], created_by: str | None
    ) -> CohortRow:
        """Keep a cohort whose ``filters`` were checked (``filters.definition``)."""
        row = CohortRow(
            id=new_id(),
            name=name.strip() or name,
            description=description,
            filters=dict(filters),
            created_by=created_by,
            created_at=self._clock.now(),
        )
        async with self._uow() as uow:
            await uow.session.execute(insert(cohorts).values(**msgspec.structs.asdict(row)))
        return row

    async def get(self, cohort_id: str) -> CohortRow:
        if not is_id(cohort_id):
            raise CohortNotFound(f"no saved cohort {cohort_id!r}")
        async with self._db.sessions() as session:
            found = (await session.execute(select(cohorts).where(cohorts.c.id == cohort_id))).first()
        if found is None:
            raise CohortNotFound(f"no saved cohort {cohort_id!r}")
        return _row(found)

    async def filters_of(self, cohort_id: str) -> dict[str, Any]:
        """The saved cohort's filters, checked again (the vocabulary may have changed since)."""
        return checks.definition((await self.get(cohort_id)).filters)

    async def page(self, *, limit: int, cursor: str | None) -> tuple[list[CohortRow], str | None]:
        """Newest first; the cursor is the last id of the page before."""
        if cursor is not None and not is_id(cursor):
            raise Invalid(
                "cursor is not one this list gave (use the previous page's next_cursor)",
                errors=[{"field": "cursor", "message": "invalid"}],
            )
        query = select(cohorts).order_by(cohorts.c.id.desc()).limit(limit + 1)
        if cursor is not None:
            query = query.where(cohorts.c.id < cursor)
        async with self._db.sessions() as session:
            rows = [_row(r) for r in (await session.execute(query)).all()]
        items = rows[:limit]
        return items, (items[-1].id if len(rows) > limit else None)

    async def delete(self, cohort_id: str) -> None:
        async with self._uow() as uow:
            await uow.session.execute(delete(cohorts).where(cohorts.c.id == cohort_id))


__all__ = ["CohortNotFound", "CohortRow", "SavedCohorts"]
