"""Saved cohorts over HTTP: a definition checked when saved (nothing stored when it is wrong),
used as cohort=<id> by the cohort endpoints and the patient list (AND with the query's
filters), shared between readers, deleted by its creator or an administrator, audited, and
closed to a researcher where it selects on what the de-identified view hides."""

from __future__ import annotations

import pytest

from tests.modules.patients.test_cohort_filters import cohort
from tests.support.auth import bearer, gateway_of, on_app_loop

UNKNOWN = "0190f0f0-0000-7000-8000-000000000000"


@pytest.fixture
async def clinician(client):
    headers = await bearer(client, client.app, "dr.saved", ["clinician"])
    response = await client.post("/api/v1/patients/bulk", json=cohort(), headers=headers)
    assert response.status_code == 201, response.text
    return headers


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.saved", ["researcher"])


async def save(client, headers, filters, name="operated women") -> dict:
    response = await client.post(
        "/api/v1/cohorts", json={"name": name, "description": None, "filters": filters}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def listed(client, headers, **params) -> int:
    response = await client.get("/api/v1/patients", params={"limit": 500, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


async def audit_of(client, action: str) -> list:
    return await on_app_loop(
        client.app,
        gateway_of(client.app).trail.query(filters={"action": action}, before_seq=None, limit=50),
    )


async def test_a_saved_cohort_counts_what_the_list_shows_under_its_filters(client, clinician):
    filters = {"sex": ["female"], "treatment": ["surgery"], "max_age": 80}
    saved = await save(client, clinician, filters)

    assert saved["filters"] == filters
    assert saved["created_by"] == "dr.saved"
    assert saved["patients"] == 4 == await listed(client, clinician, sex="female", treatment="surgery")
    assert await listed(client, clinician, cohort=saved["id"]) == 4
    again = await client.get(f"/api/v1/cohorts/{saved['id']}", headers=clinician)
    assert again.status_code == 200
    assert again.json() == saved
    page = (await client.get("/api/v1/cohorts", headers=clinician)).json()
    assert [c["id"] for c in page["items"]] == [saved["id"]]
    assert page["next_cursor"] is None


async def test_cohort_id_joins_the_query_filters_with_and_on_every_cohort_read(client, clinician):
    saved = await save(client, clinician, {"sex": ["female"], "histology": ["adenocarcinoma", "other"]})

    counts = await client.get(
        "/api/v1/patients/cohort/counts", params={"by": "histology", "cohort": saved["id"]}, headers=clinician
    )
    assert {r["histology"]: r["n"] for r in counts.json()["items"]} == {"adenocarcinoma": 3, "other": 2}
    narrowed = await client.get(
        "/api/v1/patients/cohort/counts",
        params={"by": "histology", "cohort": saved["id"], "histology": "other,squamous_cell_carcinoma"},
        headers=clinician,
    )
    assert {r["histology"]: r["n"] for r in narrowed.json()["items"]} == {"other": 2}
    assert await listed(client, clinician, cohort=saved["id"], treatment="surgery") == 3
    ages = await client.get("/api/v1/patients/cohort/age", params={"cohort": saved["id"]}, headers=clinician)
    assert sum(b["n"] for b in ages.json()["bins"]) == 5
    survival = await client.get(
        "/api/v1/patients/cohort/survival", params={"cohort": saved["id"]}, headers=clinician
    )
    assert survival.status_code == 200, survival.text
    assert survival.json()["at_risk"][0]["n_at_risk"] == 5


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"colour": ["red"]}, "filters.colour"),
        ({"histology": ["carcinoid"]}, "histology"),
        ({"treatment": "chemo"}, "treatment"),
        ({"biomarker": ["her2"]}, "biomarker"),
        ({"min_age": "sixty"}, "min_age"),
        ({"scheme": "radiological"}, "scheme"),
        ({"sex": [3]}, "sex"),
    ],
)
async def test_a_bad_definition_is_refused_naming_the_field_and_nothing_is_stored(
    client, clinician, filters, field
):
    response = await client.post(
        "/api/v1/cohorts", json={"name": "bad", "filters": filters}, headers=clinician
    )

    assert response.status_code == 422, response.text
    assert set(response.json()) >= {"detail", "status_code"}
    assert field in [e["field"] for e in response.json()["errors"]]
    assert (await client.get("/api/v1/cohorts", headers=clinician)).json()["items"] == []


async def test_a_blank_name_is_refused_and_nothing_is_stored(client, clinician):
    for body in ({"name": "  ", "filters": {}}, {"filters": {}}, {"name": "x", "filters": {}, "extra": 1}):
        response = await client.post("/api/v1/cohorts", json=body, headers=clinician)
        assert response.status_code == 422, response.text
    assert (await client.get("/api/v1/cohorts", headers=clinician)).json()["items"] == []


