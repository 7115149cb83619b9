"""Competing mortality and smooth hazards, as a clinician reading a generated cohort would check
them: nobody alive past the life table's closing age, deaths from other causes that rise with
age, relative survival (SEER's Ederer II) on the SEER targets, cancer-specific survival above
overall survival, survival curves without kinks at 1, 3 and 5 years, and recurrence,
progression, DFS and PFS that agree with each other. Counted on 60,000 patients per profile."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from inescape.modules.generation.api import GeneratorApi
from inescape.modules.generation.coherence import endpoints
from inescape.modules.generation.engine import Cohort, concat
from inescape.modules.generation.engine.frames import CANCER_DEATH, OTHER_DEATH
from inescape.modules.generation.engine.mortality import life_table
from inescape.modules.generation.engine.outcome import UnitHazard
from inescape.modules.generation.fidelity_metrics import relative_survival
from inescape.modules.generation.library import Generator
from inescape.runtime import library

GEN: Generator = library(GeneratorApi)  # type: ignore[assignment]
N = 60_000
SHIPPED = ("global", "iran-golestan", "us-seer")
# Life expectancy the tables' publications give (years): NCHS at 65; the UN's World Population
# Prospects 2019 at 60, for the periods 2005-2010, 2010-2015 and 2015-2020.
PUBLISHED = {
    ("US", 2010): (65, 17.7, 20.3),
    ("US", 2019): (65, 18.2, 20.8),
    ("US", 2021): (65, 17.0, 19.7),
    ("IR", 2008): (60, 18.82, 19.48),
    ("IR", 2013): (60, 19.11, 19.72),
    ("IR", 2018): (60, 19.37, 20.37),
}


@pytest.fixture(scope="module", params=("us-seer", "iran-golestan"))
def cohort(request: pytest.FixtureRequest) -> tuple[str, Cohort]:
    return request.param, concat(GEN.chunks(request.param, N, seed=7))


def _ages(cohort: Cohort) -> pl.DataFrame:
    diagnosis = cohort.conditions.select(pl.col("patient_id").alias("id"), "diagnosis_date")
    return cohort.patients.join(diagnosis, on="id").with_columns(
        age=(pl.col("diagnosis_date") - pl.col("birth_date")).dt.total_days() / 365.25,
        age_at_end=(pl.coalesce("death_date", "last_follow_up") - pl.col("birth_date")).dt.total_days()
        / 365.25,
    )


def _life_expectancy(key: str, year: int, age: int, female: bool) -> float:
    table = life_table(key)
    ages = np.arange(age, table.limit, dtype=float)
    rates = table.hazard(np.full(len(ages), female), ages, np.full(len(ages), year + 0.5))
    alive = np.concatenate([[1.0], np.exp(-np.cumsum(rates))])
    alive[-1] = 0.0  # the table closes at its limit
    return float(((alive[:-1] + alive[1:]) / 2).sum())


@pytest.mark.parametrize(("key", "year"), list(PUBLISHED))
def test_each_life_table_gives_the_life_expectancy_its_publication_gives(key, year):
    age, men, women = PUBLISHED[(key, year)]

    assert _life_expectancy(key, year, age, female=False) == pytest.approx(men, abs=0.1)
    assert _life_expectancy(key, year, age, female=True) == pytest.approx(women, abs=0.1)


def test_the_tables_cite_their_publication_and_close_at_100():
    for key in ("US", "IR"):
        assert life_table(key).limit == 100
    us = life_table("US").hazard(np.array([False, True]), np.array([70.0, 70.0]), np.array([2015.0] * 2))
    assert us[0] > us[1] > 0.01  # men die sooner than women; about 1-3 % a year at 70


def test_nobody_is_alive_past_the_life_tables_limit(cohort):
    name, frames = cohort
    people = _ages(frames)

    alive = people.filter(pl.col("vital_status") == "alive")
    assert alive["age_at_end"].max() <= 100, name
    assert people["age_at_end"].max() <= 100.01, name


def test_every_death_has_a_cause_and_deaths_from_other_causes_rise_with_age(cohort):
    name, frames = cohort
    people = _ages(frames)
    dead = people.filter(pl.col("vital_status") == "dead")

    assert people.filter(pl.col("vital_status") == "alive")["cause_of_death"].null_count() == (
        people.height - dead.height
    )
    assert set(dead["cause_of_death"].unique()) == {CANCER_DEATH, OTHER_DEATH}
    bands = (
        dead.with_columns(band=pl.Series(np.digitize(dead["age"].to_numpy(), [60, 70, 80])))
        .group_by("band")
        .agg(other=(pl.col("cause_of_death") == OTHER_DEATH).mean())
        .sort("band")
    )["other"].to_list()
    assert bands == sorted(bands), (name, bands)
    assert bands[-1] > 2 * bands[0], (name, bands)


def test_cancer_specific_survival_is_above_overall_survival_and_pfs_below_it(cohort):
    name, frames = cohort
    ends = endpoints(frames.frames())

    def survival(months: pl.Series, events: pl.Series, at: float) -> float:
        frame = pl.DataFrame({"time": months, "event": events}).drop_nulls()
        return float(GEN.codecs.kaplan_meier(frame).filter(pl.col("time") <= at)["survival"][-1])

    os_5 = survival(ends["os_months"], ends["os_event"], 60)
    css_5 = survival(ends["css_months"], ends["css_event"], 60)
    assert css_5 > os_5 + 0.005, name
    checked = ends.filter(pl.col("pfs_months").is_not_null())
    assert (checked["pfs_months"] <= checked["os_months"] + 1e-9).all()
    assert (checked["pfs_event"] >= checked["os_event"]).all()  # a death ends PFS too
    free = ends.filter(pl.col("dfs_months").is_not_null())
    assert (free["dfs_months"] <= free["os_months"] + 1e-9).all()
    assert free.height + checked.height == ends.height


def test_recurrence_only_after_disease_free_progression_only_for_the_others(cohort):
    name, frames = cohort
    people = frames.patients

    recurred = people.filter(pl.col("recurrence_date").is_not_null())
    progressed = people.filter(pl.col("progression_date").is_not_null())
    assert recurred.height > 100, name
    assert progressed.height > 100, name
    assert recurred["disease_free"].all()
    assert not progressed["disease_free"].any()
    end = pl.coalesce("death_date", "last_follow_up")
    assert progressed.filter(pl.col("progression_date") > end).height == 0
    dcrt = people.filter(pl.col("clinical_complete_response").is_not_null())
    assert dcrt.height > 100
    assert dcrt.filter(pl.col("recurrence_date").is_not_null())["clinical_complete_response"].all()
    assert (dcrt["clinical_complete_response"] == dcrt["disease_free"]).all()


def test_the_seer_targets_are_relative_survival_met_and_cited():
    profile = GEN.profile("us-seer")
    chunks = [GEN.fidelity_frame(c) for c in GEN.chunks(profile, N, seed=3)]
    report = GEN.fidelity_report(profile, pl.concat(chunks))

    relative = {t.name: t for t in report.targets if t.name.startswith("relative_survival.")}
    assert set(relative) == {
        f"relative_survival.5y.{g}" for g in ("localized", "regional", "distant", "overall")
    }
    for target in relative.values():
        assert target.verdict == "passed", target
        assert abs(target.achieved - target.target) <= target.tolerance, target
        assert "SEER" in target.source
        assert "shared" not in target.source
        assert "domain.md" not in target.source


def test_relative_survival_is_one_when_only_the_life_table_kills():
    rng = np.random.default_rng(5)
    n = 40_000
    female = rng.random(n) < 0.4
    age = rng.uniform(50, 90, n)
    year = rng.uniform(2010, 2019, n)
    table = life_table("US")
    death = table.death_years(female, age, year, rng.exponential(size=n))
    followed = rng.uniform(3, 12, n)
    frame = pl.DataFrame(
        {
            "sex": np.where(female, "female", "male"),
            "age": age,
            "year": year,
            "time": np.minimum(death, followed) * 12,
            "event": (death <= followed).astype(np.int8),
        }
    )

    net = relative_survival(frame, 60, table)
    observed = relative_survival(frame, 60, None)

    assert net.value == pytest.approx(1.0, abs=0.015)
    assert observed.value is not None
    assert observed.value < 0.85  # the expected survival did the work


@pytest.mark.parametrize("name", SHIPPED)
def test_the_cancer_hazard_has_no_kink_at_one_three_and_five_years(name):
    unit = UnitHazard.of(GEN.profile(name))
    rate = unit.rate(np.arange(0, 121) / 12)  # at each month, to 10 years
    ratio = np.log(rate[1:] / rate[:-1])  # from one month to the next
    assert np.all(np.abs(ratio) < np.log(1.25)), name  # no step anywhere (a step was 0.33-0.6)
    for months in (12, 36, 60):
        bend = ratio[months] - ratio[months - 1]
        assert abs(bend) < 0.15, (name, months, bend)  # the trend carries on across the break
    shape = GEN.profile(name).survival
    edges = np.array([0.0, *shape.breaks_years])
    calibrated = np.cumsum(np.array(shape.time_shape[:-1]) * np.diff(edges))
    assert unit(edges[1:]) == pytest.approx(calibrated)  # survival at the breaks is kept


def test_a_large_cohort_of_cancer_deaths_shows_no_step_in_the_monthly_hazard():
    unit = UnitHazard.of(GEN.profile("us-seer"))
    years = unit.inverse(np.random.default_rng(9).exponential(size=600_000) / 0.3) * 12
    edges = np.arange(0, 73)
    deaths = np.histogram(years, edges)[0]
    at_risk = (years[:, None] >= edges[:-1]).sum(axis=0)
    log_hazard = np.log(deaths / at_risk)
    for months in (12, 36, 60):
        jump = log_hazard[months] - log_hazard[months - 1]
        around = (log_hazard[months + 2] - log_hazard[months - 3]) / 5
        assert abs(jump - around) < 0.1, (months, jump, around)
