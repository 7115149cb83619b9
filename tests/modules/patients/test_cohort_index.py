"""The cohort analytics read the index that holds what they need of live, diagnosed records
(``ix_patients_cohort_read``; on PostgreSQL also the narrower ``ix_patients_cohort_os``), never
the wide rows with their encrypted identifiers: counts, ages and every survival endpoint, with
and without filters, on both backends; on PostgreSQL the narrower index wherever it is enough."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

from inescape import migrate
from inescape.migrate import sync_url
from inescape.modules.patients.cohort import age_table, count_table, survival_tallies
from tests.support.query_plans import selects, sqlite_plan

TODAY = date(2026, 1, 1)
INDEXES = ("ix_patients_cohort_read", "ix_patients_cohort_os")
FILTERS = {"histology": "adenocarcinoma", "sex": ["male", "female"], "min_age": 40}

READS: dict[str, Callable[[Connection], Any]] = {
    "counts": lambda c: count_table(c, {}, today=TODAY, by=["histology"]),
    "counts filtered": lambda c: count_table(c, FILTERS, today=TODAY, by=["stage_group", "location"]),
    "ages": lambda c: age_table(c, {}, today=TODAY),
    "ages filtered": lambda c: age_table(c, FILTERS, today=TODAY),
    **{
        f"survival {endpoint}": (
            lambda c, e=endpoint: survival_tallies(c, {}, today=TODAY, endpoint=e, strict=False)
        )
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


@pytest.fixture
def populated(engine: Engine) -> Engine:
    """On PostgreSQL, 10,000 live, diagnosed patients, vacuumed and analysed (as after a bulk
    load): what the planner weighs, as it would in use (on an empty table an index scan that
    reads the rows costs next to nothing). SQLite's empty table is enough for its plans."""
    if engine.dialect.name != "postgresql":
        return engine
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO patients (id, version, sex, birth_date, birth_year, origin, source, risk_factors, "
            "created_at, updated_at, histology, location, stage_group, diagnosis_date, vital_status, "
            "last_follow_up, given_name, family_name, address) "
            "SELECT 'p' || i, 1, CASE WHEN i %% 2 = 0 THEN 'male' ELSE 'female' END, 'x', 1930 + i %% 60, "
            "'real', 'registry', '{}', now(), now(), "
            "(ARRAY['squamous_cell_carcinoma', 'adenocarcinoma', 'other'])[1 + i %% 3], 'lower', "
            "(ARRAY['I', 'IIA', 'IIIB', 'IVA'])[1 + i %% 4], DATE '2015-01-01' + i %% 3000, 'alive', "
            "DATE '2024-01-01', repeat('n', 60), repeat('f', 60), repeat('a', 100) "
            "FROM generate_series(1, 10000) AS i"
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Right after the load a VACUUM may leave pages unmarked in the visibility map, and then
        # no scan is index-only: vacuum again, as autovacuum would.
        for _ in range(20):
            conn.exec_driver_sql("VACUUM ANALYZE patients")
            pages, visible = conn.exec_driver_sql(
                "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'patients'"
            ).one()
            if visible >= 0.99 * pages:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"only {visible} of {pages} pages all-visible after vacuuming")
    return engine


def plan_of(conn: Connection, statement: str, parameters: Any) -> str:
    if conn.dialect.name == "sqlite":
        return sqlite_plan(conn, statement, parameters)
    # What matters is that an index can answer alone, however cheap the table is to read whole.
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    conn.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
    rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
    return "\n".join(str(r[0]) for r in rows)


@pytest.mark.parametrize("read", list(READS))
def test_the_cohort_reads_are_answered_from_the_index_alone(populated: Engine, read: str) -> None:
    engine = populated
    with engine.connect() as conn:
        plans = [plan_of(conn, s, p) for s, p in selects(engine, conn, READS[read])]

    assert plans
    covering = (
        ["USING COVERING INDEX ix_patients_cohort_read"]
        if engine.dialect.name == "sqlite"
        else [f"Index Only Scan using {name} on patients" for name in INDEXES]
    )
    for plan in plans:
        assert any(c in plan for c in covering), plan
        # the wide table itself is never read
        assert "SCAN patients\n" not in plan + "\n", plan
        assert "Seq Scan on patients" not in plan, plan
        assert "Index Scan using" not in plan.replace("Index Only Scan using", ""), plan


# On PostgreSQL at scale: what each read needs decides the index (the narrower is half the pages).
NARROW = {
    "counts": lambda c: count_table(c, {}, today=TODAY, by=["histology"]),
    "counts by stage and sex": lambda c: count_table(
        c, {"min_age": 40}, today=TODAY, by=["stage_group", "sex"]
    ),
    "ages": lambda c: age_table(c, {"sex": "female"}, today=TODAY),
    "overall survival by stage": lambda c: survival_tallies(c, {}, today=TODAY, group="stage_group"),
}
FULL = {
    f"survival {endpoint}": (
        lambda c, e=endpoint: survival_tallies(c, {}, today=TODAY, endpoint=e, strict=False)
    )
    for endpoint in ("pfs", "css", "dfs")
} | {"counts by source": lambda c: count_table(c, {"source": "registry"}, today=TODAY, by=["histology"])}


def _index_read(engine: Engine, read: Callable[[Connection], Any]) -> str:
    with engine.connect() as conn:
        statements = selects(engine, conn, read)
        conn.exec_driver_sql("SET LOCAL random_page_cost = 1.1")  # as the reads set it
        plans = [
            "\n".join(str(r[0]) for r in conn.exec_driver_sql(f"EXPLAIN {s}", p).all()) for s, p in statements
        ]
    found = {name for plan in plans for name in INDEXES if f"Index Only Scan using {name} " in plan}
    assert len(found) == 1, plans
    return found.pop()


def test_postgresql_reads_the_narrower_index_where_it_is_enough(populated: Engine) -> None:
    if populated.dialect.name != "postgresql":
        pytest.skip("the narrower index is PostgreSQL's")
    chosen = {read: _index_read(populated, call) for read, call in (NARROW | FULL).items()}
    assert chosen == {read: "ix_patients_cohort_os" for read in NARROW} | {
        read: "ix_patients_cohort_read" for read in FULL
    }
