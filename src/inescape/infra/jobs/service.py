"""Job rows: create, read, list, cancel and retry them, and find the ones the queue may have
lost. Every write happens inside the caller's session."""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from inescape.infra.db import Database
from inescape.infra.tables import jobs
from inescape.kernel.clock import Clock, SystemClock, as_utc
from inescape.kernel.errors import Conflict, Invalid, NotFound
from inescape.kernel.ids import is_id, new_id
from inescape.kernel.jobs import UNFINISHED, JobStatus, JobView

Observe = Callable[[str, str], None]  # (kind, status)
ObserveDuration = Callable[[str, str, float], None]  # (kind, outcome, seconds)


class JobNotFound(NotFound):
    pass


def view(row: Row[Any] | Any) -> JobView:
    return JobView(
        id=row.id,
        module=row.module,
        kind=row.kind,
        status=JobStatus(row.status),
        progress=row.progress,
        counts=dict(row.counts or {}),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        error=row.error,
        params=dict(row.params or {}),
        result=row.result,
        owner=row.owner,
        cancel_requested=bool(row.cancel_requested),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        started_at=as_utc(row.started_at),
        finished_at=as_utc(row.finished_at),
    )


@dataclass(frozen=True, slots=True)
class JobPage:
    items: list[JobView]
    next_cursor: str | None


