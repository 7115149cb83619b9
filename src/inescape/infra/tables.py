"""Tables the platform itself owns: jobs, the outbox, and the embedded document store."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

from inescape.infra.db import metadata

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("module", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("queue", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("progress", Float, nullable=False, default=0.0),
    Column("counts", JSON, nullable=False, default=dict),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False, default=3),
    Column("error", Text),
    Column("params", JSON, nullable=False, default=dict),
    Column("checkpoint", JSON),
    Column("result", JSON),
    Column("owner", String(128)),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    Column("lease_token", String(64)),
    Column("lease_until", DateTime(timezone=True)),
    Column("run_after", DateTime(timezone=True)),
    Column("enqueued_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Index("ix_jobs_module_created", "module", "created_at"),
    Index("ix_jobs_status", "status"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Index("ix_outbox_unpublished", "published_at", "created_at"),
)

documents = Table(
    "documents",
    metadata,
    Column("collection", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("body", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
