"""Jobs: long work that must not be lost. A job is a database row; a queue only carries its id.

A module registers a handler per job kind. The handler gets a ``JobContext`` through which it
reports progress, saves a checkpoint in the same transaction as its side effects (so a killed
worker resumes after the last committed chunk, never doubling it) and learns of cancellation.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Annotated, Any, Protocol

import msgspec
from msgspec import Meta

from inescape.kernel.events import Event


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


class JobView(msgspec.Struct, frozen=True, kw_only=True):
    """The job resource every module's ``/jobs`` endpoints return."""

    id: Annotated[str, Meta(description="The job's id.")]
    module: Annotated[str, Meta(description="The module that runs it.")]
    kind: Annotated[str, Meta(description="What the job does (its kind within the module).")]
    status: Annotated[JobStatus, Meta(description="queued, running, succeeded, failed or cancelled.")]
    progress: Annotated[float, Meta(description="How far it is, from 0 to 1.")]
    counts: Annotated[dict[str, int], Meta(description="Its counts so far (rows read, written...).")]
    attempts: Annotated[int, Meta(description="How many times it has been started.")]
    max_attempts: Annotated[int, Meta(description="How many starts it gets before it fails.")]
    error: Annotated[str | None, Meta(description="Why it failed, when it did.")]
    params: Annotated[dict[str, Any], Meta(description="What it was asked to do.")]
    result: Annotated[
        dict[str, Any] | None,
        Meta(description="What it made, once it succeeded."),
    ]
    owner: Annotated[str | None, Meta(description="The user who submitted it.")]
    cancel_requested: Annotated[bool, Meta(description="Whether a cancel was asked for.")]
    created_at: Annotated[datetime, Meta(description="When it was submitted.")]
    updated_at: Annotated[datetime, Meta(description="When it last changed.")]
    started_at: Annotated[datetime | None, Meta(description="When it last started.")]
    finished_at: Annotated[datetime | None, Meta(description="When it finished.")]


class JobCancelled(Exception):
    """Raised inside a handler (by ``JobContext``) once a cancel was requested."""


class RetryLater(Exception):
    """A transient failure: the job goes back to the queue with backoff, up to its attempts."""


class JobUnit(Protocol):
    """A transaction inside a job: write side effects on ``session`` and set the checkpoint;
    both commit together when the ``async with`` block ends."""

    session: Any

    def checkpoint(self, state: Mapping[str, Any]) -> None: ...

    def checkpoint_with(self, change: Callable[[Mapping[str, Any] | None], Mapping[str, Any]]) -> None:
        """The checkpoint as ``change`` makes it of the job's when this unit commits: units
        running at once (each its own transaction) each add their part to what the others
        committed."""
        ...

    def count(self, **increments: int) -> None: ...

    def publish(self, event: Event) -> None:
        """Announce ``event`` with this unit: written to the outbox in its transaction (if it
        leaves the process) and delivered after commit, only while the job holds its lease."""
        ...


class JobContext(Protocol):
    job_id: str
    kind: str
    params: Mapping[str, Any]
    checkpoint: Mapping[str, Any] | None
    attempt: int
    owner: str | None

    def unit(self) -> AbstractAsyncContextManager[JobUnit]: ...

    async def progress(self, fraction: float, **counts: int) -> None:
        """Record progress (0-1) and absolute counts; raises ``JobCancelled`` if cancelled."""
        ...


JobHandler = Callable[[JobContext], Awaitable[Mapping[str, Any] | None]]
JobStream = AsyncIterator[JobView]
