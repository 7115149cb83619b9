"""The outbox relay: sends committed outbox rows through a transport, at least once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from sqlalchemy import select, update

from inescape.infra.db import Database
from inescape.infra.health import describe
from inescape.infra.tables import outbox
from inescape.kernel.clock import Clock, SystemClock

log = logging.getLogger("inescape.outbox")


class OutboxTransport(Protocol):
    """Carries an encoded event to other processes (Redis Streams in split mode)."""

    async def send(self, *, event_id: str, name: str, payload: bytes) -> None: ...


class OutboxRelay:
    def __init__(self, db: Database, transport: OutboxTransport, clock: Clock | None = None):
        self._db = db
        self._transport = transport
        self._clock = clock or SystemClock()
        self._wakeup = asyncio.Event()

    def wake(self) -> None:
        """Send soon: called after a commit that wrote outbox rows."""
        self._wakeup.set()

    async def run(self, *, interval_s: float, batch: int = 100) -> None:
        """Relay until cancelled: whenever woken, and every ``interval_s`` for rows another
        process committed (a worker's jobs) or a failed send left behind."""
        while True:
            try:
                while await self.relay_once(batch=batch) == batch:
                    pass
            except Exception as exc:  # the database is down: the next round tries again
                log.warning("outbox relay failed", extra={"error": describe(exc)})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=interval_s)
            self._wakeup.clear()

    async def relay_once(self, *, batch: int = 100) -> int:
        """Send up to ``batch`` unpublished events in commit order; return how many went.

        Rows are locked (``SKIP LOCKED`` on PostgreSQL) so two relays never send the same
        row at once; a row is marked published only after its send succeeded, so a crash
        between the two re-sends it (consumers dedupe by event id).
        """
        sent = 0
        async with self._db.sessions() as session, session.begin():
            query = (
                select(outbox.c.id, outbox.c.name, outbox.c.payload)
                .where(outbox.c.published_at.is_(None))
                .order_by(outbox.c.created_at, outbox.c.id)
                .limit(batch)
            )
            if self._db.backend == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = (await session.execute(query)).all()
            for row in rows:
                try:
                    await self._transport.send(event_id=row.id, name=row.name, payload=row.payload)
                except Exception as exc:  # the transport is down: keep the row for next time
                    log.warning("outbox send failed", extra={"event_id": row.id, "error": describe(exc)})
                    await session.execute(
                        update(outbox)
                        .where(outbox.c.id == row.id)
                        .values(attempts=outbox.c.attempts + 1, last_error=describe(exc))
                    )
                    break
                await session.execute(
                    update(outbox)
                    .where(outbox.c.id == row.id)
                    .values(published_at=self._clock.now(), attempts=outbox.c.attempts + 1)
                )
                sent += 1
        return sent
