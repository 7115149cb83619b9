"""Tables of the collection module: scheduled collections. A schedule is a row (not a
document) so that a worker claims a due time with a conditional UPDATE in the same
transaction as the job it submits."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Index, String, Table

from inescape.infra.db import metadata

schedules = Table(
    "collection_schedules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("connector", String(64), nullable=False),
    Column("source", String(200), nullable=False),
    Column("config", JSON, nullable=False),  # secrets sealed, as in a job's params
    Column("research_only", Boolean, nullable=False),
    Column("cron", String(200), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("next_run_at", DateTime(timezone=True), nullable=False),
    Column("last_run_at", DateTime(timezone=True)),  # the due time last claimed
    Column("last_job_id", String(36)),
    Column("created_by", String(128)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_collection_schedules_due", "enabled", "next_run_at"),
)
