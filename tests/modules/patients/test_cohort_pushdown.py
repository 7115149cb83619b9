"""The cohort answers are computed in the database (tallies, not patients) and give the numbers
the per-patient analytics give on the same cohort; survival by endpoint (OS, PFS, DFS, CSS),
by staging scheme, with hazard ratios and curves summarised to their steps."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import polars as pl
import pytest
from sqlalchemy import create_engine

from inescape.migrate import sync_url
from inescape.modules.patients.analytics import (
    age_distribution,
    age_summary,
    counts,
    kaplan_meier,
    log_rank,
    median_survival,
    number_at_risk,
    summarise_curve,
)
from inescape.modules.patients.cohort_service import at_risk_months
from inescape.modules.patients.facade import Codecs
from tests.support.auth import bearer
from tests.support.records import RECORD, record

ADENO = {
    **RECORD["conditions"][0],
    "histology": "adenocarcinoma",
    "morphology_code": "8140/3",
    "topography_code": "C16.0",
    "location": "egj",
}
PATHOLOGICAL = {"kind": "pathological", "t": "T3", "n": "N2", "m": "M0", "assessed_on": "2023-05-01"}


def month(m: int) -> str:
    year, index = divmod(m, 12)
    return f"{2023 + year}-{index + 1:02d}-15"


def died(m: int, *, cause: str | None = "esophageal cancer", recurred: int | None = None) -> dict:
    outcome: dict[str, Any] = {"vital_status": "dead", "last_follow_up": month(m), "death_date": month(m)}
    if cause:
        outcome["cause_of_death"] = cause
    if recurred is not None:
        outcome["recurrence_date"] = month(recurred)
    return outcome


def alive(m: int, *, recurred: int | None = None) -> dict:
    outcome: dict[str, Any] = {"vital_status": "alive", "last_follow_up": month(m)}
    if recurred is not None:
        outcome["recurrence_date"] = month(recurred)
    return outcome


def staged(group: str) -> list[dict]:
    return [*RECORD["staging"], {**PATHOLOGICAL, "stage_group": group}]


COHORT = [
    record(outcome=died(5, recurred=3), staging=staged("IIIA")),
    record(outcome=died(6, cause="myocardial infarction"), staging=staged("IIIB")),
    record(outcome=died(8, recurred=4), staging=staged("IIIB")),
    record(outcome=died(14, cause=None)),
    record(outcome=alive(30, recurred=12), birth_date="1920-05-01"),  # 103 at diagnosis (by year)
    record(sex="female", conditions=[ADENO], outcome=died(10, recurred=7), staging=staged("IIA")),
    record(sex="female", conditions=[ADENO], outcome=died(20)),
    record(sex="female", conditions=[ADENO], outcome=alive(28), staging=staged("IIA")),
    record(sex="female", conditions=[ADENO], outcome=alive(24, recurred=18)),
    record(sex="female", conditions=[ADENO], outcome=alive(26), birth_date="1990-02-02"),
]


@pytest.fixture
async def clinician(client):
    headers = await bearer(client, client.app, "dr.tally", ["clinician"])
    response = await client.post("/api/v1/patients/bulk", json=COHORT, headers=headers)
    assert response.status_code == 201, response.text
    return headers


def _wide(url: str) -> pl.DataFrame:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            frame: pl.DataFrame = Codecs().read_cohort(conn, today=date.today(), wide=True)
            return frame
    finally:
        engine.dispose()


async def survival(client: Any, headers: dict[str, str], **params: Any) -> Any:
    response = await client.get("/api/v1/patients/cohort/survival", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def close(left: list[dict[str, Any]], right: list[dict[str, Any]]) -> bool:
    assert len(left) == len(right), (left, right)
    for a, b in zip(left, right, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            if isinstance(a[key], float) and b[key] is not None:
                assert a[key] == pytest.approx(b[key], rel=1e-9), (key, a, b)
            else:
                assert a[key] == b[key], (key, a, b)
    return True


async def test_the_answers_are_the_per_patient_analytics_of_the_same_cohort(client, clinician, settings):
    frame = await asyncio.to_thread(_wide, settings.database_url)
    assert frame.height == 10

    got_counts = (
        await client.get("/api/v1/patients/cohort/counts", params={"by": "histology,sex"}, headers=clinician)
    ).json()["items"]
    ages = (await client.get("/api/v1/patients/cohort/age", headers=clinician)).json()
    body = await survival(client, clinician, group="histology")

    assert close(got_counts, counts(frame, ["histology", "sex"]).to_dicts())
    assert close(ages["bins"], age_distribution(frame).to_dicts())
    assert close(ages["summary"], age_summary(frame).to_dicts())
    km = kaplan_meier(frame, group="histology")
    assert close(body["km"], summarise_curve(km, group="histology").to_dicts())
    assert close(body["median"], median_survival(frame, group="histology").to_dicts())
    times = [0, 12, 24]  # every year across the follow-up (its longest: 30 months)
    assert close(body["at_risk"], number_at_risk(frame, times=times, group="histology").to_dicts())
    expected = log_rank(frame, group="histology")
    assert body["log_rank"]["statistic"] == pytest.approx(expected.statistic)
    assert body["log_rank"]["p_value"] == pytest.approx(expected.p_value)
    assert body["log_rank"]["p_value_log10"] < 0


async def test_the_curve_keeps_its_steps_and_every_patient(client, clinician):
    body = await survival(client, clinician)

    assert body["km"][0]["time"] == 0
    assert [r for r in body["km"][1:-1] if r["n_events"] == 0] == []  # only where the curve steps
    assert sum(r["n_events"] for r in body["km"]) == 6  # 6 deaths
    assert sum(r["n_events"] + r["n_censored"] for r in body["km"]) == 10
    fewer = await survival(client, clinician, points=3)
    assert len(fewer["km"]) <= 5  # the start, about three slices and the end
    assert sum(r["n_events"] for r in fewer["km"]) == 6
    assert fewer["median"] == body["median"]


async def test_progression_free_survival_counts_recurrences_before_death(client, clinician):
    overall = await survival(client, clinician, group="histology")
    pfs = await survival(client, clinician, group="histology", endpoint="pfs")

    events = {r["histology"]: r["n_events"] for r in pfs["median"]}
    # SCC: 4 deaths and one recurrence in a survivor; adeno: 2 deaths and one recurrence.
    assert events == {"squamous_cell_carcinoma": 5, "adenocarcinoma": 3}
    scc = [r for r in pfs["km"] if r["histology"] == "squamous_cell_carcinoma" and r["n_events"]]
    first_event_months = min(r["time"] for r in scc)
    assert first_event_months == pytest.approx((date(2023, 4, 15) - date(2023, 1, 10)).days / 30.4375)
    medians = {r["histology"]: r["median"] for r in overall["median"]}
    assert {r["histology"]: r["median"] for r in pfs["median"]}["squamous_cell_carcinoma"] < medians[
        "squamous_cell_carcinoma"
    ]
    assert pfs["endpoint"] == "pfs"


async def test_disease_free_survival_starts_at_surgery(client, clinician):
    dfs = await survival(client, clinician, endpoint="dfs")

    # Every record's esophagectomy was on 2023-04-20: a recurrence found before it counts at
    # time 0, the one of 2023-05-15 25 days after.
    steps = [r["time"] for r in dfs["km"] if r["n_events"]]
    assert steps[0] == 0.0
    assert steps[1] == pytest.approx(25 / 30.4375)
    assert sum(r["n_events"] for r in dfs["km"]) == 8


async def test_cancer_specific_survival_censors_other_deaths(client, clinician):
    css = await survival(client, clinician)
    specific = await survival(client, clinician, endpoint="css")

    assert sum(r["n_events"] for r in css["km"]) == 6
    # one death from a heart attack, one without a recorded cause: censored at death
    assert sum(r["n_events"] for r in specific["km"]) == 4
    assert sum(r["n_events"] + r["n_censored"] for r in specific["km"]) == 10


async def test_an_endpoint_the_data_cannot_answer_is_refused_naming_what_is_missing(client, clinician):
    without = {"histology": "adenocarcinoma", "sex": "male"}  # nobody: empty
    assert (
        await client.get(
            "/api/v1/patients/cohort/survival", params={**without, "endpoint": "pfs"}, headers=clinician
        )
    ).status_code == 422
    await client.post(
        "/api/v1/patients/bulk",
        json=[record(conditions=[{**ADENO, "histology": "other"}], outcome=alive(10))],
        headers=clinician,
    )
    response = await client.get(
        "/api/v1/patients/cohort/survival",
        params={"histology": "other", "endpoint": "pfs"},
        headers=clinician,
    )
    assert response.status_code == 422
    assert "recurrence" in response.json()["detail"]
    css = await client.get(
        "/api/v1/patients/cohort/survival",
        params={"histology": "other", "endpoint": "css"},
        headers=clinician,
    )
    assert css.status_code == 422
    assert "cause" in css.json()["detail"]
    unknown = await client.get(
        "/api/v1/patients/cohort/survival", params={"endpoint": "efs"}, headers=clinician
    )
    assert unknown.status_code in (400, 422)


async def test_grouping_by_a_staging_scheme_leaves_out_the_unstaged(client, clinician):
    body = await survival(client, clinician, group="stage_group", scheme="pathological")
    clinical = await survival(client, clinician, group="stage_group", scheme="clinical")
    counted = (
        await client.get(
            "/api/v1/patients/cohort/counts",
            params={"by": "stage_group", "scheme": "pathological"},
            headers=clinician,
        )
    ).json()["items"]

    assert {r["stage_group"]: r["n"] for r in body["median"]} == {"IIIA": 1, "IIIB": 2, "IIA": 2}
    assert body["excluded"] == 5
    assert {r["stage_group"] for r in clinical["median"]} == {"III"}
    assert {r["stage_group"]: r["n"] for r in counted} == {"IIIB": 2, "IIA": 2, "IIIA": 1, None: 5}


async def test_hazard_ratios_compare_each_group_with_the_reference(client, clinician):
    body = await survival(client, clinician, group="histology")
    turned = await survival(client, clinician, group="histology", reference="squamous_cell_carcinoma")

    ratios = {r["histology"]: r for r in body["hazard_ratios"]}
    assert ratios["adenocarcinoma"]["reference"] is True
    assert ratios["adenocarcinoma"]["hazard_ratio"] == 1
    scc = ratios["squamous_cell_carcinoma"]
    assert scc["hazard_ratio"] > 1  # earlier deaths
    assert scc["lower"] < scc["hazard_ratio"] < scc["upper"]
    assert 0 < scc["p_value"] < 1
    back = {r["histology"]: r for r in turned["hazard_ratios"]}["adenocarcinoma"]
    assert back["hazard_ratio"] == pytest.approx(1 / scc["hazard_ratio"])
    missing = await client.get(
        "/api/v1/patients/cohort/survival",
        params={"group": "histology", "reference": "other"},
        headers=clinician,
    )
    assert missing.status_code == 422


async def test_a_researcher_sees_the_over_89_group_whole_in_the_pushed_down_ages(client, clinician):
    researcher = await bearer(client, client.app, "res.tally", ["researcher"])

    shown = (await client.get("/api/v1/patients/cohort/age", headers=researcher)).json()
    whole = (await client.get("/api/v1/patients/cohort/age", headers=clinician)).json()

    assert whole["summary"][0]["max"] == 103
    assert shown["summary"][0]["max"] == 90
    assert sum(b["n"] for b in shown["bins"]) == 10


async def test_progression_free_survival_counts_a_progression_as_a_recurrence_is_counted(client, clinician):
    before = await survival(client, clinician, endpoint="pfs")
    # a patient never made disease-free, alive at 30 months, whose disease progressed at month 2
    progressed = {**alive(30), "progression_date": month(2)}
    response = await client.post(
        "/api/v1/patients/bulk", json=[record(outcome=progressed)], headers=clinician
    )
    assert response.status_code == 201, response.text

    after = await survival(client, clinician, endpoint="pfs")
    overall = await survival(client, clinician)
    dfs = await survival(client, clinician, endpoint="dfs")

    assert sum(r["n_events"] for r in after["km"]) == sum(r["n_events"] for r in before["km"]) + 1
    first = min(r["time"] for r in after["km"] if r["n_events"])
    assert first == pytest.approx((date(2023, 3, 15) - date(2023, 1, 10)).days / 30.4375)
    assert sum(r["n_events"] for r in overall["km"]) == 6  # alive: no death counted
    assert sum(r["n_events"] for r in dfs["km"]) == 8  # a progression is not a recurrence


@pytest.mark.parametrize(
    ("longest", "times"),
    [
        (0.0, (0,)),
        (30.4, (0, 12, 24)),
        (120.0, tuple(range(0, 121, 12))),  # eleven columns, yearly
        (170.0, tuple(range(0, 169, 24))),  # SEER-length follow-up: every two years, to the end
        (400.0, tuple(range(0, 401, 48))),
    ],
)
def test_the_numbers_at_risk_span_the_whole_follow_up(longest, times):
    assert at_risk_months(longest) == times
