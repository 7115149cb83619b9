"""What a running job's handler holds: ``RunningJob`` (the ``JobContext``), whose every write
is fenced by the lease token, and the unit in which side effects and checkpoint commit together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
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
        self.change: Callable[[Mapping[str, Any] | None], Mapping[str, Any]] | None = None
        self.increments: dict[str, int] = {}
        self.events: list[Event] = []
        self._counts = counts

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def checkpoint(self, state: Mapping[str, Any]) -> None:
        self.state = dict(state)

    def checkpoint_with(self, change: Callable[[Mapping[str, Any] | None], Mapping[str, Any]]) -> None:
        """The checkpoint as ``change`` makes it of the job's checkpoint when this unit commits
        (for units that run at once: each adds its own part to what the others committed)."""
        self.change = change

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
        # the job row's counts and checkpoint are written by one unit (or progress) at a time:
        # only the lease holder writes them, so this process's copy is the stored one
        self._row = asyncio.Lock()

    def _fenced(self) -> Any:
        return update(jobs).where(jobs.c.id == self.job_id, jobs.c.lease_token == self._token)

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[_Unit]:
        """A transaction whose side effects commit with the job's counts and checkpoint. Units
        may run at once (each on its own connection): their work overlaps, and the job row's
        counts and checkpoint are written by one at a time, each over the last committed."""
        # SQLite has one writer: a unit holds it from its first write, so it takes its turn at
        # the job row before it starts (else it could wait for progress, waiting for it)
        whole = self._runner.db.backend == "sqlite"
        async with contextlib.AsyncExitStack() as turn, self._runner.db.sessions() as session:
            if whole:
                await turn.enter_async_context(self._row)
            transaction = await session.begin()
            try:
                unit = _Unit(session, self.counts)
                yield unit
                async with contextlib.nullcontext() if whole else self._row:
                    counts = dict(self.counts)
                    for key, value in unit.increments.items():
                        counts[key] = counts.get(key, 0) + value
                    state = unit.state
                    if unit.change is not None:
                        state = dict(unit.change(self.checkpoint))
                    now = self._runner.clock.now()
                    # a committed unit proves the holder alive: the lease runs from here, so a
                    # heartbeat kept waiting behind a long unit (SQLite has one writer) keeps the job
                    values: dict[str, Any] = {
                        "counts": counts,
                        "updated_at": now,
                        "lease_until": now + self._runner.lease,
                    }
                    if state is not None:
                        values["checkpoint"] = state
                    result = await session.execute(self._fenced().values(**values))
                    if result.rowcount != 1:  # type: ignore[attr-defined]
                        raise LeaseLost(self.job_id)  # rolls back this unit's side effects too
                    await write_outbox(session, unit.events, self._runner.clock.now())
                    await transaction.commit()
                    self.counts = counts
                    if state is not None:
                        self.checkpoint = state
            except BaseException:
                if transaction.is_active:
                    await transaction.rollback()
                raise
        if unit.events:  # announced only once committed, and only by the lease holder
            await self._runner.bus.deliver(unit.events)

    async def progress(self, fraction: float, **counts: int) -> None:
        async with self._row, self._runner.db.sessions() as s, s.begin():
            self.counts.update(counts)
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