async def test_an_unknown_cohort_is_not_found_everywhere(client, clinician):
    for path in (
        f"/api/v1/cohorts/{UNKNOWN}",
        "/api/v1/cohorts/not-an-id",
        f"/api/v1/patients?cohort={UNKNOWN}",
        f"/api/v1/patients/cohort/counts?cohort={UNKNOWN}",
        f"/api/v1/patients/cohort/age?cohort={UNKNOWN}",
        f"/api/v1/patients/cohort/survival?cohort={UNKNOWN}",
    ):
        response = await client.get(path, headers=clinician)
        assert response.status_code == 404, (path, response.text)
    assert (await client.delete(f"/api/v1/cohorts/{UNKNOWN}", headers=clinician)).status_code == 404


async def test_a_role_without_patient_access_is_refused(client, clinician):
    saved = await save(client, clinician, {"sex": ["male"]})
    auditor = await bearer(client, client.app, "aud.saved", ["auditor"])

    assert (await client.get("/api/v1/cohorts", headers=auditor)).status_code == 403
    assert (await client.get(f"/api/v1/cohorts/{saved['id']}", headers=auditor)).status_code == 403
    assert (
        await client.post("/api/v1/cohorts", json={"name": "x", "filters": {}}, headers=auditor)
    ).status_code == 403
    assert (await client.delete(f"/api/v1/cohorts/{saved['id']}", headers=auditor)).status_code == 403
    assert len((await client.get("/api/v1/cohorts", headers=clinician)).json()["items"]) == 1


async def test_only_the_creator_or_an_administrator_deletes(client, clinician):
    saved = await save(client, clinician, {"sex": ["male"]})
    colleague = await bearer(client, client.app, "dr.other", ["clinician"])
    admin = await bearer(client, client.app, "admin.saved", ["admin", "clinician"])
    second = await save(client, colleague, {"sex": ["female"]}, name="women")

    assert (await client.delete(f"/api/v1/cohorts/{saved['id']}", headers=colleague)).status_code == 403
    assert (await client.delete(f"/api/v1/cohorts/{saved['id']}", headers=clinician)).status_code == 204
    assert (await client.get(f"/api/v1/cohorts/{saved['id']}", headers=clinician)).status_code == 404
    assert (await client.delete(f"/api/v1/cohorts/{second['id']}", headers=admin)).status_code == 204
    assert (await client.get("/api/v1/cohorts", headers=clinician)).json()["items"] == []


async def test_every_use_is_audited(client, clinician):
    saved = await save(client, clinician, {"sex": ["male"]})
    await client.get(f"/api/v1/cohorts/{saved['id']}", headers=clinician)
    await client.get("/api/v1/cohorts", headers=clinician)
    await client.delete(f"/api/v1/cohorts/{saved['id']}", headers=clinician)

    created = await audit_of(client, "patients.cohort_save")
    assert [(e.resource_id, e.user) for e in created] == [(saved["id"], "dr.saved")]
    assert [e.resource_id for e in await audit_of(client, "patients.cohort_read")] == [saved["id"]]
    assert len(await audit_of(client, "patients.cohort_list")) == 1
    assert [e.resource_id for e in await audit_of(client, "patients.cohort_delete")] == [saved["id"]]


async def test_a_researcher_neither_saves_nor_uses_a_cohort_on_hidden_fields(client, clinician, researcher):
    refused = await client.post(
        "/api/v1/cohorts", json={"name": "real ones", "filters": {"origin": ["real"]}}, headers=researcher
    )
    assert refused.status_code == 403, refused.text
    assert (await client.get("/api/v1/cohorts", headers=researcher)).json()["items"] == []

    hidden = await save(client, clinician, {"origin": ["real"], "sex": ["female"]})
    shown = await save(client, researcher, {"histology": ["adenocarcinoma"]}, name="adeno")
    assert shown["patients"] == 3 == await listed(client, researcher, cohort=shown["id"])
    for path in ("/api/v1/patients", "/api/v1/patients/cohort/counts", "/api/v1/patients/cohort/age"):
        response = await client.get(path, params={"cohort": hidden["id"]}, headers=researcher)
        assert response.status_code == 403, (path, response.text)
    seen = {
        c["id"]: c["patients"]
        for c in (await client.get("/api/v1/cohorts", headers=researcher)).json()["items"]
    }
    assert seen == {hidden["id"]: None, shown["id"]: 3}
