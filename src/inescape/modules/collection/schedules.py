"""Scheduled collections: a stored collection request and a cron expression.

The worker looks for due schedules every ``TICK_S`` seconds. A due time is claimed with a
conditional UPDATE (``next_run_at`` still the value read) in the same transaction as the
``collection.collect`` job it submits, so however many workers look, one job is made per
due time, and a crash between the two leaves neither. The next due time is counted from
now: times missed while nothing ran give one job on start, not one per missed time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, insert, select, update

from inescape.infra.db import Database
from inescape.infra.platform import Jobs
from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock, as_utc
from inescape.kernel.errors import Invalid, NotFound
from inescape.kernel.ids import is_id, new_id
from inescape.modules.collection.connectors.base import get_connector
from inescape.modules.collection.cron import parse_cron
from inescape.modules.collection.models import schedules
from inescape.modules.collection.schemas import CollectionRequest, Schedule, ScheduleCreate, ScheduleList
from inescape.modules.collection.secrets import seal_secrets
from inescape.modules.collection.service import JOB_KIND, CollectionService, check_request, job_params

log = logging.getLogger("inescape.modules.collection")

TICK_S = 10.0
DUE_BATCH = 100


class ScheduleNotFound(NotFound):
    pass


def view(row: Any) -> Schedule:
    return Schedule(
        id=row.id,
        connector=row.connector,
        source=row.source,
        config=dict(row.config),
        research_only=bool(row.research_only),
        cron=row.cron,
        enabled=bool(row.enabled),
        next_run_at=as_utc(row.next_run_at) if row.enabled else None,
        last_run_at=as_utc(row.last_run_at),
        last_job_id=row.last_job_id,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
    )


def _request_of(data: ScheduleCreate) -> CollectionRequest:
    return CollectionRequest(
        connector=data.connector, source=data.source, config=data.config, research_only=data.research_only
    )


class ScheduleService:
    """Collection schedules (the ``collection_schedules`` table) and submitting what is due."""

    def __init__(
        self,
        *,
        db: Database,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        jobs: Jobs,
        collection: CollectionService,
    ) -> None:
        self._db = db
        self._uow = uow
        self.clock = clock
        self._jobs = jobs
        self._collection = collection

    async def create(
        self, *, data: ScheduleCreate, owner: str | None, uploads_of: str | None = None
    ) -> Schedule:
        """Check everything a job request is checked for, and the cron expression, before
        writing anything: 404 for an unknown connector or upload (or, with ``uploads_of``,
        another user's upload), 422 naming the field."""
        request = _request_of(data)
        check_request(request)
        cron = parse_cron(data.cron)
        await self._collection.check(request=request, uploads_of=uploads_of)
        now = self.clock.now()
        schedule_id = new_id()
        row = {
            "id": schedule_id,
            "connector": data.connector,
            "source": data.source,
            "config": seal_secrets(get_connector(data.connector), data.config),
            "research_only": data.research_only,
            "cron": cron.expression,
            "enabled": data.enabled,
            "next_run_at": cron.next_after(now),
            "created_by": owner,
            "created_at": now,
            "updated_at": now,
        }
        async with self._uow() as uow:
            await uow.session.execute(insert(schedules).values(**row))
        return await self.get(schedule_id=schedule_id)

    async def get(self, *, schedule_id: str, owner: str | None = None) -> Schedule:
        """``owner``: only a schedule that user made is found (another's is 404, as if it did
        not exist); None finds anyone's."""
        if is_id(schedule_id):
            query = select(schedules).where(schedules.c.id == schedule_id)
            if owner is not None:
                query = query.where(schedules.c.created_by == owner)
            async with self._db.sessions() as s:
                row = (await s.execute(query)).first()
            if row is not None:
                return view(row)
        raise ScheduleNotFound(f"no schedule {schedule_id!r}")

    async def list_schedules(
        self, *, limit: int, cursor: str | None, owner: str | None = None
    ) -> ScheduleList:
        """Newest first; ``cursor`` is the last id of the previous page (ids sort by time);
        ``owner``: only that user's (None: everyone's)."""
        if cursor is not None and not is_id(cursor):
            raise Invalid("cursor is not a schedule id", errors=[{"field": "cursor", "message": "invalid"}])
        query = select(schedules).order_by(schedules.c.id.desc()).limit(limit + 1)
        if owner is not None:
            query = query.where(schedules.c.created_by == owner)
        if cursor:
            query = query.where(schedules.c.id < cursor)
        async with self._db.sessions() as s:
            rows = (await s.execute(query)).all()
        items = [view(r) for r in rows[:limit]]
        return ScheduleList(items=items, next_cursor=items[-1].id if len(rows) > limit else None)

    async def remove(self, *, schedule_id: str, owner: str | None = None) -> Schedule:
        found = await self.get(schedule_id=schedule_id, owner=owner)
        async with self._uow() as uow:
            await uow.session.execute(delete(schedules).where(schedules.c.id == schedule_id))
        return found

    async def run_due(self) -> list[str]:
        """Submit a job for each schedule due now that this process claims; their ids."""
        now = self.clock.now()
        query = (
            select(schedules)
            .where(schedules.c.enabled.is_(True), schedules.c.next_run_at <= now)
            .order_by(schedules.c.next_run_at)
            .limit(DUE_BATCH)
        )
        async with self._db.sessions() as s:
            rows = (await s.execute(query)).all()
        submitted = []
        for row in rows:
            job_id = await self._claim(row, now)
            if job_id is not None:
                submitted.append(job_id)
        return submitted

    async def tick(self) -> None:
        """The worker's periodic work (``Periodic.run``)."""
        await self.run_due()

    async def _claim(self, row: Any, now: datetime) -> str | None:
        due = as_utc(row.next_run_at)
        following = parse_cron(row.cron).next_after(max(now, due))
        async with self._uow() as uow:
            claimed: CursorResult[Any] = await uow.session.execute(  # type: ignore[assignment]
                update(schedules)
                .where(
                    schedules.c.id == row.id,
                    schedules.c.enabled.is_(True),
                    schedules.c.next_run_at == row.next_run_at,  # unchanged since read: ours to take
                )
                .values(next_run_at=following, last_run_at=due, updated_at=now)
            )
            if claimed.rowcount != 1:
                return None  # another worker took this due time, or the schedule changed
            request = CollectionRequest(
                connector=row.connector,
                source=row.source,
                config=dict(row.config),
                research_only=bool(row.research_only),
            )
            job = await self._jobs.submit(
                module="collection", kind=JOB_KIND, params=job_params(request), owner=row.created_by, uow=uow
            )
            await uow.session.execute(
                update(schedules).where(schedules.c.id == row.id).values(last_job_id=job.id)
            )
        log.info("scheduled collection submitted", extra={"schedule_id": row.id, "job_id": job.id})
        return str(job.id)