class JobService:
    """Every job query and state change; writes happen inside the caller's session."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock | None = None,
        observe: Observe | None = None,
        observe_duration: ObserveDuration | None = None,
    ) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self.observe = observe or (lambda _kind, _status: None)
        self.observe_duration = observe_duration or (lambda _kind, _outcome, _seconds: None)

    async def create(
        self,
        session: AsyncSession,
        *,
        module: str,
        kind: str,
        queue: str,
        params: Mapping[str, Any],
        owner: str | None = None,
        max_attempts: int = 3,
    ) -> JobView:
        now = self.clock.now()
        job_id = new_id()
        await session.execute(
            insert(jobs).values(
                id=job_id,
                module=module,
                kind=kind,
                queue=queue,
                status=JobStatus.QUEUED,
                progress=0.0,
                counts={},
                attempts=0,
                max_attempts=max_attempts,
                params=dict(params),
                owner=owner,
                cancel_requested=False,
                created_at=now,
                updated_at=now,
                run_after=now,
            )
        )
        self.observe(kind, JobStatus.QUEUED)
        return await self.get(job_id, session=session)

    async def get(
        self,
        job_id: str,
        *,
        module: str | None = None,
        owner: str | None = None,
        session: AsyncSession | None = None,
    ) -> JobView:
        """``owner``: only a job that user submitted is found (another's is 404, as if it did
        not exist, so ids do not leak); None finds anyone's."""
        if not is_id(job_id):
            raise JobNotFound(f"no job {job_id!r}")
        query = select(jobs).where(jobs.c.id == job_id)
        if module is not None:
            query = query.where(jobs.c.module == module)
        if owner is not None:
            query = query.where(jobs.c.owner == owner)
        async with _session(self.db, session) as s:
            row = (await s.execute(query)).first()
        if row is None:
            raise JobNotFound(f"no job {job_id}" + (f" in module {module}" if module else ""))
        return view(row)

    async def list(
        self,
        *,
        module: str | None = None,
        status: JobStatus | None = None,
        kind: str | None = None,
        owner: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        """Newest first; ``cursor`` is the last id of the previous page (ids sort by time)."""
        if cursor is not None and not is_id(cursor):
            raise Invalid("cursor is not a job id", errors=[{"field": "cursor", "message": "invalid"}])
        query = select(jobs).order_by(jobs.c.id.desc()).limit(limit + 1)
        for column, value in (
            (jobs.c.module, module),
            (jobs.c.status, status),
            (jobs.c.kind, kind),
            (jobs.c.owner, owner),
        ):
            if value is not None:
                query = query.where(column == value)
        if cursor:
            query = query.where(jobs.c.id < cursor)
        async with self.db.sessions() as s:
            rows = (await s.execute(query)).all()
        items = [view(r) for r in rows[:limit]]
        return JobPage(items, items[-1].id if len(rows) > limit else None)

    async def cancel(
        self, session: AsyncSession, job_id: str, *, module: str | None = None, owner: str | None = None
    ) -> JobView:
        """A queued job is cancelled at once; a running one is asked to stop at its next
        progress report; a finished one cannot be cancelled. ``owner`` as in ``get``."""
        job = await self.get(job_id, module=module, owner=owner, session=session)
        now = self.clock.now()
        if job.status.finished:
            raise Conflict(
                f"job {job_id} is {job.status} already; only queued or running jobs can be cancelled"
            )
        values: dict[str, Any] = {"cancel_requested": True, "updated_at": now}
        if job.status == JobStatus.QUEUED:
            values |= {"status": JobStatus.CANCELLED, "finished_at": now}
        await session.execute(
            update(jobs).where(jobs.c.id == job_id, jobs.c.status == job.status).values(**values)
        )
        if job.status == JobStatus.QUEUED:
            self.observe(job.kind, JobStatus.CANCELLED)
        return await self.get(job_id, session=session)

    async def retry(
        self, session: AsyncSession, job_id: str, *, module: str | None = None, owner: str | None = None
    ) -> JobView:
        """Queue a failed or cancelled job again, with a fresh set of attempts. ``owner`` as
        in ``get``."""
        job = await self.get(job_id, module=module, owner=owner, session=session)
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise Conflict(f"job {job_id} is {job.status}; only failed or cancelled jobs can be retried")
        now = self.clock.now()
        await session.execute(
            update(jobs)
            .where(jobs.c.id == job_id)
            .values(
                status=JobStatus.QUEUED,
                attempts=0,
                error=None,
                cancel_requested=False,
                finished_at=None,
                run_after=now,
                updated_at=now,
                enqueued_at=None,
            )
        )
        self.observe(job.kind, JobStatus.QUEUED)
        return await self.get(job_id, session=session)

    async def queue_of(self, job_id: str, *, session: AsyncSession) -> str:
        return str(await session.scalar(select(jobs.c.queue).where(jobs.c.id == job_id)))

    async def mark_enqueued(self, job_id: str) -> None:
        async with self.db.sessions() as s, s.begin():
            await s.execute(update(jobs).where(jobs.c.id == job_id).values(enqueued_at=self.clock.now()))

    async def unfinished_counts(self) -> builtins.list[tuple[str, str, int]]:
        """(queue, status, jobs) of the queued and running jobs, every worker's (for /metrics)."""
        query = (
            select(jobs.c.queue, jobs.c.status, func.count())
            .where(jobs.c.status.in_(UNFINISHED))
            .group_by(jobs.c.queue, jobs.c.status)
        )
        async with self.db.sessions() as s:
            return [(r[0], str(r[1]), int(r[2])) for r in (await s.execute(query)).all()]

    async def to_requeue(self, *, startup: bool, stale_after: timedelta) -> builtins.list[tuple[str, str]]:
        """(queue, id) of jobs the queue may have lost: at start-up every unfinished job;
        later, queued jobs never (or long ago) handed to the broker and running jobs whose
        lease expired (their worker died)."""
        now = self.clock.now()
        query = select(jobs.c.queue, jobs.c.id).where(jobs.c.status.in_(UNFINISHED))
        if not startup:
            query = query.where(
                or_(
                    and_(
                        jobs.c.status == JobStatus.QUEUED,
                        or_(jobs.c.enqueued_at.is_(None), jobs.c.enqueued_at < now - stale_after),
                    ),
                    and_(jobs.c.status == JobStatus.RUNNING, jobs.c.lease_until < now),
                )
            )
        async with self.db.sessions() as s:
            return [(r.queue, r.id) for r in (await s.execute(query.order_by(jobs.c.id))).all()]


@contextlib.asynccontextmanager
async def _session(db: Database, session: AsyncSession | None) -> AsyncIterator[AsyncSession]:
    if session is not None:
        yield session
    else:
        async with db.sessions() as s:
            yield s
