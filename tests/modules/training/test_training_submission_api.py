"""A training run is refused at submission when it could only fail later, and nothing is
queued: an install without the ml extra answers 503 with the install hint, a dataset that
does not exist is a 404. A worker without the ml extra fails a run at once, naming the hint,
and does not retry it."""

from __future__ import annotations

import pytest

from inescape.infra.platform import Jobs
from inescape.modules.training import availability
from tests.support.auth import bearer, on_app_loop
from tests.support.jobs import finished

RUNS = "/api/v1/training/runs"
BODY = {"name": "os", "model": "cox", "dataset": {"source": "database"}, "features": "clinical"}


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.submit", ["researcher"])


@pytest.fixture
def without_ml(monkeypatch):
    """This install as one without the ml extra: the probe looks for a module that is absent."""
    monkeypatch.setattr(availability, "ML_MODULES", ("torch", "inescape_absent_ml_module"))


async def training_jobs(client, headers) -> list[dict]:
    response = await client.get("/api/v1/training/jobs", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_an_install_without_the_ml_extra_refuses_a_run_with_the_install_hint(
    client, researcher, without_ml
):
    response = await client.post(RUNS, json=BODY, headers=researcher)

    assert response.status_code == 503, response.text
    body = response.json()
    assert body["status_code"] == 503
    assert "inescape_absent_ml_module" in body["detail"]
    assert "pip install -c constraints.txt -e '.[ml]'" in body["detail"]
    assert await training_jobs(client, researcher) == []


async def test_a_worker_without_the_ml_extra_fails_a_run_at_once_with_the_hint(
    client, researcher, without_ml
):
    services = client.app.state.services
    job = await on_app_loop(  # queued where the extra was installed, run where it is not
        client.app,
        Jobs(services).submit(
            module="training", kind="training.fit", queue="training", params=BODY, owner="res.submit"
        ),
    )

    run = await finished(client, f"{RUNS}/{job.id}", researcher, timeout=30, poll=0.1)

    assert run["status"] == "failed"
    assert "ml extra" in run["error"]
    assert "pip install" in run["error"]
    row = await on_app_loop(client.app, services.jobs.get(job.id))
    assert row.attempts == 1


async def test_a_run_on_a_dataset_that_does_not_exist_is_refused_and_nothing_is_queued(client, researcher):
    body = BODY | {"dataset": {"source": "dataset", "id": "no-such-dataset"}}

    response = await client.post(RUNS, json=body, headers=researcher)

    assert response.status_code == 404, response.text
    assert response.json()["status_code"] == 404
    assert "no dataset 'no-such-dataset'" in response.json()["detail"]
    assert await training_jobs(client, researcher) == []
