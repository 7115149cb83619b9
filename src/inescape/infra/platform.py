"""``Services``: the ports and platform services a module receives from the composition root."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from inescape.infra.bus import InProcessBus
from inescape.infra.db import Database
from inescape.infra.jobs import JobService
from inescape.infra.queue import JobQueue
from inescape.infra.telemetry import Metrics
from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock
from inescape.kernel.jobs import JobView
from inescape.kernel.ports import Cache, DocumentStore, ObjectStore


@dataclass(kw_only=True)
class Services:
    db: Database
    documents: DocumentStore
    cache: Cache
    storage: ObjectStore
    queue: JobQueue
    bus: InProcessBus
    jobs: JobService
    metrics: Metrics
    clock: Clock
    data_dir: Path
    requeue_stale_after: timedelta = timedelta(minutes=5)
    job_max_attempts: int = 3
    module_settings: Mapping[str, Any] = field(default_factory=dict)
    # What a module builds at start-up for its edges (middleware, guards) to find, by name.
    extensions: dict[str, Any] = field(default_factory=dict)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.bus, self.clock)

    async def submit_job(
        self,
        uow: UnitOfWork,
        *,
        module: str,
        kind: str,
        queue: str,
        params: Mapping[str, Any],
        owner: str | None = None,
        max_attempts: int | None = None,
    ) -> JobView:
        """Write the job row in ``uow``; hand its id to the queue only after commit."""
        job = await self.jobs.create(
            uow.session,
            module=module,
            kind=kind,
            queue=queue,
            params=params,
            owner=owner,
            max_attempts=max_attempts or self.job_max_attempts,
        )
        uow.after_commit(lambda: self.enqueue(queue, job.id))
        return job

    async def enqueue(self, queue: str, job_id: str, delay_s: float = 0.0) -> None:
        await self.queue.send(queue, job_id, delay_s=delay_s)
        await self.jobs.mark_enqueued(job_id)
