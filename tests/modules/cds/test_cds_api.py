"""Decision support over HTTP: staging, recommendations and risk on facts, the same for a
stored patient, all audited; wrong input is a 422 naming the field, and nothing is decided."""

from __future__ import annotations

import msgspec
import pytest

from inescape.modules.training.api import Feature, RegistryApi
from tests.modules.training.test_survival_model_format import MODEL
from tests.support.auth import bearer, gateway_of, on_app_loop
from tests.support.records import RECORD

LOCALLY_ADVANCED_ADENO = {
    "histology": "adenocarcinoma",
    "location": "egj",
    "t": "T3",
    "n": "N1",
    "m": "M0",
    "ecog": 1,
    "fit_for_surgery": True,
    "msi": "MSS",
    "age": 63,
    "sex": "male",
}


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.cds", ["clinician"])


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.cds", ["researcher"])


async def audit_actions(client, action: str) -> list:
    return await on_app_loop(
        client.app,
        gateway_of(client.app).trail.query(filters={"action": action}, before_seq=None, limit=50),
    )


async def promote(client, model=MODEL, name="overall-survival", task="survival") -> int:
    async def register_and_promote() -> int:
        registry = client.app.state.runtime.facade(RegistryApi)  # the ModelRegistry
        card = await registry.register(name, model, task=task, metrics={"c_index": 0.72})
        await registry.promote(name, card.version)
        return card.version

    return await on_app_loop(client.app, register_and_promote())


async def test_staging_answers_the_group_with_the_table_row_and_source_and_is_audited(client, clinician):
    response = await client.post(
        "/api/v1/cds/staging",
        json={
            "kind": "pathological",
            "histology": "adenocarcinoma",
            "t": "pT1b",
            "n": "N0",
            "m": "M0",
            "grade": "G3",
        },
        headers=clinician,
    )

    body = response.json()
    assert response.status_code == 200, response.text
    assert body["stage_group"] == "IC"
    assert "adenocarcinoma" in body["table"]
    assert body["row"] >= 1
    assert "AJCC" in body["source"]
    assert [e.user for e in await audit_actions(client, "cds.staging")] == ["dr.cds"]


@pytest.mark.parametrize(
    ("facts", "field"),
    [
        ({"t": "T9"}, "t"),  # not a T category
        ({"t": "Tis", "n": "N1"}, "n"),  # a combination the tables do not define
        ({"histology": "sarcoma"}, "histology"),
        ({"grade": "G4"}, "grade"),
    ],
)
async def test_invalid_staging_input_is_a_422_naming_the_field(client, clinician, facts, field):
    body = {
        "kind": "clinical",
        "histology": "squamous_cell_carcinoma",
        "t": "T2",
        "n": "N0",
        "m": "M0",
        **facts,
    }

    response = await client.post("/api/v1/cds/staging", json=body, headers=clinician)

    assert response.status_code == 422, response.text
    assert set(response.json()) >= {"detail", "status_code"}
    assert field in response.text
    assert await audit_actions(client, "cds.staging") == []


async def test_recommendations_rank_options_with_the_facts_and_evidence_behind_each(client, clinician):
    response = await client.post(
        "/api/v1/cds/recommendations", json=LOCALLY_ADVANCED_ADENO, headers=clinician
    )

    body = response.json()
    assert response.status_code == 200, response.text
    assert body["stage"]["stage_group"] == "III"  # computed from cT3 N1 M0
    first = body["recommendations"]["options"][0]
    assert "FLOT" in first["title"] + first["recommendation"]
    assert any("adenocarcinoma" in reason for reason in first["because"])
    assert {"esopec-2025", "flot4-2019"} <= {c["id"] for c in first["evidence"]}
    assert await audit_actions(client, "cds.recommendations")


