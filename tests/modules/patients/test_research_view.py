"""What a researcher can learn from the list, a record and the cohort answers is what the
de-identified view shows, nothing more: filters apply to the shifted dates, a filter on a
hidden field is refused, cursors, tags and addresses carry no internal id, and no record-keeping
time (which would give the patient's date shift away) is shown."""

from __future__ import annotations

import base64
import re
from datetime import date, timedelta

import pytest

from tests.support.auth import bearer, gateway_of
from tests.support.records import RECORD, record

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.clinician", ["clinician"])


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.one", ["researcher"])


def diagnosed_on(day: date) -> dict:
    """A whole record whose every date keeps its distance to a diagnosis on ``day``."""
    moved = day - date(2023, 1, 10)

    def shift(value):
        if isinstance(value, dict):
            return {k: shift(v) for k, v in value.items()}
        if isinstance(value, list):
            return [shift(v) for v in value]
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) and value != "1958-03-14":
            return (date.fromisoformat(value) + moved).isoformat()
        return value

    return shift(record())


async def create(client, clinician, records: list[dict]) -> list[str]:
    created = await client.post("/api/v1/patients/bulk", json=records, headers=clinician)
    assert created.status_code == 201, created.text
    return created.json()["ids"]


async def every_row(client, headers, **params) -> list[dict]:
    rows, cursor = [], None
    while True:
        page = await client.get(
            "/api/v1/patients", params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers
        )
        assert page.status_code == 200, page.text
        rows += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return rows


async def test_diagnosis_date_filters_select_on_the_dates_a_researcher_is_shown(
    client, clinician, researcher
):
    days = [date(2021, 1, 1) + timedelta(days=61 * i) for i in range(12)]
    await create(client, clinician, [diagnosed_on(d) for d in days])
    shown = {
        r["research_id"]: date.fromisoformat(r["diagnosis_date"]) for r in await every_row(client, researcher)
    }
    cutoff = sorted(shown.values())[5]

    since = await every_row(client, researcher, diagnosed_from=cutoff.isoformat())
    until = await every_row(client, researcher, diagnosed_to=cutoff.isoformat(), limit=2)
    that_day = await every_row(
        client, researcher, diagnosed_from=cutoff.isoformat(), diagnosed_to=cutoff.isoformat()
    )

    assert {r["research_id"] for r in since} == {k for k, v in shown.items() if v >= cutoff}
    assert {r["research_id"] for r in until} == {k for k, v in shown.items() if v <= cutoff}
    # one or, when two shifted dates meet (about one run in 70), two patients shown on that day
    assert {r["research_id"] for r in that_day} == {k for k, v in shown.items() if v == cutoff}
    assert {date.fromisoformat(r["diagnosis_date"]) for r in that_day} == {cutoff}


async def test_a_real_diagnosis_date_does_not_select_its_patient_for_a_researcher(
    client, clinician, researcher
):
    await create(client, clinician, [RECORD])  # diagnosed on 2023-01-10; shown shifted, never unshifted
    real = {"diagnosed_from": "2023-01-10", "diagnosed_to": "2023-01-10"}

    as_clinician = await every_row(client, clinician, **real)
    as_researcher = await every_row(client, researcher, **real)

    assert len(as_clinician) == 1
    assert as_researcher == []


@pytest.mark.parametrize("hidden", [{"source": "golestan-registry"}, {"origin": "real"}])
async def test_a_filter_on_a_field_the_researcher_is_not_shown_is_refused(
    client, clinician, researcher, hidden
):
    await create(client, clinician, [RECORD])

    refused = await client.get("/api/v1/patients", params=hidden, headers=researcher)
    allowed = await client.get("/api/v1/patients", params=hidden, headers=clinician)

    assert refused.status_code == 403
    assert refused.json()["status_code"] == 403
    assert next(iter(hidden)) in refused.json()["detail"]
    assert len(allowed.json()["items"]) == 1


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("counts", {"source": "golestan-registry"}),
        ("counts", {"by": "origin"}),
        ("counts", {"by": "sex,origin"}),
        ("age", {"origin": "real"}),
        ("survival", {"group": "origin"}),
        ("survival", {"source": "golestan-registry"}),
    ],
)
async def test_the_cohort_answers_refuse_a_researcher_hidden_fields(
    client, clinician, researcher, path, params
):
    await create(client, clinician, [RECORD, RECORD])

    refused = await client.get(f"/api/v1/patients/cohort/{path}", params=params, headers=researcher)
    allowed = await client.get(f"/api/v1/patients/cohort/{path}", params=params, headers=clinician)

    assert refused.status_code == 403, refused.text
    assert refused.json()["status_code"] == 403
    assert allowed.status_code == 200, allowed.text


