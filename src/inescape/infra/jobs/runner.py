"""The runner: claim a job's row (a conditional UPDATE only one worker can win), renew the
lease while the handler works, and record the outcome: success, cancellation, a failed
attempt retried with backoff, or failure."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update

from inescape.infra.health import describe
from inescape.infra.jobs.context import LeaseLost, RunningJob
from inescape.infra.jobs.service import JobService
from inescape.infra.tables import jobs
from inescape.kernel.bus import RetryPolicy
from inescape.kernel.clock import as_utc
from inescape.kernel.errors import DomainError, Unavailable
from inescape.kernel.ids import new_id
from inescape.kernel.jobs import JobCancelled, JobHandler, JobStatus, RetryLater

log = logging.getLogger("inescape.jobs")

Send = Callable[[str, str, float], Any]  # (queue, job id, delay seconds) -> awaitable


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
        began, outcome = time.monotonic(), "failed"
        try:
            result = await handler(ctx)
        except LeaseLost:
            outcome = "lease_lost"
            log.warning("job lease lost; another worker has it", extra={"job_id": job_id})
            return
        except JobCancelled:
            outcome = "cancelled"
            await self._finish(ctx, JobStatus.CANCELLED)
        except (RetryLater, Unavailable) as exc:
            outcome = await self._failed_attempt(ctx, row, describe(exc), transient=True)
        except DomainError as exc:
            await self._finish(ctx, JobStatus.FAILED, error=exc.detail)
        except ImportError as exc:  # missing from this install: every attempt would fail the same way
            log.error("job needs a module this worker lacks", extra={"job_id": job_id, "kind": row.kind})
            error = f"{describe(exc)}: not installed on this worker; install it, then retry the job"
            await self._finish(ctx, JobStatus.FAILED, error=error)
        except Exception as exc:  # a bug or an unexpected backend error: retry, then fail
            log.exception("job failed", extra={"job_id": job_id, "kind": row.kind})
            outcome = await self._failed_attempt(ctx, row, describe(exc), transient=True)
        else:
            outcome = "succeeded"
            await self._finish(ctx, JobStatus.SUCCEEDED, result=dict(result or {}))
        finally:
            self.service.observe_duration(row.kind, outcome, time.monotonic() - began)
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

    async def _failed_attempt(self, ctx: RunningJob, row: Any, error: str, *, transient: bool) -> str:
        """Retry the job later, or fail it after its last attempt; which of the two."""
        if not transient or row.attempts >= row.max_attempts:
            await self._finish(ctx, JobStatus.FAILED, error=f"{error} (after {row.attempts} attempt(s))")
            return "failed"
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
        return "retried"

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
