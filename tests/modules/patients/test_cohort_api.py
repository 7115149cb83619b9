"""Cohort analytics over HTTP and from a notebook: counts, ages, Kaplan-Meier by group with
log-rank, as JSON and as pictures; cached until a record changes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.support.auth import bearer
from tests.support.records import RECORD, record

ADENO = {
    **RECORD["conditions"][0],
    "histology": "adenocarcinoma",
    "morphology_code": "8140/3",
    "topography_code": "C16.0",
    "location": "egj",
}


def died(months_after_2023_01_10: int) -> dict:
    year, month = divmod(months_after_2023_01_10, 12)
    day = f"{2023 + year}-{month + 1:02d}-15"
    return {"vital_status": "dead", "last_follow_up": day, "death_date": day}


@pytest.fixture
async def clinician(client):
    headers = await bearer(client, client.app, "dr.cohort", ["clinician"])
    scc = [record(outcome=died(m)) for m in (5, 6, 8, 14)] + [record()]
    adeno = [record(sex="female", conditions=[ADENO], outcome=died(m)) for m in (10, 20)]
    adeno += [record(sex="female", conditions=[ADENO]) for _ in range(3)]
    response = await client.post("/api/v1/patients/bulk", json=scc + adeno, headers=headers)
    assert response.status_code == 201, response.text
    return headers


async def test_counts_by_histology_and_sex(client, clinician):
    body = (
        await client.get("/api/v1/patients/cohort/counts", params={"by": "histology,sex"}, headers=clinician)
    ).json()

    by_group = {(r["histology"], r["sex"]): r["n"] for r in body["items"]}
    assert by_group == {("squamous_cell_carcinoma", "male"): 5, ("adenocarcinoma", "female"): 5}


async def test_survival_by_histology_has_curves_medians_at_risk_and_a_log_rank(client, clinician):
    body = (
        await client.get("/api/v1/patients/cohort/survival", params={"group": "histology"}, headers=clinician)
    ).json()

    medians = {r["histology"]: r["median"] for r in body["median"]}
    assert medians["adenocarcinoma"] is None  # 2 deaths in 5: never below one half
    assert 7 < medians["squamous_cell_carcinoma"] < 9  # the 3rd of 5 deaths, ~8.2 months
    assert body["log_rank"]["df"] == 1
    assert 0 < body["log_rank"]["p_value"] < 1
    at_zero = {r["histology"]: r["n_at_risk"] for r in body["at_risk"] if r["time"] == 0}
    assert at_zero == {"squamous_cell_carcinoma": 5, "adenocarcinoma": 5}
    assert all(0 <= r["lower"] <= r["survival"] <= r["upper"] <= 1 for r in body["km"])


async def test_the_survival_picture_is_an_svg_with_one_curve_per_group(client, clinician):
    response = await client.get(
        "/api/v1/patients/cohort/survival", params={"group": "histology", "format": "svg"}, headers=clinician
    )

    assert response.headers["content-type"].startswith("image/svg+xml")
    tree = ET.fromstring(response.text)
    texts = " ".join(t.text or "" for t in tree.iter() if t.tag.endswith("text"))
    assert "adenocarcinoma" in texts
    assert "squamous" in texts


async def test_a_new_record_changes_the_cached_answer(client, clinician):
    before = (await client.get("/api/v1/patients/cohort/counts", headers=clinician)).json()
    await client.post("/api/v1/patients", json=record(), headers=clinician)
    after = (await client.get("/api/v1/patients/cohort/counts", headers=clinician)).json()

    n = {r["histology"]: r["n"] for r in after["items"]}
    assert {r["histology"]: r["n"] for r in before["items"]}["squamous_cell_carcinoma"] == 5
    assert n["squamous_cell_carcinoma"] == 6


async def test_bad_cohort_parameters_are_refused(client, clinician):
    assert (
        await client.get("/api/v1/patients/cohort/counts", params={"by": "mrn"}, headers=clinician)
    ).status_code == 422
    assert (
        await client.get("/api/v1/patients/cohort/survival", params={"group": "mrn"}, headers=clinician)
    ).status_code == 422
    assert (
        await client.get("/api/v1/patients/cohort/survival", params={"histology": "other"}, headers=clinician)
    ).status_code == 422
