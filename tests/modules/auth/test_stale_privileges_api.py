"""A token carries the roles of its issue time; the account, as it is now, decides. A demoted
administrator's token cannot create an administrator, a deactivated clinician's token cannot
create a patient, and the last administrator keeps its role."""

from __future__ import annotations

from tests.support.auth import PASSWORD, bearer, gateway_of, on_app_loop

NEW_ADMIN = {"username": "mallory", "display_name": "M", "roles": ["admin"], "password": PASSWORD}
PATIENT = {"sex": "male", "birth_date": "1960-05-01", "mrn": "STALE-1", "given_name": "A", "family_name": "B"}


async def user_id_of(client, username: str) -> str:
    items = (await client.get("/api/v1/users", params={"limit": 200})).json()["items"]
    return next(u["id"] for u in items if u["username"] == username)


async def test_a_demoted_admins_token_cannot_create_an_admin(client):
    token = await bearer(client, client.app, "old.admin", ["admin"])
    demoted = await client.patch(
        f"/api/v1/users/{await user_id_of(client, 'old.admin')}", json={"roles": ["auditor"]}
    )
    assert demoted.status_code == 200, demoted.text

    response = await client.post("/api/v1/users", headers=token, json=NEW_ADMIN)

    assert response.status_code == 403, response.text
    assert "auditor" in response.json()["detail"]
    assert "mallory" not in [u["username"] for u in (await client.get("/api/v1/users")).json()["items"]]


async def test_a_deactivated_clinicians_token_cannot_create_a_patient(client):
    token = await bearer(client, client.app, "dr.gone", ["clinician"])
    assert (await client.get("/api/v1/patients", headers=token)).status_code == 200
    gone = await client.patch(f"/api/v1/users/{await user_id_of(client, 'dr.gone')}", json={"active": False})
    assert gone.status_code == 200, gone.text

    response = await client.post("/api/v1/patients", headers=token, json=PATIENT)

    assert response.status_code == 401, response.text
    assert "deactivated" in response.json()["detail"]
    colleague = await bearer(client, client.app, "dr.here", ["clinician"])
    listed = (await client.get("/api/v1/patients", headers=colleague)).json()
    assert listed["items"] == []


async def test_a_promotion_counts_from_the_next_request(client):
    token = await bearer(client, client.app, "soon.admin", ["auditor"])
    assert (await client.get("/api/v1/users", headers=token)).status_code == 403

    await client.patch(f"/api/v1/users/{await user_id_of(client, 'soon.admin')}", json={"roles": ["admin"]})

    assert (await client.get("/api/v1/users", headers=token)).status_code == 200


async def test_the_last_admin_can_neither_drop_its_role_nor_be_deactivated(client):
    me = await user_id_of(client, "admin")

    demoted = await client.patch(f"/api/v1/users/{me}", json={"roles": ["auditor"]})
    deactivated = await client.patch(f"/api/v1/users/{me}", json={"active": False})

    for response in (demoted, deactivated):
        assert response.status_code == 409, response.text
        assert "last active administrator" in response.json()["detail"]
    after = (await client.get(f"/api/v1/users/{me}")).json()
    assert (after["roles"], after["active"]) == (["admin"], True)


async def test_with_a_second_admin_the_first_may_step_down(client):
    await bearer(client, client.app, "second.admin", ["admin"])
    me = await user_id_of(client, "admin")

    response = await client.patch(f"/api/v1/users/{me}", json={"roles": ["auditor"]})

    assert response.status_code == 200, response.text
    assert (await client.get("/api/v1/users")).status_code == 403  # from this request on


async def test_a_change_in_another_process_reaches_this_one_through_the_shared_cache(client):
    """Another process changed the account (its own Accounts, same cache): the cached state
    of this process is dropped, not served until it lapses."""
    from inescape.modules.auth.accounts import Accounts

    token = await bearer(client, client.app, "dr.elsewhere", ["clinician"])
    assert (await client.get("/api/v1/patients", headers=token)).status_code == 200  # cached now
    ours = gateway_of(client.app).accounts
    services = client.app.state.services
    other = Accounts(
        clock=ours.clock, sessions=services.db.sessions, transaction=services.uow, cache=services.cache
    )

    await on_app_loop(
        client.app,
        other.update(
            user_id=await user_id_of(client, "dr.elsewhere"), roles=None, display_name=None, active=False
        ),
    )

    assert (await client.get("/api/v1/patients", headers=token)).status_code == 401


async def test_two_admins_deactivated_at_once_leave_one(client):
    """Two changes in flight together, each on its own connection: each sees the other
    administrator still active unless the changes are serialised."""
    import asyncio

    from inescape.modules.auth.accounts import LastAdministrator

    await bearer(client, client.app, "second.admin", ["admin"])
    accounts = gateway_of(client.app).accounts
    ids = [await user_id_of(client, name) for name in ("admin", "second.admin")]

    async def both() -> list:
        return await asyncio.gather(
            *(accounts.update(user_id=i, roles=None, display_name=None, active=False) for i in ids),
            return_exceptions=True,
        )

    outcomes = await on_app_loop(client.app, both())

    assert sorted(type(o).__name__ for o in outcomes) == ["LastAdministrator", "tuple"], outcomes
    assert any(isinstance(o, LastAdministrator) for o in outcomes)
