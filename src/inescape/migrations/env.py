"""Alembic environment: every module's tables share ``inescape.infra.db.metadata``."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from sqlalchemy import create_engine, pool

import inescape.infra.tables  # noqa: F401 - registers the platform tables
from inescape.infra.db import metadata
from inescape.modules_loader import import_all_models

import_all_models()
config = context.config
target_metadata = metadata


def render_item(kind: str, obj: Any, _autogen_context: Any) -> str | Literal[False]:
    """Encrypted columns are text in the database: migrations never import the cipher."""
    if kind == "type" and type(obj).__name__ == "EncryptedString":
        return "sa.Text()"
    return False


def run_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
