"""Fitting over HTTP: a fit is a job; a profile fitted to a source's stored patients under ε-DP
spends that source's budget and a fit beyond it is refused with nothing written; a dataset
generated from the fitted profile is held from researchers until a data steward's recorded
decision."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from inescape.kernel.errors import Conflict
from inescape.modules.generation.api import ProfileFittingApi
from tests.support.auth import bearer, on_app_loop
from tests.support.jobs import finished, generate

SOURCE = "inescape-generator/global@1.0"  # the platform's own cohort, treated as real


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.fit", ["researcher"])


@pytest.fixture
async def steward(client):
    return await bearer(client, client.app, "steward.fit", ["data_steward"])


async def fit(client, headers, body, *, outcome: str = "succeeded") -> dict:
    """Submit a fit (202, a job) and wait for it to end as ``outcome``."""
    submitted = await client.post("/api/v1/generation/profiles/fit", json=body, headers=headers)
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["kind"] == "generation.fit"
    job = await finished(client, f"/api/v1/generation/jobs/{submitted.json()['id']}", headers)
    assert job["status"] == outcome, job
    return job


async def test_a_fitted_twin_spends_the_budget_and_is_held_until_a_steward_releases_it(
    client, researcher, steward
):
    await generate(client, steward, {"profile": "global", "n": 600, "seed": 3, "outputs": ["database"]})
    budget = await client.put(
        "/api/v1/generation/privacy-budget", params={"source": SOURCE}, json={"total": 1.0}, headers=steward
    )
    assert budget.status_code == 200, budget.text

    fitted = (await fit(client, steward, {"name": "site-twin", "source": SOURCE, "epsilon": 1.0}))["result"]
    assert fitted["epsilon"] == 1.0
    assert fitted["patients"] is None  # under ε-DP not even the count is released
    assert "salt" not in fitted
    left = (
        await client.get("/api/v1/generation/privacy-budget", params={"source": SOURCE}, headers=steward)
    ).json()
    assert left["remaining"] == 0

    refused = await client.post(
        "/api/v1/generation/profiles/fit",
        json={"name": "site-twin-2", "source": SOURCE, "epsilon": 0.5},
        headers=steward,
    )
    assert refused.status_code == 409, refused.text
    assert "left" in refused.json()["detail"]
    assert (await client.get("/api/v1/generation/profiles/site-twin-2", headers=steward)).status_code == 404
    names = {
        p["name"]
        for p in (await client.get("/api/v1/generation/fitted-profiles", headers=steward)).json()["items"]
    }
    assert names == {"site-twin"}
    again = (
        await client.get("/api/v1/generation/privacy-budget", params={"source": SOURCE}, headers=steward)
    ).json()
    assert again["spent"] == 1.0

    # a researcher may not fit real patients
    denied = await client.post(
        "/api/v1/generation/profiles/fit", json={"name": "mine", "source": SOURCE}, headers=researcher
    )
    assert denied.status_code == 403

    # its twins go to files the gate holds, never into the clinical database researchers read
    into_records = {"profile": "site-twin", "n": 50, "seed": 4, "outputs": ["database"]}
    clinician = await bearer(client, client.app, "dr.fit", ["clinician"])
    counted = await client.get("/api/v1/patients/cohort/counts", headers=clinician)
    assert counted.status_code == 200, counted.text
    refused_load = await client.post("/api/v1/generation/jobs", json=into_records, headers=steward)
    assert refused_load.status_code == 422, refused_load.text
    assert refused_load.json()["errors"][0]["field"] == "outputs"
    assert (await client.get("/api/v1/patients/cohort/counts", headers=clinician)).json() == counted.json()
    job = await generate(client, researcher, {"profile": "site-twin", "n": 800, "seed": 4})
    held = await client.get(f"/api/v1/datasets/{job['id']}", headers=researcher)
    assert held.status_code == 403, held.text
    assert "held" in held.json()["detail"]
    file = await client.get(f"/api/v1/datasets/{job['id']}/files/patients.parquet", headers=researcher)
    assert file.status_code == 403
    # nor trained on: a model would carry what the gate holds back
    train = {"name": "held-twin", "model": "cox", "dataset": {"source": "dataset", "id": job["id"]}}
    trained = await client.post("/api/v1/training/runs", json=train, headers=researcher)
    assert trained.status_code == 403, trained.text
    assert "held" in trained.json()["detail"]
    assert (await client.get("/api/v1/training/runs", headers=researcher)).json() == {
        "items": [],
        "next_cursor": None,
    }

    strict = await client.put(
        "/api/v1/generation/release-thresholds",
        json={"max_mia_advantage": 0.0, "min_tstr_ratio": 2.0},
        headers=steward,
    )
    assert strict.status_code == 200, strict.text
    measured = await client.post(f"/api/v1/datasets/{job['id']}/privacy-report", headers=steward)
    assert measured.status_code == 200, measured.text
    assert measured.json()["status"] == "held"
    assert measured.json()["failures"]
    report = measured.json()["report"]
    # 600 patients hold out about 120: the advantage is measured coarsely, and chance alone reaches
    # 0.2 about once in a few hundred fits; what a user would notice is a leak, which no chance explains
    assert 0 <= report["mia_advantage"] < 1
    assert report["mia_p_value"] > 1e-4
    assert 0.5 < report["trtr_c_index"] < 1
    assert 0 < report["tstr_c_index"] < 1  # trained on 800 noisy records: about 0.65, below 0.5 rarely
    assert report["aia_attribute"] == "event"
    assert 0 <= report["aia_accuracy"] <= 1
    assert measured.json()["thresholds"]["min_tstr_ratio"] == 2.0
    assert any("train-on-synthetic C-index" in f for f in measured.json()["failures"])
    # past a 0.0 threshold whenever there is any advantage (a twin shows none about one fit in 100)
    listed = any("membership-inference" in f for f in measured.json()["failures"])
    assert listed == (report["mia_advantage"] > 0)
    assert (await client.get(f"/api/v1/datasets/{job['id']}", headers=researcher)).status_code == 403

    not_steward = await client.post(
        f"/api/v1/datasets/{job['id']}/release",
        json={"decision": "release", "reason": "ok"},
        headers=researcher,
    )
    assert not_steward.status_code == 403
    decided = await client.post(
        f"/api/v1/datasets/{job['id']}/release",
        json={"decision": "release", "reason": "advantage within noise for a 600-patient source"},
        headers=steward,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["decision"]["by"] == "steward.fit"

    readable = await client.get(f"/api/v1/datasets/{job['id']}", headers=researcher)
    assert readable.status_code == 200, readable.text
    assert readable.json()["derived_from"]["epsilon"] == 1.0
    assert readable.json()["derived_from"]["source"] == SOURCE
    assert readable.json()["release"]["status"] == "released"
    trail = await client.get("/api/v1/audit/events", params={"action": "datasets.release_decided"})
    (event,) = [e for e in trail.json()["items"] if e["outcome"] == "success"]  # beside the denied one
    assert event["user"] == "steward.fit"
    assert event["resource_id"] == job["id"]
    assert "advantage within noise" in event["detail"]
    fits = await client.get("/api/v1/audit/events", params={"action": "generation.profile_fitted"})
    outcomes = [e["outcome"] for e in fits.json()["items"]]
    assert outcomes.count("success") == 1  # the refused one is not a success


async def test_a_fit_that_cannot_run_is_refused_and_writes_nothing(client, steward):
    no_patients = await fit(
        client, steward, {"name": "empty-twin", "source": "no-such-registry"}, outcome="failed"
    )
    neither = await client.post("/api/v1/generation/profiles/fit", json={"name": "no-twin"}, headers=steward)
    unknown_prior = await client.post(
        "/api/v1/generation/profiles/fit",
        json={"name": "odd-twin", "source": SOURCE, "prior": "atlantis"},
        headers=steward,
    )
    bad_epsilon = await client.post(
        "/api/v1/generation/profiles/fit",
        json={"name": "neg-twin", "source": SOURCE, "epsilon": -1},
        headers=steward,
    )

    assert "no-such-registry" in no_patients["error"]
    assert "fewer than" in no_patients["error"]
    assert neither.status_code == 422, neither.text
    assert neither.json()["errors"][0]["field"] == "source"
    assert unknown_prior.status_code == 404, unknown_prior.text
    assert bad_epsilon.status_code == 422, bad_epsilon.text
    assert {"detail", "status_code"} <= set(bad_epsilon.json())
    assert (await client.get("/api/v1/generation/fitted-profiles", headers=steward)).json()["items"] == []
    budget = await client.get(
        "/api/v1/generation/privacy-budget", params={"source": "no-such-registry"}, headers=steward
    )
    assert budget.json()["spent"] == 0  # no ε asked: nothing to spend

    # An ε-DP fit spends its ε once the patients are read: the "too few" answer depends on them.
    # (The name the failed fit took is free again.)
    private = await fit(
        client,
        steward,
        {"name": "empty-twin", "source": "no-such-registry", "epsilon": 0.5},
        outcome="failed",
    )
    assert "fewer than" in private["error"]
    budget = await client.get(
        "/api/v1/generation/privacy-budget", params={"source": "no-such-registry"}, headers=steward
    )
    assert budget.json()["spent"] == 0.5
    assert (await client.get("/api/v1/generation/fitted-profiles", headers=steward)).json()["items"] == []

    odd = await client.get("/api/v1/generation/privacy-budget", params={"source": "a\x00b"}, headers=steward)
    assert odd.status_code == 422, odd.text


async def test_a_profile_fitted_without_privacy_is_not_shown_to_researchers(client, researcher, steward):
    await generate(client, steward, {"profile": "global", "n": 300, "seed": 5, "outputs": ["database"]})
    await fit(client, steward, {"name": "exact-twin", "source": SOURCE})
    await fit(client, steward, {"name": "private-twin", "source": SOURCE, "epsilon": 0.5})

    assert (await client.get("/api/v1/generation/profiles/exact-twin", headers=researcher)).status_code == 403
    assert (await client.get("/api/v1/generation/profiles/exact-twin", headers=steward)).status_code == 200
    shown = await client.get("/api/v1/generation/profiles/private-twin", headers=researcher)
    assert shown.status_code == 200  # ε-DP figures: post-processing of a private release
    assert "ε = 0.5-DP counts" in shown.json()["histology"]["source"]


async def test_concurrent_fits_on_one_source_never_spend_more_than_its_budget(client, steward):
    await generate(client, steward, {"profile": "global", "n": 300, "seed": 6, "outputs": ["database"]})
    await client.put(
        "/api/v1/generation/privacy-budget", params={"source": SOURCE}, json={"total": 1.0}, headers=steward
    )

    # The test client answers one request at a time; these three reach the app together, each
    # from its own thread, as three users' requests would.
    def post(name: str) -> httpx.Response:
        request = client.build_request(
            "POST",
            "/api/v1/generation/profiles/fit",
            json={"name": name, "source": SOURCE, "epsilon": 0.6},
            headers=steward,
        )
        response = client._transport.handle_request(request)
        response.read()
        return response

    answers = await asyncio.gather(*[asyncio.to_thread(post, f"race-{i}") for i in range(3)])

    # Each is queued while the whole budget is left (or refused at once if another spent first);
    # the jobs race for the budget, and one of them wins it.
    assert {a.status_code for a in answers} <= {202, 409}, [a.text for a in answers]
    jobs = [
        await finished(client, f"/api/v1/generation/jobs/{a.json()['id']}", steward)
        for a in answers
        if a.status_code == 202
    ]
    (winner,) = [j["params"]["name"] for j in jobs if j["status"] == "succeeded"]
    refusals = [a.json()["detail"] for a in answers if a.status_code == 409]
    refusals += [j["error"] for j in jobs if j["status"] != "succeeded"]
    assert len(refusals) == 2
    assert all("left" in refusal for refusal in refusals), refusals
    budget = (
        await client.get("/api/v1/generation/privacy-budget", params={"source": SOURCE}, headers=steward)
    ).json()
    assert budget["spent"] == 0.6
    assert [f["profile"] for f in budget["fits"]] == [winner]
    names = {
        p["name"]
        for p in (await client.get("/api/v1/generation/fitted-profiles", headers=steward)).json()["items"]
    }
    assert names == {winner}  # the refused fits stored no profile


async def test_a_twins_origin_and_epsilon_travel_into_its_fhir_export_and_the_model_trained_on_it(
    client, steward
):
    await generate(client, steward, {"profile": "global", "n": 600, "seed": 7, "outputs": ["database"]})
    await fit(client, steward, {"name": "export-twin", "source": SOURCE, "epsilon": 0.8})
    job = await generate(
        client, steward, {"profile": "export-twin", "n": 600, "seed": 8, "outputs": ["parquet", "ndjson"]}
    )

    ndjson = await client.get(f"/api/v1/datasets/{job['id']}/files/cohort.ndjson", headers=steward)
    assert ndjson.status_code == 200, ndjson.text
    resources = [json.loads(line) for line in ndjson.text.splitlines()]
    assert {r["resourceType"] for r in resources} >= {"Patient", "Condition", "Observation"}
    for resource in resources:
        (tag,) = [t for t in resource["meta"]["tag"] if t["system"].endswith("synthetic-derivation")]
        assert tag["code"] == "derived-from-real"
        (derivation,) = resource["meta"]["extension"]
        parts = {
            p["url"]: next(v for k, v in p.items() if k.startswith("value")) for p in derivation["extension"]
        }
        assert parts["source"] == SOURCE
        assert parts["profile"] == "export-twin"
        assert parts["epsilon"] == 0.8
        assert parts["dataset"] == job["id"]
    patient = next(r for r in resources if r["resourceType"] == "Patient")
    assert any(t["code"] == "synthetic" for t in patient["meta"]["tag"])  # the record's own origin stays

    body = {
        "name": "twin-survival",
        "model": "cox",
        "dataset": {"source": "dataset", "id": job["id"]},
        "features": "clinical",
        "seed": 3,
        "max_epochs": 5,
        "bootstrap": 0,
    }
    submitted = await client.post("/api/v1/training/runs", json=body)
    assert submitted.status_code == 202, submitted.text
    run = await finished(
        client, f"/api/v1/training/runs/{submitted.json()['id']}", client.headers, timeout=300
    )
    assert run["status"] == "succeeded", run
    card = (await client.get(f"/api/v1/models/twin-survival/versions/{run['version']}")).json()
    derived = card["trained_on"]["dataset"]["derived_from"]
    assert derived["epsilon"] == 0.8
    assert derived["source"] == SOURCE
    assert derived["origin"] == "real"
    markdown = await client.get(f"/api/v1/models/twin-survival/versions/{run['version']}/card.md")
    assert f"Derived from real patients: source {SOURCE}" in markdown.text
    assert "ε = 0.8-differentially private fit" in markdown.text


async def test_a_budget_recorded_before_the_spend_ledger_still_counts(client, app_services, steward):
    """A budget document of the earlier form (its ``spent`` and ``fits`` in it) keeps counting."""
    earlier_fit = {"profile": "old-twin", "epsilon": 0.8, "at": "2026-01-01T00:00:00+00:00"}
    await app_services.documents.insert(
        "generation_privacy_budgets", {"id": "registry-b", "total": 1.0, "spent": 0.8, "fits": [earlier_fit]}
    )

    refused = await client.post(
        "/api/v1/generation/profiles/fit",
        json={"name": "new-twin", "source": "registry-b", "epsilon": 0.5},
        headers=steward,
    )
    raised = await client.put(
        "/api/v1/generation/privacy-budget",
        params={"source": "registry-b"},
        json={"total": 2.0},
        headers=steward,
    )

    assert refused.status_code == 409, refused.text
    assert "ε = 0.2 left" in refused.json()["detail"]
    assert raised.json()["spent"] == 0.8
    assert raised.json()["remaining"] == 1.2
    assert raised.json()["fits"] == [earlier_fit]


async def test_concurrent_fits_with_one_name_spend_once_and_store_one_profile(client, steward):
    await generate(client, steward, {"profile": "global", "n": 300, "seed": 9, "outputs": ["database"]})

    def post(epsilon: float) -> httpx.Response:
        request = client.build_request(
            "POST",
            "/api/v1/generation/profiles/fit",
            json={"name": "one-name", "source": SOURCE, "epsilon": epsilon},
            headers=steward,
        )
        response = client._transport.handle_request(request)
        response.read()
        return response

    answers = await asyncio.gather(*[asyncio.to_thread(post, epsilon) for epsilon in (0.1, 0.2, 0.3, 0.4)])

    assert sorted(a.status_code for a in answers) == [202, 409, 409, 409], [a.text for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        assert "one-name" in refused.json()["detail"]
    (queued,) = [a.json() for a in answers if a.status_code == 202]
    job = await finished(client, f"/api/v1/generation/jobs/{queued['id']}", steward)
    assert job["status"] == "succeeded", job
    budget = (
        await client.get("/api/v1/generation/privacy-budget", params={"source": SOURCE}, headers=steward)
    ).json()
    assert [(f["profile"], f["epsilon"]) for f in budget["fits"]] == [
        ("one-name", queued["params"]["epsilon"])
    ]
    assert budget["spent"] == queued["params"]["epsilon"]
    fitted = (await client.get("/api/v1/generation/fitted-profiles", headers=steward)).json()["items"]
    assert [p["name"] for p in fitted] == ["one-name"]

    # the name stays taken once the profile is stored: by a fit, and by a profile added by hand
    again = await client.post(
        "/api/v1/generation/profiles/fit", json={"name": "one-name", "source": SOURCE}, headers=steward
    )
    assert again.status_code == 409, again.text


class KilledWorker(Exception):
    """The worker running a job stops here (its process killed)."""


class Attempt:
    """One attempt at a fit job, as the runner hands it to the handler; ``stop_at``: the
    progress at which its worker is killed."""

    def __init__(self, job_id: str, params: dict, stop_at: float | None = None) -> None:
        self.job_id, self.params, self.owner, self.kind = job_id, params, "steward.fit", "generation.fit"
        self.checkpoint, self.attempt, self.stop_at = None, 1, stop_at

    async def progress(self, fraction: float, **counts: int) -> None:
        if self.stop_at is not None and fraction >= self.stop_at:
            raise KilledWorker(self.job_id)


async def test_a_fit_retried_after_its_worker_was_killed_spends_once_and_stores_one_profile(client, steward):
    await generate(client, steward, {"profile": "global", "n": 300, "seed": 10, "outputs": ["database"]})
    fitting = client.app.state.runtime.bound["generation"].dependencies["fitting"]
    params = {"name": "killed-twin", "source": SOURCE, "epsilon": 0.4}

    def attempt(job_id: str, stop_at: float | None = None):  # run as the worker would, on the app's loop
        return on_app_loop(client.app, fitting.run(Attempt(job_id, params, stop_at=stop_at)))

    # killed after spending and reading, before storing; then killed after the profile is stored
    # (the job row not yet marked succeeded); then run to the end: three attempts of one job
    with pytest.raises(KilledWorker):
        await attempt("job-killed", stop_at=0.9)
    assert (await client.get("/api/v1/generation/fitted-profiles", headers=steward)).json()["items"] == []
    first = await attempt("job-killed")
    last = await attempt("job-killed")

    assert first == last
    assert first["name"] == "killed-twin"
    budget = (
        await client.get("/api/v1/generation/privacy-budget", params={"source": SOURCE}, headers=steward)
    ).json()
    assert budget["spent"] == 0.4
    assert [f["profile"] for f in budget["fits"]] == ["killed-twin"]
    fitted = (await client.get("/api/v1/generation/fitted-profiles", headers=steward)).json()["items"]
    assert [p["name"] for p in fitted] == ["killed-twin"]
    # another job asking for the same name is refused, and spends nothing
    with pytest.raises(Conflict, match="exists already"):
        await attempt("job-other")
    after = (
        await client.get("/api/v1/generation/privacy-budget", params={"source": SOURCE}, headers=steward)
    ).json()
    assert after["spent"] == 0.4


async def test_a_profile_is_fitted_to_a_saved_cohorts_patients(client, researcher, steward):
    await generate(client, steward, {"profile": "global", "n": 600, "seed": 11, "outputs": ["database"]})
    saved = await client.post(
        "/api/v1/cohorts",
        json={"name": "men", "description": None, "filters": {"sex": ["male"]}},
        headers=steward,
    )
    assert saved.status_code == 201, saved.text
    cohort = saved.json()["id"]
    everyone = (await fit(client, steward, {"name": "all-twin", "source": SOURCE}))["result"]

    men = (await fit(client, steward, {"name": "men-twin", "cohort_id": cohort}))["result"]
    private = (
        await fit(
            client, steward, {"name": "men-private", "cohort_id": cohort, "source": SOURCE, "epsilon": 0.3}
        )
    )["result"]

    assert 0 < men["patients"] < everyone["patients"]
    assert men["cohort_id"] == cohort
    assert men["filters"] == {"sex": ["male"]}
    assert private["filters"] == {"sex": ["male"], "source": [SOURCE]}
    budget = (
        await client.get("/api/v1/generation/privacy-budget", params={"source": SOURCE}, headers=steward)
    ).json()
    assert budget["spent"] == 0.3
    trail = await client.get("/api/v1/audit/events", params={"action": "generation.profile_fitted"})
    details = [e["detail"] for e in trail.json()["items"] if e["resource_id"] == "men-twin"]
    assert details
    assert f"saved cohort {cohort}" in details[0]

    # refused before anything is queued or spent
    unknown = await client.post(
        "/api/v1/generation/profiles/fit",
        json={"name": "ghost-twin", "cohort_id": "0" * 26},
        headers=steward,
    )
    no_source = await client.post(
        "/api/v1/generation/profiles/fit",
        json={"name": "any-twin", "cohort_id": cohort, "epsilon": 0.3},
        headers=steward,
    )
    denied = await client.post(
        "/api/v1/generation/profiles/fit", json={"name": "res-twin", "cohort_id": cohort}, headers=researcher
    )
    assert unknown.status_code == 404, unknown.text
    assert no_source.status_code == 422, no_source.text
    assert no_source.json()["errors"][0]["field"] == "source"
    assert denied.status_code == 403, denied.text
    names = {
        p["name"]
        for p in (await client.get("/api/v1/generation/fitted-profiles", headers=steward)).json()["items"]
    }
    assert names == {"all-twin", "men-twin", "men-private"}
    assert (
        await client.get("/api/v1/generation/privacy-budget", params={"source": SOURCE}, headers=steward)
    ).json()["spent"] == 0.3


async def test_a_fit_outside_a_request_takes_the_name_and_spends_as_a_job_does(client, steward):
    await generate(client, steward, {"profile": "global", "n": 300, "seed": 12, "outputs": ["database"]})
    fitting = client.app.state.runtime.facade(ProfileFittingApi)

    def fit_here(name: str):  # as `inescape fit-profile` does, on the app's loop
        return on_app_loop(
            client.app, fitting.fit_profile(name=name, source=SOURCE, epsilon=0.2, by="cli-user")
        )

    shown = await fit_here("cli-twin")
    with pytest.raises(Conflict, match="cli-twin"):
        await fit_here("cli-twin")

    assert shown["epsilon"] == 0.2
    assert shown["fitted_by"] == "cli-user"
    budget = (
        await client.get("/api/v1/generation/privacy-budget", params={"source": SOURCE}, headers=steward)
    ).json()
    assert budget["spent"] == 0.2
    trail = await client.get("/api/v1/audit/events", params={"action": "generation.profile_fitted"})
    assert [(e["user"], e["resource_id"]) for e in trail.json()["items"]] == [("cli-user", "cli-twin")]
