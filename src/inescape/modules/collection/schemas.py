"""What the collection endpoints take and give."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

SourceName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.:/-]*\Z")]


class CollectionRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``source`` names where the records come from (``hospital-a-ehr``): with each record's
    own id it keys the upsert. ``research_only``: de-identify on ingest."""

    connector: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    source: SourceName
    config: dict[str, Any]
    research_only: bool = False


class SourceKind(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    title: str
    config_schema: dict[str, Any]


class UploadView(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    filename: str | None
    content_type: str
    bytes: int
    sha256: str
    key: str
    format: str | None = None  # as the form named it; the job's config still says which


class ScheduleCreate(CollectionRequest, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A collection request submitted whenever ``cron`` (five fields, UTC) comes due."""

    cron: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    enabled: bool = True


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """``next_run_at`` is None while the schedule is disabled; ``last_job_id`` is the job
    submitted at ``last_run_at``, the due time last taken."""

    id: str
    connector: str
    source: str
    config: dict[str, Any]
    research_only: bool
    cron: str
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_job_id: str | None
    created_by: str | None
    created_at: datetime


class ScheduleList(msgspec.Struct, frozen=True, kw_only=True):
    items: list[Schedule]
    next_cursor: str | None
