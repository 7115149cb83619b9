"""Clinicians find a patient by MRN (its blind index), by name or by research id, and the list
shows them the name and MRN; a researcher can find a record only by the research id the
de-identified row shows, and every search is audited like the list (the fields searched,
never the values)."""

from __future__ import annotations

import pytest

from tests.support.auth import bearer, gateway_of
from tests.support.records import record

PEOPLE = [
    ("Reza", "Karimi", "GOL-0045812"),
    ("Zahrá", "Ahmadi", "GOL-0045813"),
    ("Ali", "Ahmadi", "GOL-0045814"),
]


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.search", ["clinician"])


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.search", ["researcher"])


@pytest.fixture
async def auditor(client):
    return await bearer(client, client.app, "aud.search", ["auditor"])


@pytest.fixture
async def ids(client, clinician) -> dict[str, str]:
    records = [
        record(given_name=given, family_name=family, mrn=mrn, source_record_id=mrn)
        for given, family, mrn in PEOPLE
    ]
    created = await client.post("/api/v1/patients/bulk", json=records, headers=clinician)
    assert created.status_code == 201, created.text
    return dict(zip([mrn for *_, mrn in PEOPLE], created.json()["ids"], strict=True))


async def listed(client, headers, **params) -> list[dict]:
    response = await client.get("/api/v1/patients", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_a_clinician_finds_a_patient_by_mrn_and_sees_the_name_and_mrn(client, clinician, ids):
    rows = await listed(client, clinician, mrn=" GOL-0045813 ")

    assert [(r["id"], r["given_name"], r["family_name"], r["mrn"]) for r in rows] == [
        (ids["GOL-0045813"], "Zahrá", "Ahmadi", "GOL-0045813")
    ]


async def test_an_mrn_nobody_has_finds_nothing_rather_than_everyone(client, clinician, ids):
    assert await listed(client, clinician, mrn="GOL-9999999") == []


async def test_a_clinician_finds_patients_by_name_words_whatever_their_case_and_accents(
    client, clinician, ids
):
    family = await listed(client, clinician, name="ahmadi")
    one = await listed(client, clinician, name="ZAHRA ahm")

    assert sorted(r["mrn"] for r in family) == ["GOL-0045813", "GOL-0045814"]
    assert [r["mrn"] for r in one] == ["GOL-0045813"]


async def test_a_name_search_pages_with_the_cursor(client, clinician, ids):
    first = await client.get("/api/v1/patients", params={"name": "ahmadi", "limit": 1}, headers=clinician)
    cursor = first.json()["next_cursor"]
    second = await client.get(
        "/api/v1/patients", params={"name": "ahmadi", "limit": 1, "cursor": cursor}, headers=clinician
    )

    seen = [*first.json()["items"], *second.json()["items"]]
    assert sorted(r["mrn"] for r in seen) == ["GOL-0045813", "GOL-0045814"]
    assert second.json()["next_cursor"] is None


async def test_a_clinician_finds_the_record_behind_a_research_id(client, clinician, ids):
    wanted = gateway_of(client.app).deidentifier.research_id(ids["GOL-0045814"])

    found = await listed(client, clinician, research_id=wanted)

    assert [(r["id"], r["mrn"]) for r in found] == [(ids["GOL-0045814"], "GOL-0045814")]


async def test_a_researcher_finds_a_record_by_its_research_id_and_sees_no_identifier(client, researcher, ids):
    every = await listed(client, researcher)
    wanted = gateway_of(client.app).deidentifier.research_id(ids["GOL-0045813"])

    found = await listed(client, researcher, research_id=wanted)

    assert [r["research_id"] for r in found] == [wanted]
    assert len(every) == 3
    assert all(not {"given_name", "family_name", "mrn", "id"} & set(r) for r in every)
    assert await listed(client, researcher, research_id="R-nobody") == []


@pytest.mark.parametrize(("field", "value"), [("mrn", "GOL-0045812"), ("name", "Karimi")])
async def test_a_researcher_cannot_search_by_a_hidden_identifier(client, researcher, ids, field, value):
    refused = await client.get("/api/v1/patients", params={field: value}, headers=researcher)

    assert refused.status_code == 403
    assert refused.json()["status_code"] == 403
    assert refused.json()["detail"].startswith(f"{field}: not part of the de-identified view")
    assert value not in refused.text


async def test_a_search_is_audited_with_the_fields_searched_never_the_values(client, clinician, auditor, ids):
    await listed(client, clinician, mrn="GOL-0045812", name="reza")

    events = (
        await client.get(
            "/api/v1/audit/events", params={"action": "patients.list", "user": "dr.search"}, headers=auditor
        )
    ).json()["items"]

    assert events[0]["outcome"] == "success"
    assert events[0]["detail"] == "1 records, searched by mrn, name"
    assert "GOL-0045812" not in str(events)
    assert "reza" not in str(events).casefold()


async def test_a_researcher_refused_a_search_is_audited_as_denied(client, researcher, auditor, ids):
    await client.get("/api/v1/patients", params={"mrn": "GOL-0045812"}, headers=researcher)

    events = (
        await client.get("/api/v1/audit/events", params={"user": "res.search"}, headers=auditor)
    ).json()["items"]

    assert [(e["action"], e["outcome"]) for e in events][:1] == [("patients.list", "denied")]
