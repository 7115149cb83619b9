"""Cohort analytics over HTTP and from a notebook: counts, ages, Kaplan-Meier by group with
log-rank, as JSON and as pictures; cached until a record changes."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from inescape.infra.web_security import API_CSP
from tests.support.auth import bearer
from tests.support.records import ADENO, died, record

SVG = "{http://www.w3.org/2000/svg}"


def texts(node: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in node.iter(f"{SVG}text")]


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
    assert response.headers["content-security-policy"] == API_CSP  # no script can run in it
    tree = ET.fromstring(response.text)
    groups = {g.get("id"): g for g in tree.iter(f"{SVG}g") if g.get("id")}
    assert len([i for i in groups if i.startswith("km-curve-")]) == 2
    assert sorted(texts(groups["legend"])) == ["adenocarcinoma", "censored", "squamous cell carcinoma"]
    at_risk = texts(groups["at-risk"])
    assert at_risk[0] == "Number at risk"
    # five patients of each histology at the start, under time 0
    assert at_risk[at_risk.index("adenocarcinoma") + 1] == "5"
    assert at_risk[at_risk.index("squamous cell carcinoma") + 1] == "5"
    assert {"Time (months)", "Survival probability"} <= set(texts(tree))
    assert not [e for e in tree.iter() if e.tag == f"{SVG}script" or "style" in e.attrib]


async def test_the_age_picture_is_a_histogram_with_its_counts(client, clinician):
    response = await client.get("/api/v1/patients/cohort/age", params={"format": "svg"}, headers=clinician)

    assert response.headers["content-type"].startswith("image/svg+xml")
    tree = ET.fromstring(response.text)
    counts = [
        t for g in tree.iter(f"{SVG}g") if (g.get("id") or "").startswith("bar-count-") for t in texts(g)
    ]
    assert sum(int(c) for c in counts) == 10  # every diagnosed patient in one bar
    labels = texts(tree)
    assert {"Age at diagnosis", "Age (years)", "Patients", "median"} <= set(labels)
    assert any(label.startswith("n = 10 ") for label in labels)


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
