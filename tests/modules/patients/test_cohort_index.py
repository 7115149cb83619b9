"""The cohort analytics read the index that holds what they need of live, diagnosed records
(``ix_patients_cohort_read``), never the wide rows with their encrypted identifiers: counts,
ages and every survival endpoint, with and without filters, on both backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

from inescape import migrate
from inescape.migrate import sync_url
from inescape.modules.patients.cohort import age_table, count_table, survival_tallies

TODAY = date(2026, 1, 1)
FILTERS = {"histology": "adenocarcinoma", "sex": ["male", "female"], "min_age": 40}

READS: dict[str, Callable[[Connection], Any]] = {
    "counts": lambda c: count_table(c, {}, today=TODAY, by=["histology"]),
    "counts filtered": lambda c: count_table(c, FILTERS, today=TODAY, by=["stage_group", "location"]),
    "ages": lambda c: age_table(c, {}, today=TODAY),
    "ages filtered": lambda c: age_table(c, FILTERS, today=TODAY),
    **{
        f"survival {endpoint}": (lambda c, e=endpoint: survival_tallies(c, {}, today=TODAY, endpoint=e))
        for endpoint in ("os", "pfs", "css")
    },
    "survival by stage": lambda c: survival_tallies(c, FILTERS, today=TODAY, group="stage_group"),
}


@pytest.fixture
def engine(settings) -> Iterator[Engine]:
    migrate.upgrade(settings.database_url)
    made = create_engine(sync_url(settings.database_url))
    yield made
    made.dispose()


def plan_of(conn: Connection, statement: str, parameters: Any) -> str:
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
        return "\n".join(str(r[-1]) for r in rows)
    # An empty table is cheapest to read whole; what matters is that the index can answer alone.
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
    return "\n".join(str(r[0]) for r in rows)


@pytest.mark.parametrize("read", list(READS))
def test_the_cohort_reads_are_answered_from_the_index_alone(engine: Engine, read: str) -> None:
    statements: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    with engine.connect() as conn:
        event.listen(engine, "before_cursor_execute", record)
        try:
            READS[read](conn)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        plans = [plan_of(conn, s, p) for s, p in statements]

    assert plans
    covered = (
        "USING COVERING INDEX ix_patients_cohort_read"
        if engine.dialect.name == "sqlite"
        else ("Index Only Scan using ix_patients_cohort_read on patients")
    )
    for plan in plans:
        assert covered in plan, plan
        # the wide table itself is never read
        assert "SCAN patients\n" not in plan + "\n", plan
        assert "Seq Scan on patients" not in plan, plan
        assert "Index Scan using" not in plan.replace("Index Only Scan using", ""), plan
