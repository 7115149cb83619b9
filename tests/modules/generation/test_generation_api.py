"""Generation over HTTP: profiles listed, read and added (a bad one named field by field), a
cohort generated as a job into files and the clinical database, its dataset downloadable with
matching checksums and a fidelity report; quotas met exactly; wrong input changes nothing."""

from __future__ import annotations

import hashlib
import io
import xml.etree.ElementTree as ET

import polars as pl
import pytest
from sqlalchemy import text

from tests.support.auth import bearer, on_app_loop
from tests.support.jobs import finished


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.gen", ["researcher"])


async def patients_in_database(client) -> int:
    async def count() -> int:
        async with client.app.state.services.db.sessions() as s:
            return int(await s.scalar(text("SELECT count(*) FROM patients")))

    return await on_app_loop(client.app, count())


async def test_the_shipped_profiles_are_listed_and_each_figure_carries_its_source(client, researcher):
    page = (await client.get("/api/v1/generation/profiles", headers=researcher)).json()
    listed = page["items"]
    golestan = await client.get("/api/v1/generation/profiles/iran-golestan", headers=researcher)

    assert {"iran-golestan", "us-seer", "global"} <= {p["name"] for p in listed}
    assert page["next_cursor"] is None
    assert golestan.status_code == 200
    assert "source" in golestan.text
    assert golestan.json()["locale"] == "fa_IR"