async def test_a_researcher_pages_with_opaque_cursors_that_name_no_record(client, clinician, researcher):
    ids = await create(client, clinician, [RECORD] * 3)

    pages, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/patients", params=params, headers=researcher)).json()
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    cursors = [p["next_cursor"] for p in pages[:-1]]
    decoded = " ".join(
        base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)).decode(errors="replace") for c in cursors
    )

    assert len({p["items"][0]["research_id"] for p in pages}) == 3
    assert not any(i in c or i in decoded for i in ids for c in cursors)
    assert not UUID.search(" ".join(cursors) + decoded)


@pytest.mark.parametrize("cursor", ["not-a-cursor", "01a24c75-d6ff-7235-8ba7-0cb49ce9245d"])
async def test_a_researcher_cursor_not_given_by_the_server_is_refused(client, clinician, researcher, cursor):
    await create(client, clinician, [RECORD])

    refused = await client.get("/api/v1/patients", params={"cursor": cursor}, headers=researcher)

    assert refused.status_code == 422
    assert refused.json()["status_code"] == 422


async def test_a_researcher_addresses_a_record_by_its_research_id_only(client, clinician, researcher):
    (patient_id,) = await create(client, clinician, [RECORD])
    research_id = gateway_of(client.app).deidentifier.research_id(patient_id)

    by_internal_id = await client.get(f"/api/v1/patients/{patient_id}", headers=researcher)
    by_research_id = await client.get(f"/api/v1/patients/{research_id}", headers=researcher)
    clinician_by_research_id = await client.get(f"/api/v1/patients/{research_id}", headers=clinician)

    assert by_internal_id.status_code == 404
    assert by_internal_id.json()["status_code"] == 404
    assert by_research_id.status_code == 200
    assert by_research_id.json()["research_id"] == research_id
    assert patient_id not in by_research_id.headers["etag"] + by_research_id.text
    assert clinician_by_research_id.status_code == 404


async def test_a_researcher_is_shown_no_record_keeping_time(client, clinician, researcher):
    (patient_id,) = await create(client, clinician, [RECORD])
    research_id = gateway_of(client.app).deidentifier.research_id(patient_id)

    row = (await client.get("/api/v1/patients", headers=researcher)).json()["items"][0]
    whole = (await client.get(f"/api/v1/patients/{research_id}", headers=researcher)).json()

    for shown in (row, whole):
        assert "created_at" not in shown
        assert "updated_at" not in shown
        assert not UUID.search(str(shown))


async def test_age_filters_never_split_the_over_89_group_for_a_researcher(client, clinician, researcher):
    await create(client, clinician, [record(birth_date="1925-02-01"), record(birth_date="1960-02-01")])

    as_clinician = await every_row(client, clinician, min_age=95)
    over_95 = await every_row(client, researcher, min_age=95)
    over_90 = await every_row(client, researcher, min_age=90)

    assert len(as_clinician) == 1
    assert over_95 == []
    assert [r.get("age_group") for r in over_90] == ["90+"]


async def test_a_researcher_page_stops_at_its_scan_budget_and_goes_on_from_there(
    client, clinician, researcher, monkeypatch
):
    from inescape.modules.patients import research

    await create(client, clinician, [RECORD] * 6)  # one diagnosis day, six different shifts
    shown = {r["research_id"]: r["diagnosis_date"] for r in await every_row(client, researcher)}
    # the latest the researcher's list reads whose shifted day is not one of the first two
    # rows' (shifts are drawn from 730 days, so two records may share one)
    first_two = set(list(shown.values())[:2])
    target = next(k for k in reversed(shown) if shown[k] not in first_two)
    that_day = {"diagnosed_from": shown[target], "diagnosed_to": shown[target]}
    monkeypatch.setattr(research, "BATCH", 2)
    monkeypatch.setattr(research, "SCAN_BUDGET", 2)

    first = (await client.get("/api/v1/patients", params=that_day, headers=researcher)).json()
    every = await every_row(client, researcher, **that_day)

    assert first["items"] == []
    assert first["next_cursor"] is not None
    assert [r["research_id"] for r in every] == [k for k, v in shown.items() if v == shown[target]]


