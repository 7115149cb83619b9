"""On SQLite the survival tallies and the ages walk the cohort index cell by cell instead of
sorting every patient: they are what the sorted ``GROUP BY`` gives, for every endpoint, group
and filter, with the same patients left out; and the statements sort nothing."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine

from inescape import migrate
from inescape.migrate import sync_url
from inescape.modules.patients import cohort
from tests.support.query_plans import selects, sqlite_plan

TODAY = date(2026, 1, 1)
N = 1_500


def _patients(seed: int) -> Iterator[dict[str, Any]]:
    """Varied patients: some without a histology or a stage, some never followed up (the end is
    today), a few recorded as dying before diagnosis (a negative time, counted at 0), some with
    recurrences, progressions, causes of death and surgeries, two origins."""
    rng = random.Random(seed)
    for i in range(N):
        diagnosed = date(2014, 1, 1) + timedelta(days=rng.randrange(4000))
        dead = rng.random() < 0.5
        end = diagnosed + timedelta(days=rng.randrange(-20, 2500))
        end = min(end, TODAY)
        relapse = diagnosed + timedelta(days=rng.randrange(1, 900)) if rng.random() < 0.3 else None
        yield {
            "id": f"p{i:05d}",
            "sex": rng.choice(["male", "female"]),
            # a few born, as recorded, after their diagnosis: a negative age, counted as it is
            "birth_year": diagnosed.year + 2 if i % 97 == 0 else rng.randrange(1930, 1990),
            "histology": rng.choice(["squamous_cell_carcinoma", "adenocarcinoma", "other", None]),
            "location": rng.choice(["upper", "middle", "lower", "egj", None]),
            "stage_group": rng.choice(["I", "IIA", "IIIB", "IVA", "IVB", None]),
            "origin": rng.choice(["synthetic", "real"]),
            "diagnosis_date": diagnosed.isoformat(),
            "vital_status": "dead" if dead else "alive",
            "last_follow_up": end.isoformat() if rng.random() < 0.9 else None,
            "death_date": end.isoformat() if dead else None,
            "recurrence_date": relapse.isoformat() if relapse and rng.random() < 0.6 else None,
            "progression_date": relapse.isoformat() if relapse and rng.random() < 0.4 else None,
            "cause_of_death": rng.choice(["Esophageal cancer", "C15.5", "stroke", None]) if dead else None,
            "surgery": (diagnosed + timedelta(days=rng.randrange(20, 200))).isoformat()
            if rng.random() < 0.4
            else None,
        }


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('tallies') / 'cohort.db'}"
    migrate.upgrade(url)
    made = create_engine(sync_url(url))
    rows = list(_patients(seed=21))
    columns = [k for k in rows[0] if k != "surgery"]
    with made.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO patients ({', '.join(columns)}, version, birth_date, risk_factors, "
                f"created_at, updated_at) VALUES ({', '.join(':' + c for c in columns)}, 1, 'x', "
                "'{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            [{c: r[c] for c in columns} for r in rows],
        )
        conn.execute(
            text(
                "INSERT INTO patient_treatments (id, patient_id, kind, start_date, agents) "
                "VALUES (:id, :patient_id, 'surgery', :start, '[]')"
            ),
            [
                {"id": f"t{r['id']}", "patient_id": r["id"], "start": r["surgery"]}
                for r in rows
                if r["surgery"]
            ],
        )
    yield made
    made.dispose()


def _both(
    conn: Connection, monkeypatch: pytest.MonkeyPatch, filters: dict[str, Any], **options: Any
) -> tuple[tuple[pl.DataFrame, int], tuple[pl.DataFrame, int]]:
    """The tallies streamed, and as the sorted ``GROUP BY`` (what PostgreSQL runs) gives them."""
    streamed = cohort.survival_tallies(conn, filters, today=TODAY, **options)
    with monkeypatch.context() as patched:
        patched.setattr(cohort, "STREAMED_DIALECTS", ())
        grouped = cohort.survival_tallies(conn, filters, today=TODAY, **options)
    return streamed, grouped


CASES = [
    {"endpoint": endpoint, "group": group}
    for endpoint in cohort.ENDPOINTS
    for group in (None, "histology", "stage_group", "location", "vital_status", "origin")
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['endpoint']}-{c['group']}")
def test_the_streamed_tallies_are_the_sorted_group_by(engine: Engine, monkeypatch, case) -> None:
    with engine.connect() as conn:
        (streamed, left_out), (expected, expected_left_out) = _both(conn, monkeypatch, {}, **case)
    assert streamed.height > 10
    assert_frame_equal(streamed, expected)
    assert left_out == expected_left_out
    if case["group"] in ("histology", "stage_group", "location") or case["endpoint"] == "dfs":
        assert left_out > 0  # the patients without a value, or without a surgery, are counted out
    assert int(streamed["n"].sum()) + left_out == int(expected["n"].sum()) + expected_left_out


@pytest.mark.parametrize(
    "filters",
    [
        {"histology": ["adenocarcinoma", "other"], "min_age": 50},
        {"stage_group": "IVB", "sex": "female"},
        {"origin": "real", "diagnosed_from": date(2018, 1, 1)},
        {"treatment": "surgery", "location": ["upper", "egj"]},
    ],
)
def test_filters_select_the_same_patients_streamed_or_sorted(engine: Engine, monkeypatch, filters) -> None:
    with engine.connect() as conn:
        (streamed, left_out), (expected, expected_left_out) = _both(
            conn, monkeypatch, filters, group="stage_group"
        )
    assert streamed.height > 0
    assert_frame_equal(streamed, expected)
    assert left_out == expected_left_out


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "sorted"])
def test_disease_free_survival_of_patients_without_a_surgery_says_what_is_missing(
    engine: Engine, monkeypatch, streamed: bool
) -> None:
    unoperated = next(r["id"] for r in _patients(seed=21) if not r["surgery"] and r["recurrence_date"])
    if not streamed:
        monkeypatch.setattr(cohort, "STREAMED_DIALECTS", ())
    with engine.connect() as conn:
        with pytest.raises(cohort.MissingData, match="no patient selected has one recorded"):
            cohort.survival_tallies(conn, {"id": unoperated}, today=TODAY, endpoint="dfs")
        tallies, left_out = cohort.survival_tallies(
            conn, {"id": unoperated}, today=TODAY, endpoint="dfs", group="histology", strict=False
        )
    assert tallies.is_empty()
    assert tallies.columns == ["histology", "time", "event", "n"]
    assert left_out == 1


def test_a_negative_time_counts_at_zero_and_the_kind_of_event_is_kept(engine: Engine) -> None:
    with engine.connect() as conn:
        tallies, _ = cohort.survival_tallies(conn, {}, today=TODAY)
    at_zero = tallies.filter(pl.col("time") == 0.0)
    assert int(at_zero["n"].sum()) > 0
    assert set(at_zero["event"].to_list()) == {0, 1}
    assert float(tallies["time"].min()) == 0.0


@pytest.mark.parametrize("filters", [{}, {"sex": "female", "histology": "adenocarcinoma"}, {"max_age": 1}])
def test_the_streamed_ages_are_the_sorted_group_by(engine: Engine, monkeypatch, filters) -> None:
    with engine.connect() as conn:
        streamed = cohort.age_table(conn, filters, today=TODAY)
        monkeypatch.setattr(cohort, "STREAMED_DIALECTS", ())
        expected = cohort.age_table(conn, filters, today=TODAY)
    assert_frame_equal(streamed, expected.sort("age"))
    if not filters:
        assert int(streamed["age"].min()) < 0 < int(streamed["age"].max())
        assert int(streamed["n"].sum()) == N


def test_no_patient_selected_gives_empty_ages_and_tallies(engine: Engine) -> None:
    with engine.connect() as conn:
        ages = cohort.age_table(conn, {"min_age": 150}, today=TODAY)
        tallies, left_out = cohort.survival_tallies(conn, {"min_age": 150}, today=TODAY, group="histology")
    assert ages.is_empty()
    assert ages.schema == {"age": pl.Int64, "n": pl.Int64}
    assert tallies.is_empty()
    assert left_out == 0
    assert tallies.columns == ["histology", "time", "event", "n"]


@pytest.mark.parametrize("read", ["survival", "ages"])
def test_the_streamed_reads_sort_nothing(engine: Engine, read: str) -> None:
    def run(conn: Connection) -> None:
        if read == "survival":
            cohort.survival_tallies(conn, {"min_age": 40}, today=TODAY, group="stage_group")
        else:
            cohort.age_table(conn, {"min_age": 40}, today=TODAY)

    with engine.connect() as conn:
        plans = [sqlite_plan(conn, s, p) for s, p in selects(engine, conn, run)]
    assert len(plans) == 1
    assert "USING COVERING INDEX ix_patients_cohort_read" in plans[0], plans[0]
    assert "TEMP B-TREE" not in plans[0], plans[0]  # a sort: what a GROUP BY of days or ages does
