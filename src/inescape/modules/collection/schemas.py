"""What the collection endpoints take and give."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

SourceName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.:/-]*\Z")]


class CollectionRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``source`` names where the records come from (``hospital-a-ehr``): with each record's
    own id it keys the upsert. ``research_only``: de-identify on ingest."""

    connector: Annotated[
        str,
        msgspec.Meta(
            min_length=1, max_length=64, description="The connector (GET /api/v1/collection/sources)."
        ),
    ]
    source: Annotated[SourceName, msgspec.Meta(description="Where the records come from (hospital-a-ehr).")]
    config: Annotated[
        dict[str, Any], msgspec.Meta(description="The connector's settings, as its config_schema says.")
    ]
    research_only: Annotated[bool, msgspec.Meta(description="De-identify the records on ingest.")] = False


class SourceKind(msgspec.Struct, frozen=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(description="The connector's name, for a request's connector.")]
    title: Annotated[str, msgspec.Meta(description="What it reads, in words.")]
    config_schema: Annotated[dict[str, Any], msgspec.Meta(description="The JSON Schema of its config.")]


class SourceKindList(msgspec.Struct, frozen=True, kw_only=True):
    """Every connector, as every list is: the items and the next page's cursor."""

    items: Annotated[list[SourceKind], msgspec.Meta(description="Each connector, by name.")]
    next_cursor: Annotated[
        str | None,
        msgspec.Meta(description="Always null: this list is not paged (every item is in items)."),
    ] = None


class UploadView(msgspec.Struct, frozen=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(description="The upload's id.")]
    filename: Annotated[str | None, msgspec.Meta(description="The file's name, as sent.")]
    content_type: Annotated[str, msgspec.Meta(description="The file's media type, as sent.")]
    bytes: Annotated[int, msgspec.Meta(description="Its size in bytes.")]
    sha256: Annotated[str, msgspec.Meta(description="Its SHA-256, in hex.")]
    key: Annotated[str, msgspec.Meta(description="Where it is stored: a collection job's config names it.")]
    # as the form named it; the job's config still says which
    format: Annotated[str | None, msgspec.Meta(description="Its format, as the form named it.")] = None


class ScheduleCreate(CollectionRequest, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A collection request submitted whenever ``cron`` (five fields, UTC) comes due."""

    cron: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=200, description="When it comes due: five cron fields, UTC."),
    ]
    enabled: Annotated[bool, msgspec.Meta(description="false keeps it without running it.")] = True


class Schedule(msgspec.Struct, frozen=True, kw_only=True):
    """``next_run_at`` is None while the schedule is disabled; ``last_job_id`` is the job
    submitted at ``last_run_at``, the due time last taken."""

    id: Annotated[str, msgspec.Meta(description="The schedule's id.")]
    connector: Annotated[str, msgspec.Meta(description="The connector its jobs use.")]
    source: Annotated[str, msgspec.Meta(description="Where the records come from.")]
    config: Annotated[dict[str, Any], msgspec.Meta(description="The connector's settings.")]
    research_only: Annotated[bool, msgspec.Meta(description="Whether records are de-identified on ingest.")]
    cron: Annotated[str, msgspec.Meta(description="When it comes due: five cron fields, UTC.")]
    enabled: Annotated[bool, msgspec.Meta(description="Whether it runs.")]
    next_run_at: Annotated[
        datetime | None, msgspec.Meta(description="When it next comes due; null if disabled.")
    ]
    last_run_at: Annotated[datetime | None, msgspec.Meta(description="The due time last taken.")]
    last_job_id: Annotated[str | None, msgspec.Meta(description="The job submitted at last_run_at.")]
    created_by: Annotated[str | None, msgspec.Meta(description="Who created it.")]
    created_at: Annotated[datetime, msgspec.Meta(description="When it was created.")]


class ScheduleList(msgspec.Struct, frozen=True, kw_only=True):
    items: Annotated[list[Schedule], msgspec.Meta(description="The schedules on this page.")]
    next_cursor: Annotated[str | None, msgspec.Meta(description="The next page's cursor; null on the last.")]
