"""Jobs as rows: create, read, list, cancel, retry, and run them exactly once in effect.

Running a job: the runner *claims* the row (a conditional UPDATE that only one worker can win,
with a lease token and expiry), renews the lease while the handler works, and fences every
write with the token. A handler's side effects and its checkpoint commit in one transaction
(``JobContext.unit``), so a worker killed mid-job leaves the last committed chunk and its
checkpoint, and the next claim resumes after it: nothing lost, nothing doubled.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from inescape.infra.db import Database
from inescape.infra.health import describe
from inescape.infra.tables import jobs
from inescape.infra.uow import write_outbox
from inescape.kernel.bus import RetryPolicy
from inescape.kernel.clock import Clock, SystemClock, as_utc
from inescape.kernel.errors import Conflict, DomainError, Invalid, NotFound, Unavailable
from inescape.kernel.events import Event
from inescape.kernel.ids import is_id, new_id
from inescape.kernel.jobs import (
    UNFINISHED,
    JobCancelled,
    JobHandler,
    JobStatus,
    JobView,
    RetryLater,
)

log = logging.getLogger("inescape.jobs")

Send = Callable[[str, str, float], Any]  # (queue, job id, delay seconds) -> awaitable
Observe = Callable[[str, str], None]  # (kind, status)


class JobNotFound(NotFound):
    pass


class LeaseLost(Exception):
    """Another worker holds this job now; stop without writing anything more."""


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

    def __init__(self, db: Database, *, clock: Clock | None = None, observe: Observe | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self.observe = observe or (lambda _kind, _status: None)

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
        self, job_id: str, *, module: str | None = None, session: AsyncSession | None = None
    ) -> JobView:
        if not is_id(job_id):
            raise JobNotFound(f"no job {job_id!r}")
        query = select(jobs).where(jobs.c.id == job_id)
        if module is not None:
            query = query.where(jobs.c.module == module)
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

    async def cancel(self, session: AsyncSession, job_id: str, *, module: str | None = None) -> JobView:
        """A queued job is cancelled at once; a running one is asked to stop at its next
        progress report; a finished one cannot be cancelled."""
        job = await self.get(job_id, module=module, session=session)
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

    async def retry(self, session: AsyncSession, job_id: str, *, module: str | None = None) -> JobView:
        """Queue a failed or cancelled job again, with a fresh set of attempts."""
        job = await self.get(job_id, module=module, session=session)
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


class _Unit:
    def __init__(self, session: AsyncSession, counts: dict[str, int]) -> None:
        self.session = session
        self.state: dict[str, Any] | None = None
        self.increments: dict[str, int] = {}
        self.events: list[Event] = []
        self._counts = counts

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def checkpoint(self, state: Mapping[str, Any]) -> None:
        self.state = dict(state)

    def count(self, **increments: int) -> None:
        for key, value in increments.items():
            self.increments[key] = self.increments.get(key, 0) + value


class RunningJob:
    """The ``JobContext`` a handler receives."""

    def __init__(self, runner: JobRunner, row: Any, token: str) -> None:
        self._runner = runner
        self._token = token
        self.job_id: str = row.id
        self.kind: str = row.kind
        self.params: Mapping[str, Any] = dict(row.params or {})
        self.checkpoint: Mapping[str, Any] | None = row.checkpoint
        self.attempt: int = row.attempts
        self.counts: dict[str, int] = dict(row.counts or {})
        self.owner: str | None = row.owner

    def _fenced(self) -> Any:
        return update(jobs).where(jobs.c.id == self.job_id, jobs.c.lease_token == self._token)

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[_Unit]:
        async with self._runner.db.sessions() as session, session.begin():
            unit = _Unit(session, self.counts)
            yield unit
            counts = dict(self.counts)
            for key, value in unit.increments.items():
                counts[key] = counts.get(key, 0) + value
            values: dict[str, Any] = {"counts": counts, "updated_at": self._runner.clock.now()}
            if unit.state is not None:
                values["checkpoint"] = unit.state
            result = await session.execute(self._fenced().values(**values))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise LeaseLost(self.job_id)  # rolls back this unit's side effects too
            await write_outbox(session, unit.events, self._runner.clock.now())
        if unit.events:  # announced only once committed, and only by the lease holder
            await self._runner.bus.deliver(unit.events)
        self.counts = counts
        if unit.state is not None:
            self.checkpoint = unit.state

    async def progress(self, fraction: float, **counts: int) -> None:
        self.counts.update(counts)
        async with self._runner.db.sessions() as s, s.begin():
            result = await s.execute(
                self._fenced()
                .values(
                    progress=max(0.0, min(1.0, fraction)),
                    counts=self.counts,
                    updated_at=self._runner.clock.now(),
                )
                .returning(jobs.c.cancel_requested)
            )
            row = result.first()
        if row is None:
            raise LeaseLost(self.job_id)
        if row.cancel_requested:
            raise JobCancelled(self.job_id)


class JobRunner:
    """Claims and runs one job; owns retries (with backoff), failure and cancellation."""

    def __init__(
        self,
        jobs_service: JobService,
        handlers: Mapping[str, JobHandler],
        *,
        send: Send,
        bus: Any,
        lease: timedelta = timedelta(seconds=30),
        retry: RetryPolicy | None = None,
    ) -> None:
        self.service = jobs_service
        self.db = jobs_service.db
        self.clock = jobs_service.clock
        self.handlers = dict(handlers)
        self.send = send
        self.bus = bus
        self.lease = lease
        self.retry = retry or RetryPolicy(attempts=1, base_delay=2.0, max_delay=300.0)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    async def run(self, job_id: str) -> None:
        claimed = await self._claim(job_id)
        if claimed is None:
            return
        row, token = claimed
        ctx = RunningJob(self, row, token)
        handler = self.handlers.get(row.kind)
        if handler is None:
            await self._finish(ctx, JobStatus.FAILED, error=f"no handler for job kind {row.kind!r}")
            return
        heartbeat = asyncio.create_task(self._heartbeat(ctx))
        try:
            result = await handler(ctx)
        except LeaseLost:
            log.warning("job lease lost; another worker has it", extra={"job_id": job_id})
            return
        except JobCancelled:
            await self._finish(ctx, JobStatus.CANCELLED)
        except (RetryLater, Unavailable) as exc:
            await self._failed_attempt(ctx, row, describe(exc), transient=True)
        except DomainError as exc:
            await self._finish(ctx, JobStatus.FAILED, error=exc.detail)
        except Exception as exc:  # a bug or an unexpected backend error: retry, then fail
            log.exception("job failed", extra={"job_id": job_id, "kind": row.kind})
            await self._failed_attempt(ctx, row, describe(exc), transient=True)
        else:
            await self._finish(ctx, JobStatus.SUCCEEDED, result=dict(result or {}))
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _claim(self, job_id: str) -> tuple[Any, str] | None:
        now = self.clock.now()
        token = f"{self.worker}:{new_id()}"
        claimable = or_(
            and_(
                jobs.c.status == JobStatus.QUEUED,
                jobs.c.cancel_requested.is_(False),
                or_(jobs.c.run_after.is_(None), jobs.c.run_after <= now),
            ),
            and_(jobs.c.status == JobStatus.RUNNING, jobs.c.lease_until < now),
        )
        async with self.db.sessions() as s, s.begin():
            result = await s.execute(
                update(jobs)
                .where(jobs.c.id == job_id, claimable)
                .values(
                    status=JobStatus.RUNNING,
                    attempts=jobs.c.attempts + 1,
                    lease_token=token,
                    lease_until=now + self.lease,
                    updated_at=now,
                    started_at=func.coalesce(jobs.c.started_at, now),
                )
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                row = (await s.execute(select(jobs).where(jobs.c.id == job_id))).first()
                self.service.observe(row.kind, JobStatus.RUNNING)  # type: ignore[union-attr]
                return row, token
            row = (await s.execute(select(jobs).where(jobs.c.id == job_id))).first()
        await self._not_claimed(job_id, row, now)
        return None

    async def _not_claimed(self, job_id: str, row: Any, now: datetime) -> None:
        """Someone else has it, it is done, or it is not due yet: say when to look again."""
        if row is None or JobStatus(row.status).finished:
            return
        if row.status == JobStatus.RUNNING and row.lease_until is not None:
            wait = (as_utc(row.lease_until) - now).total_seconds() + 0.5
            await self.send(row.queue, job_id, max(wait, 0.5))
        elif row.status == JobStatus.QUEUED and row.cancel_requested:
            async with self.db.sessions() as s, s.begin():
                await s.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(status=JobStatus.CANCELLED, finished_at=now, updated_at=now)
                )
        elif row.status == JobStatus.QUEUED and row.run_after is not None:
            await self.send(row.queue, job_id, max((as_utc(row.run_after) - now).total_seconds(), 0.1))

    async def _heartbeat(self, ctx: RunningJob) -> None:
        interval = max(self.lease.total_seconds() / 3, 0.2)
        while True:
            await asyncio.sleep(interval)
            async with self.db.sessions() as s, s.begin():
                await s.execute(ctx._fenced().values(lease_until=self.clock.now() + self.lease))

    async def _failed_attempt(self, ctx: RunningJob, row: Any, error: str, *, transient: bool) -> None:
        if not transient or row.attempts >= row.max_attempts:
            await self._finish(ctx, JobStatus.FAILED, error=f"{error} (after {row.attempts} attempt(s))")
            return
        delay = self.retry.delay(row.attempts) if self.retry.base_delay else 0.0
        now = self.clock.now()
        async with self.db.sessions() as s, s.begin():
            result = await s.execute(
                ctx._fenced().values(
                    status=JobStatus.QUEUED,
                    error=error,
                    lease_token=None,
                    lease_until=None,
                    run_after=now + timedelta(seconds=delay),
                    updated_at=now,
                    enqueued_at=now,
                )
            )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            self.service.observe(row.kind, "retried")
            log.info(
                "job attempt failed; retrying",
                extra={"job_id": row.id, "attempt": row.attempts, "delay_s": round(delay, 2), "error": error},
            )
            await self.send(row.queue, row.id, delay)

    async def _finish(
        self,
        ctx: RunningJob,
        status: JobStatus,
        *,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        now = self.clock.now()
        values: dict[str, Any] = {
            "status": status,
            "error": error,
            "finished_at": now,
            "updated_at": now,
            "lease_token": None,
            "lease_until": None,
        }
        if status == JobStatus.SUCCEEDED:
            values |= {"progress": 1.0, "result": result}
        async with self.db.sessions() as s, s.begin():
            done = await s.execute(ctx._fenced().values(**values))
        if done.rowcount == 1:  # type: ignore[attr-defined]
            self.service.observe(ctx.kind, status)
            log.info(
                "job finished",
                extra={"job_id": ctx.job_id, "kind": ctx.kind, "status": str(status), "error": error},
            )
