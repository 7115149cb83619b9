"""Handing committed jobs to the queue, and handing them again when the queue could not take
them or lost them.

The job row is the durable intent: it is committed as ``queued`` with no ``enqueued_at``
before anything is sent. The queue only wakes a worker. A send that fails (Redis down) keeps
the job in this process's pending set and the dispatcher sends it again with a short backoff
until the queue answers, so a job submitted or retried during an outage runs within seconds
of the queue coming back, rather than at the next stale-job sweep. Should this process die
first, the row still says "never handed over" and the workers' sweep sends it.
"""

from __future__ import annotations

import asyncio
import logging

from inescape.infra.health import describe
from inescape.infra.jobs.service import JobService
from inescape.infra.queue import JobQueue
from inescape.kernel.errors import Unavailable

log = logging.getLogger("inescape.jobs")


class Dispatcher:
    def __init__(
        self,
        queue: JobQueue,
        jobs: JobService,
        *,
        first_delay_s: float = 0.2,
        max_delay_s: float = 2.0,
    ) -> None:
        self._queue = queue
        self._jobs = jobs
        self._first_delay_s = first_delay_s
        self._max_delay_s = max_delay_s
        self._pending: dict[str, tuple[str, float]] = {}  # job id -> (queue, delay)
        self._wakeup: asyncio.Event | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def send(self, queue: str, job_id: str, delay_s: float = 0.0) -> None:
        """Hand ``job_id`` to ``queue`` and record it as handed over; while the queue is
        unreachable, keep it to send again (this never raises ``Unavailable``)."""
        try:
            await self._send(queue, job_id, delay_s)
        except Unavailable as exc:
            log.warning(
                "queue unreachable; the job is sent again when it is back",
                extra={"job_id": job_id, "error": describe(exc)},
            )
            self._pending[job_id] = (queue, delay_s)
            if self._wakeup is not None:
                self._wakeup.set()

    async def _send(self, queue: str, job_id: str, delay_s: float) -> None:
        await self._queue.send(queue, job_id, delay_s=delay_s)
        await self._jobs.mark_enqueued(job_id)

    async def run(self) -> None:
        """Until cancelled: send what could not be sent, backing off while the queue is down."""
        self._wakeup = asyncio.Event()
        delay = self._first_delay_s
        while True:
            if not self._pending:
                delay = self._first_delay_s
                await self._wakeup.wait()
            self._wakeup.clear()
            await asyncio.sleep(delay)
            try:
                await self.flush()
            except Exception as exc:  # the queue (or the database) is still down
                log.info("pending jobs not sent yet", extra={"count": self.pending, "error": describe(exc)})
                delay = min(delay * 2, self._max_delay_s)
            else:
                delay = self._first_delay_s

    async def flush(self) -> int:
        """Send every pending job, oldest first; stop at the first failure (raised)."""
        sent = 0
        for job_id, (queue, delay_s) in list(self._pending.items()):
            await self._send(queue, job_id, delay_s)
            self._pending.pop(job_id, None)
            sent += 1
        if sent:
            log.info("pending jobs sent", extra={"count": sent})
        return sent
