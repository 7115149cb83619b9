"""Two cohorts compared over HTTP (the explorer's A and B): each one's size and median, the
patients they share, and a log-rank test and hazard ratio that stay valid when they share
patients (only-A against only-B)."""

from __future__ import annotations

import pytest

from tests.support.auth import bearer
from tests.support.records import ADENO, died, record

COMPARE = "/api/v1/patients/cohort/compare"


@pytest.fixture
async def clinician(client):
    """5 SCC men (4 died early), 2 SCC women (1 died), 5 adenocarcinoma women (2 died late)."""
    headers = await bearer(client, client.app, "dr.compare", ["clinician"])
    scc_men = [record(outcome=died(m)) for m in (5, 6, 8, 14)] + [record()]
    scc_women = [record(sex="female", outcome=died(9)), record(sex="female")]
    adeno = [record(sex="female", conditions=[ADENO], outcome=died(m)) for m in (10, 20)]
    adeno += [record(sex="female", conditions=[ADENO]) for _ in range(3)]
    response = await client.post("/api/v1/patients/bulk", json=scc_men + scc_women + adeno, headers=headers)
    assert response.status_code == 201, response.text
    return headers


async def compare(client, headers, a: str, b: str, **params) -> dict:
    response = await client.get(COMPARE, params={"a": a, "b": b, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def survival(client, headers, **params) -> dict:
    response = await client.get("/api/v1/patients/cohort/survival", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_cohorts_sharing_nobody_are_tested_as_the_grouped_curve_tests_them(client, clinician):
    body = await compare(client, clinician, "histology=squamous_cell_carcinoma", "histology=adenocarcinoma")
    grouped = await survival(client, clinician, group="histology")

    assert (body["a"]["n"], body["b"]["n"], body["overlap"]) == (7, 5, 0)
    assert body["compared"] == "whole"
    assert (body["only_a"], body["only_b"]) == (7, 5)
    assert body["log_rank"]["p_value"] == pytest.approx(grouped["log_rank"]["p_value"])
    assert body["log_rank"]["statistic"] == pytest.approx(grouped["log_rank"]["statistic"])
    medians = {r["histology"]: r["median"] for r in grouped["median"]}
    assert body["a"]["median"] == pytest.approx(medians["squamous_cell_carcinoma"])
    assert body["b"]["median"] is None  # 2 deaths in 5
    # adenocarcinoma (B) died later and less: a hazard ratio below one against SCC (A)
    assert body["hazard_ratio"]["hazard_ratio"] < 1


async def test_shared_patients_are_counted_then_left_out_of_the_test(client, clinician):
    # A: every SCC patient; B: every woman. Shared: the 2 SCC women.
    body = await compare(client, clinician, "histology=squamous_cell_carcinoma", "sex=female")
    # the same sets written so that they share nobody: SCC men against adenocarcinoma women
    apart = await compare(
        client, clinician, "histology=squamous_cell_carcinoma&sex=male", "sex=female&histology=adenocarcinoma"
    )

    assert (body["a"]["n"], body["b"]["n"], body["overlap"]) == (7, 7, 2)
    assert body["compared"] == "exclusive"
    assert (body["only_a"], body["only_b"]) == (5, 5)
    assert body["log_rank"]["p_value"] == pytest.approx(apart["log_rank"]["p_value"])
    assert body["hazard_ratio"]["hazard_ratio"] == pytest.approx(apart["hazard_ratio"]["hazard_ratio"])
    assert apart["overlap"] == 0
    # a cohort inside the other leaves one side empty: no test, but both sizes
    nested = await compare(client, clinician, "", "histology=adenocarcinoma")
    assert (nested["a"]["n"], nested["b"]["n"], nested["overlap"], nested["only_b"]) == (12, 5, 5, 0)
    assert nested["log_rank"] is None
    assert nested["hazard_ratio"] is None


async def test_a_saved_cohort_can_be_one_side(client, clinician):
    saved = await client.post(
        "/api/v1/cohorts",
        json={"name": "adenocarcinoma", "filters": {"histology": ["adenocarcinoma"]}},
        headers=clinician,
    )
    assert saved.status_code == 201, saved.text
    scc = "histology=squamous_cell_carcinoma"
    by_id = await compare(client, clinician, scc, f"cohort={saved.json()['id']}")
    by_filter = await compare(client, clinician, scc, "histology=adenocarcinoma")
    assert by_id["log_rank"] == by_filter["log_rank"]


@pytest.mark.parametrize(
    ("a", "field"),
    [
        ("colour=red", "a.colour"),
        ("histology=sarcoma", "a.histology"),
        ("min_age=old", "a.min_age"),
    ],
)
async def test_a_bad_cohort_is_refused_naming_its_side_and_field(client, clinician, a, field):
    response = await client.get(COMPARE, params={"a": a, "b": "sex=female"}, headers=clinician)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field
    assert set(response.json()) >= {"detail", "status_code"}


async def test_an_empty_side_or_a_missing_side_is_a_422(client, clinician):
    response = await client.get(COMPARE, params={"a": "histology=other", "b": ""}, headers=clinician)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "a"
    response = await client.get(COMPARE, params={"a": "histology=other"}, headers=clinician)
    assert response.status_code == 422, response.text


async def test_a_researcher_compares_on_what_the_view_shows_and_the_read_is_audited(client, clinician):
    researcher = await bearer(client, client.app, "res.compare", ["researcher"])
    shown = await compare(client, researcher, "histology=squamous_cell_carcinoma", "histology=adenocarcinoma")
    assert (shown["a"]["n"], shown["b"]["n"]) == (7, 5)
    hidden = await client.get(COMPARE, params={"a": "origin=real", "b": ""}, headers=researcher)
    assert hidden.status_code == 403, hidden.text

    auditor = await bearer(client, client.app, "aud.compare", ["auditor"])
    trail = await client.get("/api/v1/audit/events", params={"user": "res.compare"}, headers=auditor)
    assert trail.status_code == 200, trail.text
    events = [(e["action"], e["outcome"]) for e in trail.json()["items"]]
    assert ("patients.cohort_compare", "success") in events
    assert ("patients.cohort_compare", "denied") in events
