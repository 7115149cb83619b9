"""The packaged life tables against the publications they cite, read the way the generator
reads them. US (NCHS): life expectancy at 50 to 80, the chance of dying within five years at
60, 70 and 80, and the survival of simulated 65-year-olds, each against the published table;
every row of us.csv derived from the printed lx and Tx. Iran (UN World Population Prospects
2019): every row of ir.csv the published central death rate, and life expectancy at 50 to 80
the published one. Nobody in a generated cohort is alive past the tables' closing age. The
published figures are engine/lifetables/published.csv."""

from __future__ import annotations

import itertools
import math
import re
from importlib import resources

import numpy as np
import polars as pl
import pytest

from inescape.modules.generation.api import GeneratorApi
from inescape.modules.generation.engine import concat
from inescape.modules.generation.engine.mortality import LifeTable, life_table
from inescape.modules.generation.library import Generator
from inescape.runtime import library

GEN: Generator = library(GeneratorApi)  # type: ignore[assignment]
LIFETABLES = resources.files("inescape.modules.generation.engine").joinpath("lifetables")
PUBLISHED_TEXT = LIFETABLES.joinpath("published.csv").read_text()
PUBLISHED = pl.read_csv(PUBLISHED_TEXT.encode(), comment_prefix="#", schema_overrides={"value": pl.Float64})
SOURCES = dict(
    line.removeprefix("# ").split(": ", 1)
    for line in PUBLISHED_TEXT.splitlines()
    if re.match(r"# [a-z0-9-]+-t\d+: ", line)
)
US_TABLES = [(year, sex) for year in (2010, 2019, 2021) for sex in ("male", "female")]
IR_TABLES = [(year, sex) for year in (2008, 2013, 2018) for sex in ("male", "female")]
EX_TOLERANCE = 0.2  # years: the reports print ex to 0.1 year, and the engine closes the table at 100
QX_TOLERANCE = 0.03  # relative, on 5qx
SURVIVAL_TOLERANCE = 0.01  # absolute, on the share of 65-year-olds alive 5 to 25 years later


def _published(year: int, sex: str, measure: str, table: str = "US") -> dict[int, float]:
    rows = PUBLISHED.filter(
        (pl.col("table") == table)
        & (pl.col("year") == year)
        & (pl.col("sex") == sex)
        & (pl.col("measure") == measure)
    )
    return dict(zip(rows["age"].to_list(), rows["value"].to_list(), strict=True))


def _annual_rates(table: LifeTable, year: int, sex: str, when: float = 0.5) -> np.ndarray:
    """The hazard the generator uses over each year of age [a, a + 1), at ``year + when`` (the
    middle of a calendar year, or 0 for the UN's periods, centred on 1 January)."""
    ages = np.arange(table.limit, dtype=float)
    return table.hazard(np.full(len(ages), sex == "female"), ages, np.full(len(ages), year + when))


def _life_expectancy(rates: np.ndarray, age: int) -> float:
    alive = np.concatenate([[1.0], np.exp(-np.cumsum(rates[age:]))])
    alive[-1] = 0.0  # the table closes at its limit
    return float(((alive[:-1] + alive[1:]) / 2).sum())


@pytest.mark.parametrize(("year", "sex"), US_TABLES)
def test_life_expectancy_at_50_to_80_is_the_published_one(year: int, sex: str) -> None:
    rates = _annual_rates(life_table("US"), year, sex)

    published = _published(year, sex, "ex")
    assert sorted(published) == [50, 60, 65, 70, 80]
    off = {age: round(_life_expectancy(rates, age) - ex, 2) for age, ex in published.items()}
    assert all(abs(d) <= EX_TOLERANCE for d in off.values()), (year, sex, off)


@pytest.mark.parametrize(("year", "sex"), US_TABLES)
def test_the_chance_of_dying_within_five_years_at_60_70_and_80_is_the_published_one(
    year: int, sex: str
) -> None:
    rates = _annual_rates(life_table("US"), year, sex)
    qx = _published(year, sex, "qx")

    for age in (60, 70, 80):
        published = 1 - math.prod(1 - qx[age + k] for k in range(5))
        ours = 1 - math.exp(-rates[age : age + 5].sum())
        assert ours == pytest.approx(published, rel=QX_TOLERANCE), (year, sex, age)


# A patient's hazard follows the calendar from diagnosis; before the first table and after the
# last one the nearest table holds, so a cohort followed from 1985 (or from 2021) lives the whole
# way under the 2010 (or 2021) period table and must survive as that table says.
@pytest.mark.parametrize(
    ("year", "sex", "diagnosed"),
    [(2010, "male", 1985.0), (2010, "female", 1985.0), (2021, "male", 2021.0), (2021, "female", 2021.0)],
)
def test_simulated_65_year_olds_survive_as_the_published_table_says(
    year: int, sex: str, diagnosed: float
) -> None:
    n = 200_000
    rng = np.random.default_rng(year)
    table = life_table("US")
    female, age, year_of_diagnosis = np.full(n, sex == "female"), np.full(n, 65.0), np.full(n, diagnosed)

    years = table.death_years(female, age, year_of_diagnosis, rng.exponential(size=n))

    lx = _published(year, sex, "lx")
    for later in (70, 75, 80, 85, 90):
        alive = float((years > later - 65).mean())
        assert alive == pytest.approx(lx[later] / lx[65], abs=SURVIVAL_TOLERANCE), (year, sex, later)
    assert years.max() <= table.limit - 65  # the table closes at 100, though the publication does not
    assert lx[100] > 0


