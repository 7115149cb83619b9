"""The admin API for users: create, list, change roles, deactivate; bad input writes nothing."""

from __future__ import annotations

import pytest

from tests.support.auth import PASSWORD, bearer, gateway_of, on_app_loop


async def users_named(client) -> list[str]:
    return [u["username"] for u in (await client.get("/api/v1/users")).json()["items"]]


async def test_an_admin_creates_lists_and_changes_the_roles_of_a_user(client):
    created = await client.post(
        "/api/v1/users",
        json={
            "username": "dr.ahmadi",
            "display_name": "Dr Ahmadi",
            "roles": ["clinician"],
            "password": PASSWORD,
        },
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert "password" not in user
    assert "password_hash" not in user

    changed = await client.patch(f"/api/v1/users/{user['id']}", json={"roles": ["clinician", "researcher"]})

    assert changed.json()["roles"] == ["clinician", "researcher"]
    assert "dr.ahmadi" in await users_named(client)
    events = await on_app_loop(
        client.app,
        gateway_of(client.app).trail.query(
            filters={"action": "users.roles_changed"}, before_seq=None, limit=10
        ),
    )
    assert events[0].resource_id == user["id"]
    assert events[0].user == "admin"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"username": "x", "display_name": "X", "roles": ["clinician"], "password": PASSWORD}, 422),
        ({"username": "valid.name", "display_name": "V", "roles": ["surgeon"], "password": PASSWORD}, 422),
        ({"username": "valid.name", "display_name": "V", "roles": [], "password": PASSWORD}, 422),
        ({"username": "clin\n", "display_name": "C", "roles": ["clinician"], "password": PASSWORD}, 422),
        ({"username": "valid.name", "display_name": "V", "roles": ["admin\n"], "password": PASSWORD}, 422),
        ({"username": "valid.name", "display_name": "V", "roles": ["clinician"], "password": "short"}, 422),
        (
            {
                "username": "valid.name",
                "display_name": "V",
                "roles": ["clinician"],
                "password": "valid.name-and-more",
            },
            422,
        ),
        (
            {
                "username": "valid.name",
                "display_name": "V",
                "roles": ["clinician"],
                "password": PASSWORD,
                "is_superuser": True,
            },
            422,
        ),
    ],
)
async def test_a_bad_user_is_refused_with_the_reason_and_nothing_is_written(client, body, status):
    before = await users_named(client)

    response = await client.post("/api/v1/users", json=body)

    assert response.status_code == status, response.text
    assert response.json()["status_code"] == status
    assert await users_named(client) == before


async def test_a_taken_username_is_a_conflict(client):
    body = {"username": "twin", "display_name": "T", "roles": ["auditor"], "password": PASSWORD}
    assert (await client.post("/api/v1/users", json=body)).status_code == 201

    response = await client.post("/api/v1/users", json=body)

    assert response.status_code == 409


@pytest.mark.parametrize("role", ["clinician", "researcher", "data_steward", "auditor"])
async def test_only_an_admin_manages_users(client, role):
    headers = await bearer(client, client.app, f"probe.{role}", [role])

    response = await client.post(
        "/api/v1/users",
        headers=headers,
        json={"username": "sneaky", "display_name": "S", "roles": ["admin"], "password": PASSWORD},
    )

    assert response.status_code == 403
    assert "sneaky" not in await users_named(client)


async def test_a_user_created_outside_a_request_is_audited_as_done_by_its_creator(client):
    gateway = gateway_of(client.app)

    user = await on_app_loop(
        client.app,
        gateway.create_user(
            username="dr.cli", display_name="Dr Cli", roles=["clinician"], password=PASSWORD, by="cli"
        ),
    )
    events = await on_app_loop(
        client.app, gateway.trail.query(filters={"action": "users.create"}, before_seq=None, limit=10)
    )
    report = await on_app_loop(client.app, gateway.verify_audit())

    assert "dr.cli" in await users_named(client)
    assert (events[0].user, events[0].resource_id) == ("cli", user.id)
    assert events[0].detail == "dr.cli with roles clinician"
    assert report.ok


async def test_a_role_with_a_trailing_newline_is_refused_on_change(client):
    created = await client.post(
        "/api/v1/users",
        json={"username": "dr.nl", "display_name": "N", "roles": ["clinician"], "password": PASSWORD},
    )

    response = await client.patch(f"/api/v1/users/{created.json()['id']}", json={"roles": ["admin\n"]})

    assert response.status_code == 422, response.text
    assert (await client.get(f"/api/v1/users/{created.json()['id']}")).json()["roles"] == ["clinician"]


async def test_a_username_with_a_trailing_newline_is_refused_outside_a_request_too(client):
    from inescape.kernel.errors import Invalid

    gateway = gateway_of(client.app)

    with pytest.raises(Invalid):
        await on_app_loop(
            client.app,
            gateway.create_user(
                username="clin\n", display_name="C", roles=["clinician"], password=PASSWORD, by="cli"
            ),
        )
    assert "clin\n" not in await users_named(client)
