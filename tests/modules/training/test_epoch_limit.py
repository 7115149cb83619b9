"""The installation's epoch limit (``INESCAPE_TRAINING_MAX_EPOCHS``) holds for runs that leave
``max_epochs`` to the model's default too, and a run's progress counts toward the epochs it
will train at most, whichever model it is."""

from __future__ import annotations

import pytest

from inescape.modules.training.fit_settings import DEFAULTS
from inescape.modules.training.job import planned_epochs
from tests.support.auth import bearer
from tests.support.jobs import finished, generate

LIMIT = 6


@pytest.fixture
def limited(monkeypatch):
    monkeypatch.setenv("INESCAPE_TRAINING_MAX_EPOCHS", str(LIMIT))


def test_a_run_trains_what_it_asks_else_its_model_default_never_past_the_limit():
    assert DEFAULTS["cox"]["max_epochs"] == 400  # above the default limit of 300
    assert planned_epochs("cox", None, 300) == 300
    assert planned_epochs("logistic_hazard", None, 300) == 200  # its progress ends at 200, not 300
    assert planned_epochs("deepsurv", 40, 300) == 40
    assert planned_epochs("deepsurv", None, 1000) == 300


async def test_a_default_run_stops_at_the_installations_limit_with_its_progress_counted_to_it(
    limited, client
):
    researcher = await bearer(client, client.app, "res.limit", ["researcher"])
    job = await generate(
        client, researcher, {"profile": "us-seer", "n": 600, "seed": 5, "outputs": ["parquet"]}
    )
    body = {
        "name": "limited",
        "model": "cox",
        "dataset": {"source": "dataset", "id": job["id"]},
        "features": "clinical",
        "patience": 100,  # no early stop: only the limit ends it
        "bootstrap": 0,
    }
    asked = await client.post(
        "/api/v1/training/runs", json={**body, "max_epochs": LIMIT + 1}, headers=researcher
    )
    assert asked.status_code == 422, asked.text
    assert f"at most {LIMIT}" in asked.json()["detail"]

    submitted = await client.post("/api/v1/training/runs", json=body, headers=researcher)
    assert submitted.status_code == 202, submitted.text
    run = await finished(client, f"/api/v1/training/runs/{submitted.json()['id']}", researcher, timeout=300)

    assert run["status"] == "succeeded", run
    assert run["epochs"] == LIMIT  # the Cox default (400) is over this installation's limit
    card = (await client.get(f"/api/v1/models/limited/versions/{run['version']}", headers=researcher)).json()
    assert card["settings"]["max_epochs"] == LIMIT