async def test_a_bad_profile_is_refused_naming_the_field_and_nothing_is_stored(client, researcher):
    response = await client.post(
        "/api/v1/generation/profiles",
        content=b'name = "broken"\ntitle = "Broken"\nversion = "1"\n',
        headers={**researcher, "Content-Type": "application/toml"},
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"]
    listed = (await client.get("/api/v1/generation/profiles", headers=researcher)).json()["items"]
    assert "broken" not in {p["name"] for p in listed}


async def test_a_cohort_is_generated_to_files_and_the_database_with_a_fidelity_report(client, researcher):
    submitted = await client.post(
        "/api/v1/generation/jobs",
        json={
            "profile": "us-seer",
            "n": 1500,
            "seed": 7,
            "outputs": ["parquet", "csv", "ndjson", "database"],
        },
        headers=researcher,
    )
    assert submitted.status_code == 202, submitted.text
    job = await finished(client, f"/api/v1/generation/jobs/{submitted.json()['id']}", researcher)
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1
    assert job["attempts"] == 1, job

    dataset = (await client.get(f"/api/v1/datasets/{job['id']}", headers=researcher)).json()
    assert dataset["origin"] == "synthetic"
    assert (dataset["profile"], dataset["seed"], dataset["n"]) == ("us-seer", 7, 1500)
    assert dataset["rows"]["patients"] == 1500
    assert dataset["fidelity"]["targets"]
    # Judged at 1,500 patients: sampling noise fails nothing; each check says its n and interval.
    assert dataset["fidelity"]["failed"] == 0
    for target in dataset["fidelity"]["targets"]:
        assert target["verdict"] in ("passed", "insufficient")
        assert "domain.md" not in target["source"]
        if target["name"].startswith("trial.") and target["achieved"] is None:
            assert target["verdict"] == "insufficient"  # a trial's arm: a few patients at 1,500
            continue
        assert target["n"] > 0
        assert target["lower"] <= target["achieved"]
    assert await patients_in_database(client) == 1500

    parquet = next(f for f in dataset["files"] if f["name"] == "patients.parquet")
    download = await client.get(f"/api/v1/datasets/{job['id']}/files/patients.parquet", headers=researcher)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == parquet["sha256"]
    frame = pl.read_parquet(io.BytesIO(download.content))
    assert frame.height == 1500
    assert frame["synthetic_risk"].null_count() == 0  # the true hazard, for the oracle C-index
    assert frame["synthetic_effect"].null_count() < frame.height  # the true treatment effect
    assert {"patients.csv", "cohort.ndjson"} <= {f["name"] for f in dataset["files"]}
    picture = await client.get(f"/api/v1/datasets/{job['id']}/survival.svg", headers=researcher)
    assert picture.headers["content-type"].startswith("image/svg+xml")
    drawn = ET.fromstring(picture.text)
    labels = {"".join(t.itertext()) for t in drawn.iter("{http://www.w3.org/2000/svg}text")}
    assert {"Number at risk", "Stage I", "Stage IV", "Time (months)"} <= labels
    assert await announced(client) == ["generation.dataset.generated.v1"]  # one event, not one per patient


async def announced(client) -> list[str]:
    async def names() -> list[str]:
        async with client.app.state.services.db.sessions() as s:
            found = await s.execute(text("SELECT name FROM outbox WHERE name LIKE 'generation.%'"))
            return [row[0] for row in found]

    return await on_app_loop(client.app, names())


async def test_a_profile_added_by_a_user_is_listed_and_generates(client, researcher):
    from importlib.resources import files

    shipped = (
        files("inescape.modules.generation").joinpath("profiles/us-seer.toml").read_text(encoding="utf-8")
    )
    mine = shipped.replace('name = "us-seer"', 'name = "us-seer-local"', 1)
    assert mine != shipped

    added = await client.post(
        "/api/v1/generation/profiles",
        content=mine.encode(),
        headers={**researcher, "Content-Type": "application/toml"},
    )
    again = await client.post(
        "/api/v1/generation/profiles",
        content=mine.encode(),
        headers={**researcher, "Content-Type": "application/toml"},
    )
    listed = (await client.get("/api/v1/generation/profiles", headers=researcher)).json()["items"]
    submitted = await client.post(
        "/api/v1/generation/jobs", json={"profile": "us-seer-local", "n": 300, "seed": 1}, headers=researcher
    )
    job = await finished(client, f"/api/v1/generation/jobs/{submitted.json()['id']}", researcher)

    assert added.status_code == 201, added.text
    assert again.status_code == 409
    assert {"name": "us-seer-local", "builtin": False}.items() <= next(
        p for p in listed if p["name"] == "us-seer-local"
    ).items()
    assert job["status"] == "succeeded", job


async def test_a_quota_cohort_meets_its_quota_exactly(client, researcher):
    quotas = [  # "400 patients, clinical stage III adenocarcinoma, 30% after CROSS"
        {"where": {"histology": "adenocarcinoma", "stage_group": "III"}, "share": 1.0},
        {"where": {"regimen": "CROSS"}, "share": 0.3},
    ]
    submitted = await client.post(
        "/api/v1/generation/jobs",
        json={"profile": "us-seer", "n": 400, "seed": 3, "quotas": quotas},
        headers=researcher,
    )
    job = await finished(client, f"/api/v1/generation/jobs/{submitted.json()['id']}", researcher)
    assert job["status"] == "succeeded", job

    async def table(name: str) -> pl.DataFrame:
        url = f"/api/v1/datasets/{job['id']}/files/{name}.parquet"
        return pl.read_parquet(io.BytesIO((await client.get(url, headers=researcher)).content))

    patients, conditions, staging = await table("patients"), await table("conditions"), await table("staging")
    treatments = await table("treatments")
    clinical = staging.filter(pl.col("kind") == "clinical").select("patient_id", "stage_group")
    cohort = patients.join(conditions.select("patient_id", "histology"), left_on="id", right_on="patient_id")
    cohort = cohort.join(clinical, left_on="id", right_on="patient_id")
    assert patients.height == 400
    chosen = cohort.filter((pl.col("histology") == "adenocarcinoma") & (pl.col("stage_group") == "III"))
    assert chosen.height == 400
    # The quota fixes the CROSS pathway (cisplatin/fluorouracil chemoradiation before CROSS's era).
    assert treatments.filter(pl.col("intent") == "neoadjuvant")["patient_id"].n_unique() == 120


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"profile": "atlantis", "n": 10}, 404, None),
        ({"profile": "us-seer", "n": 0}, 400, "n"),
        ({"profile": "us-seer", "n": 10, "outputs": ["xlsx"]}, 400, "outputs"),
        (
            {"profile": "us-seer", "n": 10, "quotas": [{"where": {"planet": "mars"}, "share": 1}]},
            422,
            "quota",
        ),
    ],
)
async def test_wrong_requests_are_refused_and_no_job_is_made(client, researcher, body, status, field):
    response = await client.post("/api/v1/generation/jobs", json=body, headers=researcher)

    assert response.status_code == (422 if status == 400 else status), response.text
    assert set(response.json()) >= {"detail", "status_code"}
    if field:
        assert field in response.text
    jobs = (await client.get("/api/v1/generation/jobs", headers=researcher)).json()
    assert jobs["items"] == []


async def test_clinicians_cannot_generate_and_datasets_need_their_permission(client):
    clinician = await bearer(client, client.app, "dr.gen", ["clinician"])

    submitted = await client.post(
        "/api/v1/generation/jobs", json={"profile": "us-seer", "n": 10}, headers=clinician
    )
    as_admin = await client.get("/api/v1/datasets")  # the client's own token: an administrator
    client.headers.pop("Authorization", None)
    anonymous = await client.get("/api/v1/datasets")

    assert submitted.status_code == 403
    assert as_admin.status_code == 403  # administrators run the platform; they do not read data
    assert anonymous.status_code == 401
