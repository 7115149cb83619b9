"""Training on a saved cohort: the run names ``cohort_id`` instead of a dataset and reads
exactly the records the cohort selects (de-identified columns); a bad reference is refused at
submission with nothing queued (422 for none or both, 404 for an unknown cohort, 403 for a
researcher's run on a cohort that selects on a field the de-identified view hides)."""

from __future__ import annotations

import pytest

from inescape.modules.generation.api import DatasetsApi
from inescape.modules.patients.api import PatientsApi
from inescape.modules.training.data import CohortSource
from tests.support.auth import bearer, on_app_loop
from tests.support.jobs import finished
from tests.support.records import RECORD, record

RUNS = "/api/v1/training/runs"
UNKNOWN = "0190f0f0-0000-7000-8000-000000000000"
ADENO = {
    **RECORD["conditions"][0],
    "histology": "adenocarcinoma",
    "morphology_code": "8140/3",
    "topography_code": "C16.0",
    "location": "egj",
}


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.cohort", ["researcher"])


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.cohort.train", ["clinician"])


async def save(client, headers, filters) -> str:
    response = await client.post(
        "/api/v1/cohorts", json={"name": "to train", "filters": filters}, headers=headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def training_jobs(client, headers) -> list[dict]:
    response = await client.get("/api/v1/training/jobs", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_the_run_reads_exactly_the_patients_the_cohort_selects(client, clinician):
    records = [record(sex="female", conditions=[ADENO]) for _ in range(3)]
    records += [record(treatments=[]) for _ in range(2)] + [record() for _ in range(4)]
    assert (await client.post("/api/v1/patients/bulk", json=records, headers=clinician)).status_code == 201
    cohort_id = await save(
        client, clinician, {"treatment": ["surgery"], "histology": ["squamous_cell_carcinoma"]}
    )
    listed = await client.get(
        "/api/v1/patients", params={"cohort": cohort_id, "limit": 500}, headers=clinician
    )
    expected = {row["id"] for row in listed.json()["items"]}
    runtime = client.app.state.runtime
    source = CohortSource(patients=runtime.facade(PatientsApi), datasets=runtime.facade(DatasetsApi))

    tables, where = await on_app_loop(client.app, source.tables(ref=None, cohort_id=cohort_id))

    assert len(expected) == 4
    assert set(tables["patients"]["id"].to_list()) == expected
    assert set(tables["treatments"]["patient_id"].to_list()) == expected
    assert "given_name" not in tables["patients"].columns  # de-identified columns only
    assert where == {
        "source": "cohort",
        "cohort_id": cohort_id,
        "filters": {"treatment": ["surgery"], "histology": ["squamous_cell_carcinoma"]},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset": {"source": "database"}, "cohort_id": UNKNOWN}, "cohort_id"),
        ({}, "dataset"),
    ],
)
async def test_a_run_names_a_dataset_or_a_cohort_not_both_nor_neither(client, researcher, body, field):
    response = await client.post(RUNS, json={"name": "os", "model": "cox", **body}, headers=researcher)

    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}
    assert await training_jobs(client, researcher) == []


async def test_an_unknown_cohort_is_a_404_and_nothing_is_queued(client, researcher):
    response = await client.post(RUNS, json={"name": "os", "cohort_id": UNKNOWN}, headers=researcher)

    assert response.status_code == 404, response.text
    assert response.json()["status_code"] == 404
    assert await training_jobs(client, researcher) == []


async def test_a_researcher_cannot_train_on_a_cohort_selecting_on_a_hidden_field(
    client, researcher, clinician
):
    hidden = await save(client, clinician, {"origin": ["real"]})

    response = await client.post(RUNS, json={"name": "os", "cohort_id": hidden}, headers=researcher)

    assert response.status_code == 403, response.text
    assert await training_jobs(client, researcher) == []


async def test_a_run_on_a_saved_cohort_trains_and_its_card_names_the_cohort(client, researcher):
    submitted = await client.post(
        "/api/v1/generation/jobs",
        json={"profile": "iran-golestan", "n": 400, "seed": 5, "outputs": ["database"]},
        headers=researcher,
    )
    generated = await finished(
        client, f"/api/v1/generation/jobs/{submitted.json()['id']}", researcher, timeout=300
    )
    assert generated["status"] == "succeeded", generated
    cohort_id = await save(client, researcher, {"histology": ["squamous_cell_carcinoma"]})
    selected = (await client.get(f"/api/v1/cohorts/{cohort_id}", headers=researcher)).json()["patients"]

    body = {"name": "cohort-os", "model": "cox", "cohort_id": cohort_id, "seed": 3, "bootstrap": 20}
    response = await client.post(RUNS, json=body, headers=researcher)
    assert response.status_code == 202, response.text
    run = await finished(client, f"{RUNS}/{response.json()['id']}", researcher, timeout=300)

    assert run["status"] == "succeeded", run
    assert run["dataset"] == {"source": "cohort", "cohort_id": cohort_id}
    card = (
        await client.get(f"/api/v1/models/cohort-os/versions/{run['version']}", headers=researcher)
    ).json()
    assert card["trained_on"]["dataset"] == {
        "source": "cohort",
        "cohort_id": cohort_id,
        "filters": {"histology": ["squamous_cell_carcinoma"]},
    }
    rows = card["trained_on"]["rows"]
    assert 0.6 * 400 < selected < 400  # Golestan: mostly, not only, squamous
    assert 0.9 * selected <= rows <= selected  # the cohort's patients, less those without a usable row
    assert card["trained_on"]["origins"] == {"synthetic": rows}
