"""A run may name the purpose its model will serve; one its kind of model cannot serve (a pCR
classifier for overall survival, a survival model for pathologic response) is a 422 naming
``purpose``, and nothing is queued."""

from __future__ import annotations

import pytest

from tests.support.auth import bearer

RUNS = "/api/v1/training/runs"
BODY = {"name": "os", "dataset": {"source": "database"}, "features": "clinical"}


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.purpose", ["researcher"])


@pytest.mark.parametrize(("model", "purpose"), [("pcr", "overall-survival"), ("cox", "pathologic-response")])
async def test_a_purpose_the_model_cannot_serve_is_refused_and_nothing_is_queued(
    client, researcher, model, purpose
):
    response = await client.post(RUNS, json={**BODY, "model": model, "purpose": purpose}, headers=researcher)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["status_code"] == 422
    assert [e["field"] for e in body["errors"]] == ["purpose"]
    jobs = await client.get("/api/v1/training/jobs", headers=researcher)
    assert jobs.json()["items"] == []


async def test_an_unknown_purpose_is_refused(client, researcher):
    response = await client.post(RUNS, json={**BODY, "purpose": "colour"}, headers=researcher)

    assert response.status_code == 422, response.text
    assert "purpose" in response.text
