"""What a running job's handler holds: ``RunningJob`` (the ``JobContext``), whose every write
is fenced by the lease token, and the unit in which side effects and checkpoint commit together."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from inescape.infra.tables import jobs
from inescape.infra.uow import write_outbox
from inescape.kernel.events import Event
from inescape.kernel.jobs import JobCancelled

if TYPE_CHECKING:
    from inescape.infra.jobs.runner import JobRunner


class LeaseLost(Exception):
    """Another worker holds this job now; stop without writing anything more."""


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
            now = self._runner.clock.now()
            # a committed unit proves the holder alive: the lease runs from here, so a heartbeat
            # kept waiting behind a long unit (SQLite has one writer) does not lose the job
            values: dict[str, Any] = {
                "counts": counts,
                "updated_at": now,
                "lease_until": now + self._runner.lease,
            }
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
                    lease_until=self._runner.clock.now() + self._runner.lease,
                )
                .returning(jobs.c.cancel_requested)
            )
            row = result.first()
        if row is None:
            raise LeaseLost(self.job_id)
        if row.cancel_requested:
            raise JobCancelled(self.job_id)
