"""The cohort explorer's filters and facets over HTTP: several values per filter (OR within a
field, AND across fields), treatment and biomarker facets, stage groups by scheme; the counts
agree with the patient list under the same filters."""

from __future__ import annotations

import pytest

from tests.support.auth import bearer
from tests.support.records import ADENO, RECORD, record

SURGERY_ONLY = [t for t in RECORD["treatments"] if t["kind"] == "surgery"]
HER2 = [{"kind": "her2", "value": "3+", "measured_on": "2023-01-25"}]
PATHOLOGICAL = {
    "kind": "pathological",
    "t": "T2",
    "n": "N0",
    "m": "M0",
    "stage_group": "IIA",
    "assessed_on": "2023-04-25",
}


def cohort() -> list[dict]:
    """10 patients: 4 SCC men after trimodality therapy (one also pathologically staged),
    3 adenocarcinoma women with surgery only and HER2 3+, 2 'other' women with no treatment
    and 1 SCC woman with both biomarkers."""
    scc = [record() for _ in range(3)] + [record(staging=[*RECORD["staging"], PATHOLOGICAL])]
    adeno = [
        record(sex="female", conditions=[ADENO], treatments=SURGERY_ONLY, biomarkers=HER2) for _ in range(3)
    ]
    other = [
        record(
            sex="female",
            conditions=[{**RECORD["conditions"][0], "histology": "other"}],
            treatments=[],
            biomarkers=[],
        )
        for _ in range(2)
    ]
    both = [record(sex="female", biomarkers=[*RECORD["biomarkers"], *HER2])]
    return scc + adeno + other + both


@pytest.fixture
async def clinician(client):
    headers = await bearer(client, client.app, "dr.filters", ["clinician"])
    response = await client.post("/api/v1/patients/bulk", json=cohort(), headers=headers)
    assert response.status_code == 201, response.text
    return headers


async def counts(client, headers, **params) -> dict:
    response = await client.get("/api/v1/patients/cohort/counts", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def listed(client, headers, **params) -> int:
    response = await client.get("/api/v1/patients", params={"limit": 500, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def test_several_values_of_a_filter_select_any_of_them_and_the_list_agrees(client, clinician):
    params = {"histology": "adenocarcinoma,other", "sex": "female"}
    body = await counts(client, clinician, by="histology", **params)

    assert {r["histology"]: r["n"] for r in body["items"]} == {"adenocarcinoma": 3, "other": 2}
    assert await listed(client, clinician, **params) == 5
    assert await listed(client, clinician, histology="adenocarcinoma,other", sex="male") == 0
    assert await listed(client, clinician, location="middle,egj") == 10


async def test_treatment_facet_counts_a_patient_once_in_each_kind_they_had(client, clinician):
    body = await counts(client, clinician, by="treatment")

    by_kind = {r["treatment"]: r["n"] for r in body["items"]}
    # trimodality: 5 patients (4 men and the woman with both biomarkers); surgery also the 3 adeno
    assert by_kind == {"surgery": 8, "systemic": 5, "radiotherapy": 5, None: 2}
    shares = {r["treatment"]: r["share"] for r in body["items"]}
    assert shares["surgery"] == pytest.approx(0.8)  # of the 10 patients, not of the 20 rows


async def test_treatment_filter_selects_patients_who_had_one_of_the_kinds(client, clinician):
    assert await listed(client, clinician, treatment="radiotherapy") == 5
    assert await listed(client, clinician, treatment="radiotherapy,surgery") == 8
    body = await counts(client, clinician, by="histology", treatment="surgery")
    assert {r["histology"]: r["n"] for r in body["items"]} == {
        "squamous_cell_carcinoma": 5,
        "adenocarcinoma": 3,
    }


async def test_biomarker_facet_and_filter_read_kind_and_value(client, clinician):
    body = await counts(client, clinician, by="biomarker")
    assert {r["biomarker"]: r["n"] for r in body["items"]} == {"her2:3+": 4, "pdl1_tps:5": 5, None: 2}

    assert await listed(client, clinician, biomarker="HER2:3+") == 4
    assert await listed(client, clinician, biomarker="her2:3+,pdl1_tps:5") == 8
    assert await listed(client, clinician, biomarker="her2:3+", sex="male") == 0
    by_sex = await counts(client, clinician, by="sex", biomarker="her2:3+")
    assert {r["sex"]: r["n"] for r in by_sex["items"]} == {"female": 4}


async def test_stage_group_follows_the_scheme(client, clinician):
    clinical = await counts(client, clinician, by="stage_group", scheme="clinical", stage_group="III,IIA")
    assert {r["stage_group"]: r["n"] for r in clinical["items"]} == {"III": 10}
    pathological = await counts(
        client, clinician, by="stage_group", scheme="pathological", stage_group="IIA,IIB"
    )
    assert {r["stage_group"]: r["n"] for r in pathological["items"]} == {"IIA": 1}
    assert await listed(client, clinician, scheme="pathological", stage_group="IIA") == 1
    assert await listed(client, clinician, scheme="clinical", stage_group="IIA") == 0
    assert await listed(client, clinician, scheme="clinical", stage_group="III") == 10


async def test_the_age_chart_follows_a_stage_selection_in_its_scheme(client, clinician):
    ages = await client.get(
        "/api/v1/patients/cohort/age",
        params={"scheme": "pathological", "stage_group": "IIA"},
        headers=clinician,
    )

    assert ages.status_code == 200, ages.text
    assert sum(b["n"] for b in ages.json()["bins"]) == 1  # the one pathological IIA


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"histology": "adenocarcinoma,carcinoid"}, "histology"),
        ({"treatment": "surgery,chemo"}, "treatment"),
        ({"biomarker": "her2"}, "biomarker"),
        ({"biomarker": "ki67:high"}, "biomarker"),
        ({"stage_group": "V"}, "stage_group"),
        ({"sex": ","}, "sex"),
    ],
)
async def test_a_bad_filter_value_is_refused_naming_the_field(client, clinician, params, field):
    for path in ("/api/v1/patients/cohort/counts", "/api/v1/patients", "/api/v1/patients/cohort/survival"):
        response = await client.get(path, params=params, headers=clinician)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["errors"][0]["field"] == field
        assert set(response.json()) >= {"detail", "status_code"}


async def test_a_researcher_cannot_select_or_group_on_what_the_view_hides(client, clinician):
    researcher = await bearer(client, client.app, "res.filters", ["researcher"])

    shown = await counts(client, researcher, by="histology", histology="adenocarcinoma,other")
    assert {r["histology"]: r["n"] for r in shown["items"]} == {"adenocarcinoma": 3, "other": 2}
    assert await listed(client, researcher, histology="adenocarcinoma,other") == 5
    # the de-identified record keeps treatment and biomarker kinds: a researcher counts by them
    by_treatment = await counts(client, researcher, by="treatment")
    assert by_treatment["items"] == (await counts(client, clinician, by="treatment"))["items"]
    assert await listed(client, researcher, biomarker="her2:3+") == 4
    # and drops the origin and source (the default policy)
    for params in ({"origin": "real"}, {"by": "origin"}, {"source": "x"}):
        response = await client.get("/api/v1/patients/cohort/counts", params=params, headers=researcher)
        assert response.status_code == 403, (params, response.text)
    assert (
        await client.get("/api/v1/patients", params={"origin": "real"}, headers=researcher)
    ).status_code == 403