def test_each_us_row_is_derived_from_the_published_table() -> None:
    text = LIFETABLES.joinpath("us.csv").read_text()
    rows = pl.read_csv(text.encode(), comment_prefix="#")

    checked = 0
    for year, sex in US_TABLES:
        expected = _group_rates(year, sex)
        ours = rows.filter((pl.col("year") == year) & (pl.col("sex") == sex)).sort("age")
        assert ours["age"].to_list() == sorted(expected), (year, sex)
        for age, mx in zip(ours["age"], ours["mx"], strict=True):
            assert mx == pytest.approx(float(f"{expected[age]:.3g}"), rel=1e-9), (year, sex, age)
            checked += 1
    assert checked == rows.height


def _group_rates(year: int, sex: str) -> dict[int, float]:
    """nMx for each 5-year group from the printed lx and Tx (M for 100 and over = l100 / T100);
    below the first printed lx, from the printed qx with deaths at mid-year."""
    lx, tx, qx = (_published(year, sex, m) for m in ("lx", "Tx", "qx"))
    ages = sorted(lx)
    rates = {a: (lx[a] - lx[b]) / (tx[a] - tx[b]) for a, b in itertools.pairwise(ages)}
    rates[ages[-1]] = lx[ages[-1]] / tx[ages[-1]]
    for start in range(15, ages[0], 5):
        alive = [1.0]
        for a in range(start, start + 5):
            alive.append(alive[-1] * (1 - qx[a]))
        lived = sum((p + q) / 2 for p, q in itertools.pairwise(alive))
        rates[start] = (alive[0] - alive[-1]) / lived
    return dict(sorted(rates.items()))


@pytest.mark.parametrize(("year", "sex"), IR_TABLES)
def test_iran_life_expectancy_at_50_to_80_is_the_un_one(year: int, sex: str) -> None:
    rates = _annual_rates(life_table("IR"), year, sex, when=0.0)

    published = _published(year, sex, "ex", table="IR")
    assert sorted(published) == [50, 60, 65, 70, 80]
    off = {age: round(_life_expectancy(rates, age) - ex, 2) for age, ex in published.items()}
    assert all(abs(d) <= EX_TOLERANCE for d in off.values()), (year, sex, off)


def test_each_iran_row_is_the_published_central_death_rate() -> None:
    text = LIFETABLES.joinpath("ir.csv").read_text()
    rows = pl.read_csv(text.encode(), comment_prefix="#")

    checked = 0
    for year, sex in IR_TABLES:
        published = _published(year, sex, "mx", table="IR")
        ours = rows.filter((pl.col("year") == year) & (pl.col("sex") == sex)).sort("age")
        assert ours["age"].to_list() == list(range(15, 101, 5)) == sorted(published), (year, sex)
        for age, mx in zip(ours["age"], ours["mx"], strict=True):
            assert mx == published[age], (year, sex, age)
            checked += 1
    assert checked == rows.height


def test_every_published_figure_names_its_publication_and_table() -> None:
    assert set(PUBLISHED["source"].unique()) == set(SOURCES)
    for (table, year, source), _ in PUBLISHED.group_by(["table", "year", "source"]):
        citation = SOURCES[str(source)]
        if table == "US":
            assert f"United States Life Tables, {year}. National Vital Statistics Reports" in citation
            assert re.search(r"\d{4};\d+\(\d+\)\. Table \d", citation), citation
            assert re.match(r"Arias E[.,]", citation), citation
        else:
            assert table == "IR"
            assert citation.startswith("United Nations, Department of Economic and Social Affairs"), citation
            assert "World Population Prospects 2019" in citation
            assert re.search(r"Table MORT/F1\d-2 and F1\d-3", citation), citation
        assert "http" not in citation
        assert "shared" not in citation
    assert set(PUBLISHED["measure"].unique()) == {"lx", "Tx", "qx", "ex", "mx"}


@pytest.mark.parametrize("profile", ["us-seer", "iran-golestan"])
def test_nobody_in_a_generated_cohort_is_alive_past_the_tables_closing_age(profile: str) -> None:
    background = GEN.profile(profile).survival.background
    assert background is not None
    limit = life_table(background.life_table).limit

    cohort = concat(GEN.chunks(profile, 20_000, seed=11))

    end = pl.coalesce("death_date", "last_follow_up")
    people = cohort.patients.with_columns(age_at_end=(end - pl.col("birth_date")).dt.total_days() / 365.25)
    alive = people.filter(pl.col("vital_status") == "alive")
    # some come close to the closing age (Iran's old-age mortality is high: few pass 95)
    assert people.filter(pl.col("age_at_end") > limit - 5).height > 0
    assert float(alive["age_at_end"].max()) <= limit  # type: ignore[arg-type]
    assert float(people["age_at_end"].max()) <= limit + 0.01  # type: ignore[arg-type]  # a day's rounding
