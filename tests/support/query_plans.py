"""What a read asks the database: the SELECTs it runs, and the plan the database makes of one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine


def selects(engine: Engine, conn: Connection, read: Callable[[Connection], Any]) -> list[tuple[str, Any]]:
    """The SELECT statements (and their parameters) ``read`` runs on ``conn``."""
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        read(conn)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return statements


def sqlite_plan(conn: Connection, statement: str, parameters: Any) -> str:
    """SQLite's ``EXPLAIN QUERY PLAN`` of ``statement``, one step a line."""
    rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return "\n".join(str(r[-1]) for r in rows)
