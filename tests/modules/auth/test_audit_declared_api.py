"""Audit declared on the route beside its permission, written by the gateway in one place:
before the answer starts (no event, no answer), with what the handler noted, and on every
route that touches patient data."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from inescape.modules.auth.api import Audit
from inescape.modules.auth.audit import COLLECTION
from inescape.modules.auth.rbac import PUBLIC
from tests.support.auth import PASSWORD, bearer, gateway_of, on_app_loop
from tests.support.records import RECORD

DOWN = "The audit log is unreachable; patient data cannot be reached now: try again in a few seconds."


@pytest.fixture
async def clinician(client):
    return await bearer(client, client.app, "dr.audit", ["clinician"])


async def events(client, action: str) -> list:
    trail = gateway_of(client.app).trail
    return await on_app_loop(client.app, trail.query(filters={"action": action}, before_seq=None, limit=50))


async def count_patients(client) -> int:
    async def count() -> int:
        async with client.app.state.services.db.sessions() as s:
            return int(await s.scalar(text("SELECT count(*) FROM patients")))

    return await on_app_loop(client.app, count())


async def created_patient(client, clinician) -> str:
    created = await client.post("/api/v1/patients", json=RECORD, headers=clinician)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.fixture
def audit_down(client, monkeypatch):
    """The audit store stops answering: pings and appends to the trail fail."""
    store = client.app.state.services.documents
    insert_many = store.insert_many

    async def ping() -> None:
        raise ConnectionError("document store down")

    async def refuse_audit(collection: str, docs: Any) -> int:
        if collection == COLLECTION:
            raise ConnectionError("document store down")
        return await insert_many(collection, docs)

    async def refuse_audit_with_checkpoint(collection: str, docs: Any, **options: Any) -> int:
        raise ConnectionError("document store down")  # the SQL store's one-transaction append

    def down(*, ping_too: bool = True, appends_too: bool = True) -> None:
        if ping_too:
            monkeypatch.setattr(store, "ping", ping)
        if appends_too:
            monkeypatch.setattr(store, "insert_many", refuse_audit)
            if hasattr(store, "insert_many_and_update"):
                monkeypatch.setattr(store, "insert_many_and_update", refuse_audit_with_checkpoint)

    return down


def assert_unavailable(response) -> None:
    assert response.status_code == 503
    body = response.json()
    assert body["status_code"] == 503
    assert body["detail"] == DOWN
    assert body["backend"] == "audit"
    assert response.headers["Retry-After"] == "5"


async def test_a_declared_route_writes_its_event_with_the_path_parameter_as_resource(client, clinician):
    patient_id = await created_patient(client, clinician)

    read = await client.get(
        f"/api/v1/patients/{patient_id}/fhir", headers={**clinician, "X-Request-ID": "req-fhir-1"}
    )

    assert read.status_code == 200
    (event,) = await events(client, "patients.export_fhir")
    assert (event.resource_type, event.resource_id, event.patient_id) == ("patient", patient_id, patient_id)
    assert (event.user, event.roles, event.outcome) == ("dr.audit", ["clinician"], "success")
    assert event.request_id == "req-fhir-1"
    assert event.client_ip


async def test_a_write_is_refused_with_503_and_nothing_is_written_while_the_audit_store_is_down(
    client, clinician, audit_down
):
    audit_down()

    refused = await client.post("/api/v1/patients", json=RECORD, headers=clinician)

    assert_unavailable(refused)
    assert await count_patients(client) == 0


async def test_an_event_that_cannot_be_written_turns_the_answer_into_a_503_with_none_of_it(
    client, clinician, audit_down
):
    patient_id = await created_patient(client, clinician)
    audit_down(ping_too=False)

    read = await client.get(f"/api/v1/patients/{patient_id}", headers=clinician)

    assert_unavailable(read)
    assert "GOL-0045812" not in read.text
    assert "ETag" not in read.headers


async def test_a_stream_is_refused_before_its_first_byte_when_its_event_cannot_be_written(
    client, clinician, audit_down
):
    await created_patient(client, clinician)
    audit_down(ping_too=False)

    export = await client.get("/api/v1/patients/export.ndjson", headers=clinician)

    assert_unavailable(export)
    assert "resourceType" not in export.text


async def test_a_question_sent_as_a_post_skips_the_store_check_and_is_still_audited(
    client, clinician, audit_down
):
    audit_down(appends_too=False)  # the check would fail; the append does not
    facts = {"kind": "clinical", "histology": "adenocarcinoma", "t": "cT2", "n": "N0", "m": "M0"}

    staged = await client.post("/api/v1/cds/staging", json=facts, headers=clinician)
    refused = await client.post("/api/v1/patients", json=RECORD, headers=clinician)

    assert staged.status_code == 200, staged.text
    assert len(await events(client, "cds.staging")) == 1
    assert_unavailable(refused)


async def test_the_handlers_note_lands_in_the_event(client, clinician):
    await created_patient(client, clinician)

    listed = await client.get("/api/v1/patients", headers=clinician)

    assert listed.status_code == 200
    (event,) = await events(client, "patients.list")
    assert event.detail == "1 records"
    (created,) = await events(client, "patients.create")
    assert created.resource_id == created.patient_id == listed.json()["items"][0]["id"]


async def test_an_error_answer_with_a_noted_outcome_is_written_as_that_outcome(client):
    refused = await client.post("/api/v1/models/nowhere/versions/1/promote", json={})

    assert refused.status_code == 404
    (event,) = await events(client, "models.promote")
    assert (event.outcome, event.resource_id, event.user) == ("failure", "nowhere:000001", "admin")


async def test_an_error_answer_without_a_noted_outcome_writes_nothing(client, clinician):
    missing = await client.get("/api/v1/patients/no-such-patient", headers=clinician)

    assert missing.status_code == 404
    assert await events(client, "patients.read") == []


async def test_a_handler_may_name_each_event_it_writes(client):
    created = await client.post(
        "/api/v1/users",
        json={"username": "nurse", "display_name": "N", "roles": ["clinician"], "password": PASSWORD},
    )
    user_id = created.json()["id"]

    renamed = await client.patch(f"/api/v1/users/{user_id}", json={"display_name": "Nurse"})
    changed = await client.patch(f"/api/v1/users/{user_id}", json={"roles": ["auditor"], "active": False})

    assert (renamed.status_code, changed.status_code) == (200, 200)
    (roles,) = await events(client, "users.roles_changed")
    (deactivated,) = await events(client, "users.deactivated")
    assert (roles.resource_id, roles.detail) == (user_id, "['clinician'] -> ['auditor']")
    assert (deactivated.resource_id, deactivated.detail) == (user_id, None)
    assert roles.request_id == deactivated.request_id


# --- every route that touches patient data declares its audit ---------------------------------

# Permissions whose routes read or change patient data (or decide on it); job resources
# (``*.jobs.*``) show a job's state, not records.
PATIENT_DATA = ("patients.", "cds.")
# Routes under other permissions that hand out data derived from records.
DATA_READS = {
    ("GET", "/api/v1/datasets/{dataset_id:str}"),
    ("GET", "/api/v1/datasets/{dataset_id:str}/files/{name:str}"),
    ("GET", "/api/v1/collection/jobs/{job_id:str}/rejects"),
}


def served_routes(app) -> list[tuple[str, str, Any]]:
    return [
        (method, route.path, handler)
        for route in app.routes
        for handler in getattr(route, "route_handlers", [])
        for method in sorted(getattr(handler, "http_methods", ()) or ())
        if method not in {"HEAD", "OPTIONS"}
    ]


def touches_patient_data(method: str, path: str, permission: object) -> bool:
    if (method, path) in DATA_READS:
        return True
    return (
        isinstance(permission, str)
        and permission.startswith(PATIENT_DATA)
        and ".jobs." not in permission
        and permission != PUBLIC
    )


async def test_every_route_that_touches_patient_data_declares_its_audit(client):
    routes = served_routes(client.app)
    touching = [(m, p, h) for m, p, h in routes if touches_patient_data(m, p, h.opt.get("permission"))]

    undeclared = [f"{m} {p}" for m, p, h in touching if not isinstance(h.opt.get("audit"), Audit)]

    assert len(touching) >= 20
    assert {(m, p) for m, p, _ in touching} >= DATA_READS
    assert undeclared == []


async def test_every_declared_audit_names_path_parameters_its_route_has(client):
    wrong = []
    for method, path, handler in served_routes(client.app):
        declared = handler.opt.get("audit")
        if not isinstance(declared, Audit):
            continue
        names = {part.split(":")[0] for part in path.replace("}", "{").split("{")[1::2]}
        in_action = {part.split("}")[0] for part in (declared.action or "").split("{")[1:]}
        wanted = {n for n in (declared.resource_id, declared.patient_id) if n} | in_action
        if not wanted <= names:
            wrong.append(f"{method} {path}: {sorted(wanted - names)}")

    assert wrong == []
