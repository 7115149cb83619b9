"""A refused request to patient data is audited (outcome "denied"): a role without the
permission (403), no token or a bad one (401), a deactivated account's token; anonymous
refusals are limited per address so that a flood of them cannot flood the trail."""

from __future__ import annotations

from inescape.modules.auth.audit import COLLECTION
from inescape.modules.auth.request_audit import AnonymousRefusals
from tests.support.auth import bearer, gateway_of, on_app_loop
from tests.support.records import RECORD


async def denied(client) -> list:
    trail = gateway_of(client.app).trail
    return await on_app_loop(
        client.app, trail.query(filters={"outcome": "denied"}, before_seq=None, limit=500)
    )


async def a_patient(client) -> str:
    clinician = await bearer(client, client.app, "dr.owner", ["clinician"])
    created = await client.post("/api/v1/patients", json=RECORD, headers=clinician)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_a_role_without_the_permission_is_refused_and_audited_by_name(client):
    patient_id = await a_patient(client)
    auditor = await bearer(client, client.app, "nosy.auditor", ["auditor"])

    refused = await client.get(f"/api/v1/patients/{patient_id}", headers=auditor)

    assert refused.status_code == 403
    (event,) = await denied(client)
    assert (event.action, event.user, event.roles) == ("patients.read", "nosy.auditor", ["auditor"])
    assert (event.patient_id, event.resource_type) == (patient_id, "patient")
    assert f"403 GET /api/v1/patients/{patient_id}" in event.detail


async def test_no_token_and_a_bad_token_are_refused_and_audited(client):
    patient_id = await a_patient(client)

    anonymous = await client.get(f"/api/v1/patients/{patient_id}", headers={"Authorization": ""})
    forged = await client.get(
        f"/api/v1/patients/{patient_id}", headers={"Authorization": "Bearer not.a.token"}
    )

    assert (anonymous.status_code, forged.status_code) == (401, 401)
    events = await denied(client)
    assert len(events) == 2
    assert all(e.user is None and e.patient_id == patient_id and e.client_ip for e in events)
    assert any("invalid" in e.detail for e in events)


async def test_a_deactivated_accounts_token_is_refused_and_audited_by_name(client):
    patient_id = await a_patient(client)
    token = await bearer(client, client.app, "dr.left", ["clinician"])
    users = (await client.get("/api/v1/users", params={"limit": 200})).json()["items"]
    left = next(u["id"] for u in users if u["username"] == "dr.left")
    await client.patch(f"/api/v1/users/{left}", json={"active": False})

    refused = await client.get(f"/api/v1/patients/{patient_id}", headers=token)

    assert refused.status_code == 401
    (event,) = await denied(client)
    assert (event.user, event.patient_id) == ("dr.left", patient_id)
    assert "deactivated" in event.detail


async def test_refusals_of_routes_without_patient_data_write_nothing(client):
    refused = await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not.a.token"})

    assert refused.status_code == 401
    assert await denied(client) == []


async def test_a_flood_of_anonymous_refusals_writes_a_bounded_number_of_events(client):
    patient_id = await a_patient(client)

    answers = [
        (await client.get(f"/api/v1/patients/{patient_id}", headers={"Authorization": ""})).status_code
        for _ in range(25)
    ]

    assert set(answers) == {401}
    assert len(await denied(client)) == 10


async def test_a_refusal_whose_event_cannot_be_written_is_answered_503(client, monkeypatch):
    patient_id = await a_patient(client)
    auditor = await bearer(client, client.app, "nosy.auditor", ["auditor"])
    store = client.app.state.services.documents
    insert_many = store.insert_many

    async def refuse_audit(collection, docs):
        if collection == COLLECTION:
            raise ConnectionError("document store down")
        return await insert_many(collection, docs)

    async def refuse_audit_with_checkpoint(collection, docs, **options):
        raise ConnectionError("document store down")  # the SQL store's one-transaction append

    monkeypatch.setattr(store, "insert_many", refuse_audit)
    if hasattr(store, "insert_many_and_update"):
        monkeypatch.setattr(store, "insert_many_and_update", refuse_audit_with_checkpoint)

    by_role = await client.get(f"/api/v1/patients/{patient_id}", headers=auditor)
    by_token = await client.get(f"/api/v1/patients/{patient_id}", headers={"Authorization": "Bearer x.y.z"})

    assert (by_role.status_code, by_token.status_code) == (503, 503)
    assert by_role.json()["status_code"] == 503
    assert by_token.headers["Retry-After"]


def test_anonymous_refusals_past_the_first_are_counted_not_lost():
    now = [0.0]
    limit = AnonymousRefusals(window_s=60, each=2, every=5, clock=lambda: now[0])

    first = [limit.admit("10.0.0.9") for _ in range(11)]
    other = limit.admit("10.0.0.7")
    now[0] = 61.0
    next_window = limit.admit("10.0.0.9")

    assert first[:2] == [(True, 0), (True, 0)]
    assert [w for w in first[2:] if w[0]] == [(True, 4)]  # every 5th, saying the 4 before it
    assert other == (True, 0)
    assert next_window == (True, 4)  # the 4 left over from the window before


def test_the_addresses_counted_are_bounded():
    limit = AnonymousRefusals(window_s=60, each=1, every=1000, addresses=3, clock=lambda: 0.0)

    for i in range(100):
        limit.admit(f"10.0.{i}.1")

    assert len(limit._seen) <= 4
