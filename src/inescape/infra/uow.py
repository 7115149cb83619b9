"""The unit of work: one transaction, and the side effects that must follow its commit.

Services write through ``uow.session`` and call ``uow.publish`` / ``uow.after_commit``; they
never commit. The edge opens the unit; leaving the block commits, then delivers the buffered
events and runs the after-commit actions (e.g. enqueueing a job id). An exception rolls back
and drops every buffered side effect, so a rolled-back change is never announced.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from inescape.infra.db import Database
from inescape.infra.tables import outbox
from inescape.kernel.bus import EventBus
from inescape.kernel.clock import Clock, SystemClock
from inescape.kernel.events import Event, encode_event, event_name

log = logging.getLogger("inescape.uow")

AfterCommit = Callable[[], Awaitable[None]]


async def write_outbox(session: AsyncSession, events: Sequence[Event], now: datetime) -> None:
    """The events that leave the process, as outbox rows in ``session``'s transaction."""
    outgoing = [e for e in events if type(e).leaves_process]
    if outgoing:
        rows = [
            {"id": e.id, "name": event_name(e), "payload": encode_event(e), "created_at": now, "attempts": 0}
            for e in outgoing
        ]
        await session.execute(insert(outbox), rows)


class UnitOfWork:
    session: AsyncSession

    def __init__(self, db: Database, bus: EventBus, clock: Clock | None = None) -> None:
        self._db = db
        self._bus = bus
        self._clock = clock or SystemClock()
        self._events: list[Event] = []
        self._after: list[AfterCommit] = []

    async def __aenter__(self) -> Self:
        self.session = self._db.sessions()
        await self.session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is not None:
                await self.session.rollback()
                self._events.clear()
                self._after.clear()
                return
            await write_outbox(self.session, self._events, self._clock.now())
            await self.session.commit()
        finally:
            await self.session.close()
        await self._bus.deliver(self._events)
        for action in self._after:
            try:
                await action()
            except Exception:  # what must not be lost is already committed; log and go on
                log.warning("after-commit action failed", exc_info=True)
        self._events.clear()
        self._after.clear()

    def publish(self, event: Event) -> None:
        """Deliver ``event`` after commit; an event that leaves the process is also written
        to the outbox, in this same transaction."""
        self._events.append(event)

    def after_commit(self, action: AfterCommit) -> None:
        self._after.append(action)