@pytest.mark.parametrize("params", [{"min_age": 95}, {"max_age": 95}, {"max_age": 89}])
async def test_cohort_age_bounds_that_split_the_over_89_group_are_refused_for_a_researcher(
    client, clinician, researcher, params
):
    await create(client, clinician, [record(birth_date="1925-02-01"), record(birth_date="1960-02-01")])

    refused = await client.get("/api/v1/patients/cohort/counts", params=params, headers=researcher)
    allowed = await client.get("/api/v1/patients/cohort/counts", params=params, headers=clinician)

    assert refused.status_code == 422, refused.text
    assert refused.json()["status_code"] == 422
    assert allowed.status_code == 200


async def test_a_researcher_sees_ages_at_diagnosis_over_89_as_90(client, clinician, researcher):
    await create(client, clinician, [record(birth_date="1925-02-01"), record(birth_date="1960-02-01")])

    shown = (await client.get("/api/v1/patients/cohort/age", headers=researcher)).json()["summary"][0]
    whole = (await client.get("/api/v1/patients/cohort/age", headers=clinician)).json()["summary"][0]

    assert whole["max"] == 98  # diagnosed in 2023, born in 1925
    assert shown["max"] == 90
    assert shown["min"] == whole["min"] == 63


async def test_a_researchers_list_runs_in_research_id_order_whatever_the_order_of_creation(
    client, clinician, researcher
):
    for _ in range(6):  # one at a time: six creation times
        await create(client, clinician, [RECORD])

    newest_first = [r["research_id"] for r in await every_row(client, researcher)]
    ascending = [r["research_id"] for r in await every_row(client, researcher, sort="id")]

    assert newest_first == sorted(newest_first, reverse=True)
    assert ascending == sorted(newest_first)


async def test_a_record_written_after_a_researcher_listed_is_found_by_its_research_id(
    client, clinician, researcher
):
    await create(client, clinician, [RECORD])
    await every_row(client, researcher)
    (later,) = await create(client, clinician, [RECORD])
    research_id = gateway_of(client.app).deidentifier.research_id(later)

    found = await client.get(f"/api/v1/patients/{research_id}", headers=researcher)
    listed = [r["research_id"] for r in await every_row(client, researcher)]

    assert found.status_code == 200, found.text
    assert research_id in listed


async def test_research_ids_stamped_under_an_old_secret_are_stamped_again(client, clinician, researcher):
    from inescape.modules.patients.service import PatientService

    ids = await create(client, clinician, [RECORD, RECORD])
    services = client.app.state.runtime.services
    old = PatientService(db=services.db, uow=services.uow, clock=services.clock, cache=services.cache)
    await old.stamp_research_ids(lambda patient_id: "R-" + patient_id[:16])  # as another key made them
    research_ids = {gateway_of(client.app).deidentifier.research_id(i) for i in ids}

    found = [await client.get(f"/api/v1/patients/{r}", headers=researcher) for r in research_ids]
    listed = {r["research_id"] for r in await every_row(client, researcher)}
    stale = await client.get(f"/api/v1/patients/R-{ids[0][:16]}", headers=researcher)

    assert [f.status_code for f in found] == [200, 200]
    assert listed == research_ids
    assert stale.status_code == 404


async def test_a_researcher_reads_which_staging_marker_and_treatment_each_row_is(
    client, clinician, researcher
):
    (patient_id,) = await create(client, clinician, [RECORD])
    research_id = gateway_of(client.app).deidentifier.research_id(patient_id)

    shown = (await client.get(f"/api/v1/patients/{research_id}", headers=researcher)).json()

    # a "3+" means nothing without "her2"; a T3 without clinical or pathological misleads
    assert [b["kind"] for b in shown["biomarkers"]] == [b["kind"] for b in RECORD["biomarkers"]]
    assert [s["kind"] for s in shown["staging"]] == [s["kind"] for s in RECORD["staging"]]
    assert [t["kind"] for t in shown["treatments"]] == [t["kind"] for t in RECORD["treatments"]]
    assert shown["risk_factors"]["tobacco"] == RECORD["risk_factors"]["tobacco"]
    assert not {"mrn", "given_name", "family_name", "birth_date", "source", "origin"} & set(shown)
