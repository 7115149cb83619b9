"""Survival analytics of a tallied cohort (one row per group, time and event with a count) give
what they give on one row per patient; hazard ratios against the published Cox fit of the 6-MP
trial; curves summarised to their steps; p-values too small for a float keep their size."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from inescape.kernel.errors import Invalid
from inescape.modules.patients.analytics import (
    age_distribution,
    age_summary,
    chi2_log10_sf,
    chi2_sf,
    cox,
    hazard_ratios,
    kaplan_meier,
    log_rank,
    median_survival,
    number_at_risk,
    summarise_curve,
)
from inescape.modules.patients.analytics._inputs import survival_input
from inescape.modules.patients.analytics.log_rank import risk_sets

SIX_MP = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_RELAPSED = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
PLACEBO = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
ARGS = {"time": "weeks", "event": "relapse", "group": "arm"}


@pytest.fixture
def remission() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "weeks": SIX_MP + PLACEBO,
            "relapse": SIX_MP_RELAPSED + [1] * len(PLACEBO),
            "arm": ["6-MP"] * len(SIX_MP) + ["placebo"] * len(PLACEBO),
        }
    )


@pytest.fixture
def tallied(remission: pl.DataFrame) -> pl.DataFrame:
    return (
        remission.group_by("arm", "weeks", "relapse")
        .agg(n=pl.len().cast(pl.Int64))
        .sample(fraction=1.0, shuffle=True, seed=3)
    )


def test_hazard_ratio_reproduces_the_published_cox_fit(remission):
    # R: coxph(Surv(time, status) ~ group, ties = "efron") on the Gehan data: coef 1.572,
    # se 0.412, HR 4.817 (95% CI 2.147 to 10.81); Kleinbaum & Klein, table 3.
    table = hazard_ratios(remission, **ARGS).to_dicts()

    reference, placebo = table
    assert reference == {
        "arm": "6-MP",
        "n": 21,
        "n_events": 9,
        "hazard_ratio": 1.0,
        "lower": None,
        "upper": None,
        "p_value": None,
        "reference": True,
    }
    assert placebo["hazard_ratio"] == pytest.approx(4.817, abs=5e-4)
    assert placebo["lower"] == pytest.approx(2.147, abs=5e-3)
    assert placebo["upper"] == pytest.approx(10.81, abs=5e-2)
    assert placebo["p_value"] == pytest.approx(1.38e-4, rel=0.02)


def test_the_reference_group_can_be_chosen_and_must_exist(remission):
    turned = hazard_ratios(remission, reference="placebo", **ARGS).to_dicts()

    assert turned[0]["hazard_ratio"] == pytest.approx(1 / 4.817, rel=1e-3)
    with pytest.raises(Invalid, match="nobody"):
        hazard_ratios(remission, reference="nobody", **ARGS)


def test_a_group_without_events_has_no_finite_hazard_ratio():
    frame = pl.DataFrame(
        {
            "time": [1.0, 2.0, 3.0, 4.0, 1.5, 6.0],
            "event": [1, 1, 0, 0, 1, 0],
            "arm": ["a", "a", "b", "b", "c", "c"],
        }
    )

    ratios = {r["arm"]: r["hazard_ratio"] for r in hazard_ratios(frame, group="arm").to_dicts()}

    assert ratios["a"] == 1.0
    assert ratios["b"] is None
    assert ratios["c"] == pytest.approx(1.0, abs=0.9)  # finite: c died while a was at risk


def test_a_tallied_cohort_gives_the_per_patient_answers(remission, tallied):
    def both(fn, **options):
        return fn(remission, **ARGS, **options), fn(tallied, weight="n", **ARGS, **options)

    for fn in (kaplan_meier, median_survival):
        per_patient, per_tally = both(fn)
        assert per_patient.equals(per_tally), fn.__name__
    per_patient, per_tally = both(number_at_risk, times=[0, 10, 20, 30])
    assert per_patient.equals(per_tally)
    per_patient, per_tally = both(log_rank)
    assert per_tally.statistic == pytest.approx(per_patient.statistic, rel=1e-12)
    assert per_tally.groups == per_patient.groups
    per_patient, per_tally = both(hazard_ratios)
    for a, b in zip(per_patient.to_dicts(), per_tally.to_dicts(), strict=True):
        assert {k: v for k, v in a.items() if not isinstance(v, float)} == {
            k: v for k, v in b.items() if not isinstance(v, float)
        }
        assert [v for v in a.values() if isinstance(v, float)] == pytest.approx(
            [v for v in b.values() if isinstance(v, float)], rel=1e-9
        )


def test_weights_must_count_patients(tallied):
    with pytest.raises(Invalid, match="'n'"):
        kaplan_meier(tallied.with_columns(pl.col("n") * 0.5), weight="n", **ARGS)
    with pytest.raises(Invalid, match="'n'"):
        kaplan_meier(tallied.with_columns(pl.col("n") * -1), weight="n", **ARGS)


def test_ages_of_a_tallied_cohort_give_the_per_patient_summary():
    ages = [34, 51, 51, 58, 62, 62, 62, 67, 70, 71, 75, 88, 90, 90]
    frame = pl.DataFrame({"age": ages})
    tallied = frame.group_by("age").agg(n=pl.len().cast(pl.Int64))

    assert age_distribution(tallied, weight="n").equals(age_distribution(frame))
    summary, expected = (
        age_summary(tallied, weight="n").row(0, named=True),
        age_summary(frame).row(0, named=True),
    )
    assert summary == pytest.approx(expected, rel=1e-12)


def test_the_summarised_curve_keeps_every_step_and_every_patient(remission):
    km = kaplan_meier(remission, **ARGS)
    steps = summarise_curve(km, group="arm")

    six_mp = steps.filter(pl.col("arm") == "6-MP")
    assert six_mp["time"].to_list() == [0, 6, 7, 10, 13, 16, 22, 23, 35]  # steps, start and end
    for arm in ("6-MP", "placebo"):
        whole, kept = km.filter(pl.col("arm") == arm), steps.filter(pl.col("arm") == arm)
        assert kept["n_events"].sum() == whole["n_events"].sum()
        assert kept["n_censored"].sum() == whole["n_censored"].sum()
        # the curve at every kept time is the curve itself
        assert (
            kept.join(whole, on=["arm", "time"]).filter(pl.col("survival") != pl.col("survival_right")).height
            == 0
        )


def test_downsampling_keeps_at_most_about_the_points_asked_for(remission):
    km = kaplan_meier(remission, **ARGS)

    thin = summarise_curve(km, group="arm", points=4)

    assert thin.group_by("arm").len()["len"].max() <= 4 + 2
    assert thin["n_events"].sum() == km["n_events"].sum()
    with pytest.raises(Invalid):
        summarise_curve(km, group="arm", points=1)


def test_a_p_value_below_the_smallest_float_keeps_its_size():
    assert chi2_log10_sf(16.79, 1) == pytest.approx(math.log10(chi2_sf(16.79, 1)), rel=1e-12)
    assert chi2_log10_sf(1.5, 3) == pytest.approx(math.log10(chi2_sf(1.5, 3)), rel=1e-12)
    assert chi2_sf(2000, 1) == 0.0
    # P(chi2_1 > x) = erfc(sqrt(x/2)) ~ exp(-x/2) / sqrt(pi x/2) (1 - 1/x): log10 about -436.0
    x = 2000.0
    asymptotic = (-x / 2 - 0.5 * math.log(math.pi * x / 2) + math.log1p(-1 / x)) / math.log(10)
    assert chi2_log10_sf(x, 1) == pytest.approx(asymptotic, abs=1e-3)


def test_the_tie_series_gives_the_level_by_level_likelihood(monkeypatch):
    # A large cohort followed in whole months, so hundreds die at each time (the series' case),
    # and few remain at the last times (summed level by level): both must give one likelihood.
    rng = np.random.default_rng(7)
    arm = rng.integers(0, 3, 200_000)
    months = np.ceil(rng.exponential(np.array([30.0, 20.0, 12.0])[arm])).astype(np.int64)
    frame = pl.DataFrame(
        {"months": months, "died": (rng.random(arm.size) < 0.8).astype(np.int64), "arm": arm}
    )
    risk = risk_sets(survival_input(frame, time="months", event="died", group="arm"), "arm")
    beta = np.array([0.4, 0.9])

    summed_by_level: list[int] = []
    by_level = cox._level_sums

    def spy(sums, chosen, *rest):  # type: ignore[no-untyped-def]
        summed_by_level.append(chosen.size)
        return by_level(sums, chosen, *rest)

    monkeypatch.setattr(cox, "_level_sums", spy)
    fast = cox._efron(risk.at_risk, risk.deaths, beta)
    assert 0 < summed_by_level[0] < 0.2 * risk.times.size  # the last few times only
    monkeypatch.setattr(cox, "_SERIES_REACH", 0.0)
    exact = cox._efron(risk.at_risk, risk.deaths, beta)

    assert risk.deaths.sum(axis=1).max() > 1_000  # many ties at a time: what the series is for
    assert fast[0] == pytest.approx(exact[0], rel=1e-13)
    assert fast[1] == pytest.approx(exact[1], rel=1e-9, abs=1e-6)
    assert fast[2] == pytest.approx(exact[2], rel=1e-12)
