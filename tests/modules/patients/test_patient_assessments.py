"""What decision support asks for, held by the record: fitness for surgery (who judged it and
when), lymphovascular and airway or great-vessel invasion of the tumour, and comorbidities.
Set with ``PATCH`` against a version (stale: 409, or 412 with ``If-Match``; nothing written),
refused with field paths when invalid, shown to researchers without the assessor, and carried
through FHIR and back."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from tests.support.auth import bearer, gateway_of, on_app_loop
from tests.support.records import record

FITNESS = {"fit": True, "assessed_by": "Dr Sara Ahmadi", "assessed_on": "2023-01-22", "note": "ASA II"}
COMORBIDITIES = [
    {
        "system": "http://hl7.org/fhir/sid/icd-10",
        "code": "J44.9",
        "display": "Chronic obstructive pulmonary disease, unspecified",
        "category": "chronic_pulmonary_disease",
        "recorded_on": "2022-11-03",
    },
    {
        "system": "http://snomed.info/sct",
        "code": "44054006",
        "display": "Diabetes mellitus type 2 (disorder)",
        "category": "diabetes_without_complications",
    },
]
ASSESSED = {
    "fitness_for_surgery": FITNESS,
    "comorbidities": COMORBIDITIES,
    "lymphovascular_invasion": True,
    "invades_airway_or_great_vessels": False,
}


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.assess", ["clinician"])


@pytest.fixture
async def researcher(client):
    return await bearer(client, client.app, "res.assess", ["researcher"])


async def stored(client, headers, **changes: Any) -> str:
    response = await client.post("/api/v1/patients", json=record(**changes), headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def read(client, headers, patient_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/patients/{patient_id}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def comorbidity_rows(client) -> int:
    async def count() -> int:
        async with client.app.state.services.db.sessions() as s:
            return int(await s.scalar(text("SELECT count(*) FROM patient_comorbidities")))

    return await on_app_loop(client.app, count())


async def test_a_clinician_sets_the_assessments_against_the_version_read(client, clinician):
    patient_id = await stored(client, clinician)
    before = await read(client, clinician, patient_id)

    changed = await client.patch(
        f"/api/v1/patients/{patient_id}", json={"version": before["version"], **ASSESSED}, headers=clinician
    )
    after = await read(client, clinician, patient_id)

    assert changed.status_code == 200, changed.text
    assert changed.json() == {"version": before["version"] + 1}
    assert changed.headers["etag"] == f'W/"{patient_id}:{before["version"] + 1}:f"'
    assert after["version"] == before["version"] + 1
    assert after["fitness_for_surgery"] == FITNESS
    assert after["comorbidities"] == [{"recorded_on": None, **c} for c in COMORBIDITIES]
    assert after["conditions"][0]["lymphovascular_invasion"] is True
    assert after["conditions"][0]["invades_airway_or_great_vessels"] is False
    assert after["conditions"][0]["tumour_length_cm"] == 5.5  # the rest of the condition stays


async def test_comorbidities_are_replaced_as_a_list_and_other_fields_are_left_alone(client, clinician):
    patient_id = await stored(client, clinician, comorbidities=COMORBIDITIES, fitness_for_surgery=FITNESS)

    changed = await client.patch(
        f"/api/v1/patients/{patient_id}", json={"comorbidities": COMORBIDITIES[1:]}, headers=clinician
    )
    after = await read(client, clinician, patient_id)

    assert changed.status_code == 200, changed.text
    assert [c["code"] for c in after["comorbidities"]] == ["44054006"]
    assert after["fitness_for_surgery"] == FITNESS
    assert await comorbidity_rows(client) == 1


async def test_an_explicit_null_makes_a_recorded_assessment_unknown_again(client, clinician):
    """A fitness recorded in error, or an invasion fact withdrawn after review, can be made
    unknown again, so decision support asks for it anew; leaving a field out keeps it."""
    patient_id = await stored(client, clinician, fitness_for_surgery=FITNESS)
    await client.patch(f"/api/v1/patients/{patient_id}", json=ASSESSED, headers=clinician)

    kept = await client.patch(f"/api/v1/patients/{patient_id}", json={"country": "IR"}, headers=clinician)
    still = await read(client, clinician, patient_id)
    cleared = await client.patch(
        f"/api/v1/patients/{patient_id}",
        json={"fitness_for_surgery": None, "lymphovascular_invasion": None},
        headers=clinician,
    )
    after = await read(client, clinician, patient_id)

    assert kept.status_code == 200, kept.text
    assert still["fitness_for_surgery"] == FITNESS
    assert still["conditions"][0]["lymphovascular_invasion"] is True
    assert cleared.status_code == 200, cleared.text
    assert after["fitness_for_surgery"] is None
    assert after["conditions"][0]["lymphovascular_invasion"] is None
    assert after["conditions"][0]["invades_airway_or_great_vessels"] is False  # left out: kept


async def test_a_stale_version_is_a_409_and_nothing_is_written(client, clinician):
    patient_id = await stored(client, clinician)
    version = (await read(client, clinician, patient_id))["version"]
    first = await client.patch(
        f"/api/v1/patients/{patient_id}",
        json={"version": version, "fitness_for_surgery": FITNESS},
        headers=clinician,
    )

    stale = await client.patch(
        f"/api/v1/patients/{patient_id}",
        json={"version": version, **ASSESSED, "fitness_for_surgery": {**FITNESS, "fit": False}},
        headers=clinician,
    )
    after = await read(client, clinician, patient_id)

    assert first.status_code == 200
    assert stale.status_code == 409
    assert stale.json()["status_code"] == 409
    assert "version" in stale.json()["detail"]
    assert after["version"] == version + 1
    assert after["fitness_for_surgery"]["fit"] is True
    assert after["comorbidities"] == []
    assert after["conditions"][0]["lymphovascular_invasion"] is None
    assert await comorbidity_rows(client) == 0


async def test_of_two_changes_made_against_one_version_one_is_written_and_the_other_refused(
    client, clinician
):
    patient_id = await stored(client, clinician)
    version = (await read(client, clinician, patient_id))["version"]

    answers = await asyncio.gather(
        *(
            client.patch(
                f"/api/v1/patients/{patient_id}",
                json={"version": version, "comorbidities": [item]},
                headers=clinician,
            )
            for item in COMORBIDITIES
        )
    )
    after = await read(client, clinician, patient_id)

    assert sorted(a.status_code for a in answers) == [200, 409]
    assert after["version"] == version + 1
    assert len(after["comorbidities"]) == 1
    assert await comorbidity_rows(client) == 1


async def test_if_match_with_the_etag_of_the_read_guards_the_change_412_when_stale(client, clinician):
    patient_id = await stored(client, clinician)
    etag = (await client.get(f"/api/v1/patients/{patient_id}", headers=clinician)).headers["etag"]

    fresh = await client.patch(
        f"/api/v1/patients/{patient_id}",
        json={"lymphovascular_invasion": False},
        headers={**clinician, "If-Match": etag},
    )
    stale = await client.patch(
        f"/api/v1/patients/{patient_id}",
        json={"lymphovascular_invasion": True},
        headers={**clinician, "If-Match": etag},
    )
    other = await client.patch(
        f"/api/v1/patients/{patient_id}",
        json={"lymphovascular_invasion": True},
        headers={**clinician, "If-Match": '"not-an-etag-of-ours"'},
    )
    after = await read(client, clinician, patient_id)

    assert fresh.status_code == 200, fresh.text
    assert stale.status_code == 412
    assert stale.json()["status_code"] == 412
    assert other.status_code == 412
    assert after["conditions"][0]["lymphovascular_invasion"] is False


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        (
            {"fitness_for_surgery": {**FITNESS, "assessed_on": "2099-01-01"}},
            422,
            "fitness_for_surgery.assessed_on",
        ),
        (
            {"fitness_for_surgery": {**FITNESS, "assessed_on": "1950-01-01"}},
            422,
            "fitness_for_surgery.assessed_on",
        ),
        ({"comorbidities": [{**COMORBIDITIES[0], "code": "chronic lung"}]}, 422, "comorbidities[0].code"),
        ({"comorbidities": [COMORBIDITIES[1], COMORBIDITIES[1]]}, 422, "comorbidities[1].code"),
        ({"comorbidities": [{**COMORBIDITIES[0], "category": "gout"}]}, 422, None),
        ({"comorbidities": [{**COMORBIDITIES[0], "system": "http://loinc.org"}]}, 422, None),
        ({"fitness_for_surgery": {"fit": True, "assessed_on": "2023-01-22"}}, 422, None),
        ({"lymphovascular_invasion": "maybe"}, 422, None),
        ({"version": 0}, 422, None),
    ],
)
async def test_an_invalid_assessment_is_refused_naming_it_and_nothing_is_written(
    client, clinician, change, status, field
):
    patient_id = await stored(client, clinician)
    before = await read(client, clinician, patient_id)

    response = await client.patch(
        f"/api/v1/patients/{patient_id}",
        json={**change, "comorbidities": change.get("comorbidities", COMORBIDITIES)},
        headers=clinician,
    )
    after = await read(client, clinician, patient_id)

    assert response.status_code == status, response.text
    assert response.json()["status_code"] == status
    if field is not None:
        assert field in [e["field"] for e in response.json()["errors"]]
    assert after == before
    assert await comorbidity_rows(client) == 0


async def test_tumour_facts_need_a_condition_to_belong_to(client, clinician):
    patient_id = await stored(client, clinician, conditions=[], staging=[], treatments=[], outcome=None)

    response = await client.patch(
        f"/api/v1/patients/{patient_id}", json={"lymphovascular_invasion": True}, headers=clinician
    )

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["lymphovascular_invasion"]
    assert (await read(client, clinician, patient_id))["version"] == 1


async def test_the_change_is_audited_and_needs_the_write_permission(client, clinician, researcher):
    patient_id = await stored(client, clinician)

    refused = await client.patch(
        f"/api/v1/patients/{patient_id}", json={"fitness_for_surgery": FITNESS}, headers=researcher
    )
    done = await client.patch(
        f"/api/v1/patients/{patient_id}", json={"fitness_for_surgery": FITNESS}, headers=clinician
    )
    events = await on_app_loop(
        client.app,
        gateway_of(client.app).trail.query(filters={"action": "patients.update"}, before_seq=None, limit=50),
    )

    assert refused.status_code == 403
    assert done.status_code == 200
    assert [(e.user, e.patient_id, e.outcome) for e in events if e.outcome == "success"] == [
        ("dr.assess", patient_id, "success")
    ]


async def test_a_researcher_sees_the_clinical_facts_but_not_who_assessed_or_the_note(
    client, clinician, researcher
):
    patient_id = await stored(client, clinician)
    await client.patch(f"/api/v1/patients/{patient_id}", json=ASSESSED, headers=clinician)

    listing = await client.get("/api/v1/patients", headers=researcher)
    (row,) = listing.json()["items"]  # a researcher names a record by its research id only
    seen = await read(client, researcher, row["research_id"])
    fhir = await client.get(f"/fhir/Observation?patient={seen['research_id']}", headers=researcher)

    assert seen["fitness_for_surgery"]["fit"] is True
    assert "assessed_by" not in seen["fitness_for_surgery"]
    assert "note" not in seen["fitness_for_surgery"]
    assert seen["fitness_for_surgery"]["assessed_on"] != FITNESS["assessed_on"]  # shifted
    assert seen["conditions"][0]["lymphovascular_invasion"] is True
    assert [c["code"] for c in seen["comorbidities"]] == ["J44.9", "44054006"]
    assert fhir.status_code == 200, fhir.text
    observations = [e["resource"] for e in fhir.json().get("entry", [])]
    fitness = [o for o in observations if o["code"]["coding"][0]["code"] == "fit-for-surgery"]
    assert len(fitness) == 1
    assert "performer" not in fitness[0]
    assert "note" not in fitness[0]
    assert "Ahmadi" not in fhir.text


async def test_the_assessments_travel_through_the_fhir_bundle_and_back(client, clinician):
    from fhir.resources.R4B.bundle import Bundle

    from inescape.modules.patients.fhir import from_bundle

    patient_id = await stored(client, clinician)
    await client.patch(f"/api/v1/patients/{patient_id}", json=ASSESSED, headers=clinician)

    response = await client.get(f"/api/v1/patients/{patient_id}/fhir", headers=clinician)
    back = from_bundle(response.json())

    assert response.status_code == 200
    Bundle.model_validate(response.json())
    assert back.fitness_for_surgery is not None
    assert (back.fitness_for_surgery.fit, back.fitness_for_surgery.assessed_by) == (True, "Dr Sara Ahmadi")
    assert back.fitness_for_surgery.note == "ASA II"
    assert [(c.system, c.code, c.category) for c in back.comorbidities] == [
        (c["system"], c["code"], c["category"]) for c in COMORBIDITIES
    ]
    assert back.conditions[0].lymphovascular_invasion is True
    assert back.conditions[0].invades_airway_or_great_vessels is False


async def test_the_fhir_read_api_serves_them_as_valid_r4_resources(client, clinician):
    from fhir.resources.R4B import get_fhir_model_class

    patient_id = await stored(client, clinician)
    await client.patch(f"/api/v1/patients/{patient_id}", json=ASSESSED, headers=clinician)

    conditions = await client.get(f"/fhir/Condition?patient={patient_id}", headers=clinician)
    observations = await client.get(f"/fhir/Observation?patient={patient_id}", headers=clinician)
    fitness = await client.get(f"/fhir/Observation/{patient_id}.fitness-for-surgery", headers=clinician)

    assert conditions.status_code == observations.status_code == fitness.status_code == 200
    found = [e["resource"] for r in (conditions, observations) for e in r.json()["entry"]]
    for resource in found:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    codes = {c["code"] for r in found for c in r.get("code", {}).get("coding", [])}
    assert {"J44.9", "44054006", "33739-4", "398192003", "fit-for-surgery"} <= codes
    assert fitness.json()["performer"] == [{"display": "Dr Sara Ahmadi"}]
    assert fitness.json()["valueBoolean"] is True


def test_the_assessor_is_withheld_even_where_an_install_keeps_unknown_text():
    import msgspec

    from inescape.modules.auth.api import DEFAULT_POLICY
    from inescape.modules.auth.deid import Deidentifier

    keeping = Deidentifier(
        b"a-test-secret-of-32-bytes-length",
        policy=msgspec.structs.replace(DEFAULT_POLICY, unknown_text="keep"),
    )

    seen = keeping.deidentify({"fitness_for_surgery": FITNESS}, patient_id="p-1")

    assert seen["fitness_for_surgery"]["fit"] is True
    assert "assessed_by" not in seen["fitness_for_surgery"]
    assert "note" not in seen["fitness_for_surgery"]
