"""Tables the gateway owns."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Integer, String, Table

from inescape.infra.db import metadata

users = Table(
    "auth_users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("password_hash", String(255)),
    Column("failed_logins", Integer, nullable=False, default=0),
    # a one-time password (the demo's, ``create-user --one-time``): only a change is allowed
    Column("must_change_password", Boolean, nullable=False, default=False),
    # raised by each password change: tokens issued under an older one stop working
    Column("credentials_version", Integer, nullable=False, default=0),
    Column("last_login_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