async def test_a_stage_group_that_contradicts_its_tnm_is_refused(client, clinician):
    response = await client.post(
        "/api/v1/cds/recommendations", json={**LOCALLY_ADVANCED_ADENO, "stage_group": "I"}, headers=clinician
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "stage_group"


async def test_unknown_or_mistyped_facts_are_refused(client, clinician):
    unknown = await client.post("/api/v1/cds/recommendations", json={"histologie": "scc"}, headers=clinician)
    mistyped = await client.post("/api/v1/cds/recommendations", json={"ecog": "one"}, headers=clinician)
    out_of_range = await client.post("/api/v1/cds/risk", json={"pdl1_cps": 140}, headers=clinician)

    assert {unknown.status_code, mistyped.status_code, out_of_range.status_code} <= {400, 422}
    assert "histologie" in unknown.text
    assert "ecog" in mistyped.text
    assert "pdl1_cps" in out_of_range.text


async def test_risk_says_plainly_that_no_model_is_in_production(client, clinician):
    response = await client.post("/api/v1/cds/risk", json=LOCALLY_ADVANCED_ADENO, headers=clinician)

    body = response.json()
    assert response.status_code == 200
    assert body["available"] is False
    assert "No survival model is in production" in body["message"]
    assert body["horizons"] == []


async def test_risk_uses_the_production_model_and_follows_a_promotion_at_once(client, clinician):
    await promote(client)
    first = (await client.post("/api/v1/cds/risk", json=LOCALLY_ADVANCED_ADENO, headers=clinician)).json()
    worse = msgspec.structs.replace(MODEL, coefficients=[0.08, -0.2])
    version = await promote(client, worse)
    second = (await client.post("/api/v1/cds/risk", json=LOCALLY_ADVANCED_ADENO, headers=clinician)).json()

    assert first["available"] is True
    assert (first["model"], first["version"]) == ("overall-survival", 1)
    assert [h["years"] for h in first["horizons"]] == [1, 3, 5]
    assert all(h["lower"] < h["survival"] < h["upper"] for h in first["horizons"])
    assert first["horizons"][0]["survival"] > first["horizons"][2]["survival"]
    assert second["version"] == version == 2
    assert second["horizons"][2]["survival"] < first["horizons"][2]["survival"]


async def test_risk_names_the_facts_the_model_needs(client, clinician):
    await promote(client)

    body = (
        await client.post("/api/v1/cds/risk", json={"histology": "adenocarcinoma"}, headers=clinician)
    ).json()

    assert body["available"] is False
    assert body["missing"] == ["age"]


async def test_a_stored_patient_gets_stage_recommendations_and_risk_in_one_answer(client, clinician):
    patient_id = (await client.post("/api/v1/patients", json=RECORD, headers=clinician)).json()["id"]
    await promote(client)

    response = await client.get(f"/api/v1/patients/{patient_id}/cds", headers=clinician)

    body = response.json()
    assert response.status_code == 200, response.text
    assert body["patient_id"] == patient_id
    assert body["stage"]["stage_group"] == "III"  # the record's cT3 N1 M0 squamous cell carcinoma
    first = body["recommendations"]["options"][0]
    assert "nivolumab" in (first["title"] + first["recommendation"]).lower()  # CROSS, R0, residual disease
    assert body["risk"]["available"] is True
    assert [e.patient_id for e in await audit_actions(client, "cds.patient")] == [patient_id]


async def test_an_unknown_patient_is_not_found(client, clinician):
    response = await client.get(
        "/api/v1/patients/0190c8a4-0000-7000-8000-000000000000/cds", headers=clinician
    )

    assert response.status_code == 404
    assert await audit_actions(client, "cds.patient") == []


async def test_researchers_stage_facts_but_not_stored_patients(client, clinician, researcher):
    patient_id = (await client.post("/api/v1/patients", json=RECORD, headers=clinician)).json()["id"]

    staged = await client.post(
        "/api/v1/cds/staging",
        json={"kind": "clinical", "histology": "adenocarcinoma", "t": "T2", "n": "N0", "m": "M0"},
        headers=researcher,
    )
    patient = await client.get(f"/api/v1/patients/{patient_id}/cds", headers=researcher)

    assert staged.status_code == 200
    assert patient.status_code == 403


async def test_a_promoted_model_of_any_name_answers_for_its_purpose_and_says_so(client, clinician):
    await promote(client, name="pcr-model", task="classification")  # serves another purpose
    before = (await client.post("/api/v1/cds/risk", json=LOCALLY_ADVANCED_ADENO, headers=clinician)).json()
    await promote(client, name="my-first-model")

    body = (await client.post("/api/v1/cds/risk", json=LOCALLY_ADVANCED_ADENO, headers=clinician)).json()
    listed = (await client.get("/api/v1/models", headers=clinician)).json()["items"]

    assert before["available"] is False
    assert body["available"] is True
    assert (body["model"], body["version"], body["purpose"]) == ("my-first-model", 1, "overall-survival")
    assert "my-first-model version 1" in body["message"]
    by_name = {m["name"]: m for m in listed}
    assert by_name["my-first-model"]["purpose"] == "overall-survival"
    assert by_name["my-first-model"]["serving"] is True
    assert by_name["pcr-model"]["purpose"] == "pathologic-response"


async def test_a_deceased_patient_is_given_no_risk_and_told_why(client, clinician):
    record = {
        **RECORD,
        "outcome": {"vital_status": "dead", "last_follow_up": "2024-05-02", "death_date": "2024-05-02"},
    }
    patient_id = (await client.post("/api/v1/patients", json=record, headers=clinician)).json()["id"]
    await promote(client)

    body = (await client.get(f"/api/v1/patients/{patient_id}/cds", headers=clinician)).json()

    assert body["risk"]["available"] is False
    assert body["risk"]["horizons"] == []
    assert "died on 2024-05-02" in body["risk"]["message"]
    assert body["recommendations"]["rule_set"]  # the rest of the answer is still given


GRADED = msgspec.structs.replace(
    MODEL,
    features=[
        *MODEL.features,
        Feature(name="grade=G3", fact="grade", kind="indicator", mean=0.3, value="G3"),
    ],
    coefficients=[0.03, -0.2, 0.4],
    covariance=[[0.0001, 0.0, 0.0], [0.0, 0.01, 0.0], [0.0, 0.0, 0.02]],
)


async def test_a_recorded_grade_gx_is_read_as_the_code_the_model_was_trained_with(client, clinician):
    record = {**RECORD, "conditions": [{**RECORD["conditions"][0], "grade": "GX"}]}
    patient_id = (await client.post("/api/v1/patients", json=record, headers=clinician)).json()["id"]
    await promote(client, GRADED)

    body = (await client.get(f"/api/v1/patients/{patient_id}/cds", headers=clinician)).json()

    assert body["facts"]["grade"] == "GX"
    assert body["risk"]["available"] is True, body["risk"]
    assert body["risk"]["missing"] == []
