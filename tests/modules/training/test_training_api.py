"""Training over HTTP: a run is a job with progress per epoch, registers a candidate with its
model card; promotion goes through the gates (409 naming each failed one, nothing changed),
is recorded and audited, and changes what decision support's risk endpoint answers."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET

import msgspec
import pytest

from inescape.modules.training.api import RegistryApi
from tests.modules.training.test_survival_model_format import load_portable
from tests.support.auth import bearer, gateway_of, on_app_loop
from tests.support.jobs import finished, generate

FACTS = {
    "histology": "adenocarcinoma",
    "location": "lower",
    "t": "T3",
    "n": "N1",
    "m": "M0",
    "grade": "G2",
    "ecog": 1,
    "age": 66,
    "sex": "male",
}


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.train", ["researcher"])


@pytest.fixture
async def steward(client):
    return await bearer(client, client.app, "steward.train", ["data_steward"])


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.train", ["clinician"])


@pytest.fixture
async def dataset_id(client, researcher) -> str:
    job = await generate(
        client, researcher, {"profile": "us-seer", "n": 2500, "seed": 11, "outputs": ["parquet"]}
    )
    return str(job["id"])


async def audit_actions(client, action: str) -> list:
    return await on_app_loop(
        client.app,
        gateway_of(client.app).trail.query(filters={"action": action}, before_seq=None, limit=50),
    )


async def train(client, researcher, dataset_id: str, **extra) -> dict:
    body = {
        "name": "overall-survival",
        "model": "cox",
        "dataset": {"source": "dataset", "id": dataset_id},
        "features": "clinical",
        "seed": 3,
        "bootstrap": 50,
        **extra,
    }
    submitted = await client.post("/api/v1/training/runs", json=body, headers=researcher)
    assert submitted.status_code == 202, submitted.text
    return await finished(client, f"/api/v1/training/runs/{submitted.json()['id']}", researcher, timeout=300)


async def test_a_run_trains_with_progress_per_epoch_registers_a_candidate_and_promotion_changes_risk(
    client, researcher, steward, clinician, dataset_id
):
    run = await train(client, researcher, dataset_id)

    assert run["status"] == "succeeded", run
    assert run["progress"] == 1
    assert run["epochs"] >= 5
    assert len(run["history"]) == run["epochs"]
    assert {"loss", "val_loss", "val_metric"} <= set(run["history"][-1])
    assert 0.6 < run["metrics"]["c_index"] < 0.9
    assert run["version"] == 1
    curve = await client.get(f"/api/v1/training/runs/{run['id']}/curve.svg", headers=researcher)
    assert curve.headers["content-type"].startswith("image/svg+xml")
    drawn, svg = ET.fromstring(curve.text), "{http://www.w3.org/2000/svg}"
    legend = next(g for g in drawn.iter(f"{svg}g") if g.get("id") == "legend")
    assert ["".join(t.itertext()) for t in legend.iter(f"{svg}text")] == ["training loss", "validation loss"]

    card = (await client.get("/api/v1/models/overall-survival/versions/1", headers=researcher)).json()
    assert card["stage"] == "candidate"
    assert card["format"] == "inescape.cox.v1"
    assert card["trained_on"]["origins"] == {"synthetic": card["trained_on"]["rows"]}
    assert card["run_id"] == run["id"]
    assert card["code_version"]
    assert card["settings"]["seed"] == 3
    assert card["trained_on"]["features"][0] == "age"
    markdown = await client.get("/api/v1/models/overall-survival/versions/1/card.md", headers=researcher)
    assert "Trained on synthetic" in markdown.text
    assert "c_index" in markdown.text

    # a model trained on synthetic data only: 409 naming the gate, and nothing changes
    refused = await client.post(
        "/api/v1/models/overall-survival/versions/1/promote", json={}, headers=steward
    )
    assert refused.status_code == 409, refused.text
    assert "clinical_data" in refused.json()["detail"]
    assert {g["gate"]: g["passed"] for g in refused.json()["gates"]} == {
        "discrimination": True,
        "calibration": True,
        "clinical_data": False,
    }
    assert (await client.get("/api/v1/models/overall-survival/versions/1", headers=steward)).json()[
        "stage"
    ] == "candidate"
    before = (await client.post("/api/v1/cds/risk", json=FACTS, headers=clinician)).json()
    assert before["available"] is False

    # a researcher may train but not promote
    forbidden = await client.post(
        "/api/v1/models/overall-survival/versions/1/promote",
        json={"allow_synthetic": True},
        headers=researcher,
    )
    assert forbidden.status_code == 403

    promoted = await client.post(
        "/api/v1/models/overall-survival/versions/1/promote",
        json={"allow_synthetic": True, "reason": "demonstration install"},
        headers=steward,
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["promotion"]["allow_synthetic"] is True
    assert promoted.json()["promotion"]["by"] == "steward.train"
    risk = (await client.post("/api/v1/cds/risk", json=FACTS, headers=clinician)).json()
    assert risk["available"] is True, risk
    assert risk["version"] == 1
    five_years = risk["horizons"][-1]["survival"]

    # a second version, worse prognosis for everyone: promoting it changes the answer
    async def register_worse() -> int:
        registry = client.app.state.runtime.facade(RegistryApi)  # the ModelRegistry
        first = await registry.card("overall-survival", 1)
        model = load_portable(await registry.file(first, "model.json"))
        hazard = [h * 2 for h in model.baseline.cumulative_hazard]
        worse = msgspec.structs.replace(
            model, baseline=msgspec.structs.replace(model.baseline, cumulative_hazard=hazard)
        )
        card = await registry.register(
            "overall-survival", worse, metrics=first.metrics, trained_on=first.trained_on
        )
        return card.version

    second = await on_app_loop(client.app, register_worse())
    promoted = await client.post(
        f"/api/v1/models/overall-survival/versions/{second}/promote",
        json={"allow_synthetic": True},
        headers=steward,
    )
    assert promoted.status_code == 200, promoted.text
    await on_app_loop(client.app, _settle(client))
    risk = (await client.post("/api/v1/cds/risk", json=FACTS, headers=clinician)).json()
    assert risk["version"] == second
    assert risk["horizons"][-1]["survival"] < five_years
    listed = (await client.get("/api/v1/models", headers=clinician)).json()
    assert listed == {
        "items": [
            {
                "name": "overall-survival",
                "versions": 2,
                "production": second,
                "latest": second,
                "purpose": "overall-survival",
                "serving": True,
            }
        ],
        "next_cursor": None,
    }
    promotions = await audit_actions(client, "models.promote")
    # the 403 (the gateway's refusal, audited as denied), the refused gate, two promotions
    assert sorted(e.outcome for e in promotions) == ["denied", "failure", "success", "success"]
    assert len(await audit_actions(client, "training.run_submitted")) == 1


async def _settle(client) -> None:
    await asyncio.sleep(0.2)  # the promotion event reaches decision support's cache


async def test_a_version_that_fails_a_gate_is_refused_with_the_reason(client, steward):
    async def register_poor() -> int:
        from tests.modules.training.test_survival_model_format import MODEL

        card = await client.app.state.runtime.facade(RegistryApi).register(
            "poor",
            MODEL,
            metrics={
                "c_index": 0.60,
                "cox_baseline_c_index_lower": 0.66,
                "calibration_error_12m": 0.12,
                "calibration_error_36m": 0.02,
            },
            trained_on={"origins": {"real": 900}},
        )
        return card.version

    version = await on_app_loop(client.app, register_poor())
    refused = await client.post(
        f"/api/v1/models/poor/versions/{version}/promote", json={"allow_synthetic": True}, headers=steward
    )

    assert refused.status_code == 409
    body = refused.json()
    assert "discrimination" in body["detail"]
    assert "calibration" in body["detail"]
    assert "0.600" in body["detail"]
    assert "0.660" in body["detail"]
    assert {g["gate"]: g["passed"] for g in body["gates"]}["clinical_data"] is True
    card = (await client.get(f"/api/v1/models/poor/versions/{version}", headers=steward)).json()
    assert card["stage"] == "candidate"
    assert card["promotion"] is None

    # the same gates can be read before trying (the version page shows them), changing nothing
    checked = await client.get(f"/api/v1/models/poor/versions/{version}/gates", headers=steward)
    assert checked.status_code == 200, checked.text
    assert checked.json()["next_cursor"] is None
    assert {g["gate"]: g["passed"] for g in checked.json()["items"]} == {
        "discrimination": False,
        "calibration": False,
        "clinical_data": True,
    }
    assert "0.660" in next(g["detail"] for g in checked.json()["items"] if g["gate"] == "discrimination")
    missing = await client.get("/api/v1/models/poor/versions/99/gates", headers=steward)
    assert missing.status_code == 404
    after = (await client.get(f"/api/v1/models/poor/versions/{version}", headers=steward)).json()
    assert after["stage"] == "candidate"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"features": ["age", "shoe_size"]}, "features"),
        ({"dataset": {"source": "dataset"}}, "dataset.id"),
        ({"model": "random_forest"}, "model"),
        ({"max_epochs": 100_000}, "max_epochs"),
        ({"max_epochs": 5000}, "max_epochs"),  # within the schema, beyond this install's limit
        ({"name": "Bad Name!"}, "name"),
    ],
)
async def test_a_bad_run_request_is_a_422_naming_the_field_and_no_job_is_made(
    client, researcher, change, field
):
    body = {"name": "os", "model": "cox", "dataset": {"source": "database"}, **change}
    response = await client.post("/api/v1/training/runs", json=body, headers=researcher)

    assert response.status_code == 422, response.text  # the body's shape and its rules alike
    assert field in {e["field"] for e in response.json()["errors"]}
    jobs = (await client.get("/api/v1/training/jobs", headers=researcher)).json()
    assert jobs["items"] == []


async def test_an_unknown_model_version_is_a_404(client, steward):
    response = await client.post("/api/v1/models/nothing/versions/3/promote", json={}, headers=steward)

    assert response.status_code == 404
    assert response.json()["status_code"] == 404


async def test_a_run_trains_on_the_clinical_database_with_the_patient_list_filters(client, researcher):
    submitted = await client.post(
        "/api/v1/generation/jobs",
        json={"profile": "iran-golestan", "n": 900, "seed": 2, "outputs": ["database"]},
        headers=researcher,
    )
    generated = await finished(
        client, f"/api/v1/generation/jobs/{submitted.json()['id']}", researcher, timeout=300
    )
    assert generated["status"] == "succeeded", generated

    run = await train(
        client,
        researcher,
        "",
        dataset={"source": "database", "filters": {"histology": "squamous_cell_carcinoma"}},
        max_epochs=40,
    )

    assert run["status"] == "succeeded", run
    card = (
        await client.get(f"/api/v1/models/overall-survival/versions/{run['version']}", headers=researcher)
    ).json()
    squamous = card["trained_on"]["rows"]
    assert 0.6 * 900 < squamous < 900  # Golestan: mostly, not only, squamous
    assert card["trained_on"]["dataset"] == {
        "source": "database",
        "filters": {"histology": "squamous_cell_carcinoma"},
    }
    assert card["trained_on"]["origins"] == {"synthetic": squamous}


async def test_a_cancelled_run_stops_training_and_registers_nothing(client, researcher, dataset_id):
    body = {
        "name": "cancelled",
        "model": "deepsurv",
        "dataset": {"source": "dataset", "id": dataset_id},
        "max_epochs": 300,
        "patience": 300,
        "bootstrap": 0,
    }
    run_id = (await client.post("/api/v1/training/runs", json=body, headers=researcher)).json()["id"]
    for _ in range(600):
        state = (await client.get(f"/api/v1/training/runs/{run_id}", headers=researcher)).json()
        if state["epochs"] >= 2:
            break
        await asyncio.sleep(0.1)

    cancel = await client.post(f"/api/v1/training/runs/{run_id}/cancel", headers=researcher)
    done = await finished(client, f"/api/v1/training/runs/{run_id}", researcher, timeout=300)

    assert cancel.status_code == 200, cancel.text
    assert done["status"] == "cancelled", done
    assert done["epochs"] < 300
    assert (await client.get("/api/v1/models/cancelled/versions", headers=researcher)).json() == {
        "items": [],
        "next_cursor": None,
    }
