"""A signed-in user changes their own password: every other session ends, a wrong current
password is refused and throttled like a login, a weak new one is a 422 that changes nothing.
A one-time password (the demo's, ``create-user --one-time``) lets its account do nothing but
change it, until it is changed."""

from __future__ import annotations

from tests.support.auth import PASSWORD, bearer, gateway_of, login, make_user, on_app_loop

NEW = "a new and quite long passphrase 7"
PATIENT = {
    "sex": "female",
    "birth_date": "1958-03-02",
    "mrn": "ONCE-1",
    "given_name": "Z",
    "family_name": "K",
}


def auth(tokens: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def change(client, tokens: dict, current: str, new: str):
    return await client.post(
        "/api/v1/auth/password",
        headers=auth(tokens),
        json={"current_password": current, "new_password": new},
    )


async def events(client, action: str) -> list:
    trail = gateway_of(client.app).trail
    return await on_app_loop(client.app, trail.query(filters={"action": action}, before_seq=None, limit=50))


async def make_one_time_user(app, username: str, roles: list[str]) -> str:
    accounts = gateway_of(app).accounts

    async def create() -> str:
        user = await accounts.create(
            username=username, display_name=username, roles=roles, password=PASSWORD, one_time=True
        )
        return str(user.id)

    return await on_app_loop(app, create())


async def test_a_changed_password_ends_every_other_session_and_this_one_goes_on(client):
    await make_user(client.app, "dr.sadeghi", ["clinician"])
    laptop = await login(client, "dr.sadeghi")
    phone = await login(client, "dr.sadeghi")

    response = await change(client, laptop, PASSWORD, NEW)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["other_sessions_ended"] is True
    assert "other session" in body["detail"]
    assert (await client.get("/api/v1/auth/me", headers=auth(phone))).status_code == 401
    stale = await client.post("/api/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
    assert stale.status_code == 401
    assert "password was changed" in stale.json()["detail"]
    # the caller's own old tokens are spent too; the answer's new ones carry on
    assert (await client.get("/api/v1/auth/me", headers=auth(laptop))).status_code == 401
    assert (await client.get("/api/v1/patients", headers=auth(body))).status_code == 200
    renewed = await client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert renewed.status_code == 200, renewed.text
    old = await client.post("/api/v1/auth/token", json={"username": "dr.sadeghi", "password": PASSWORD})
    assert old.status_code == 401
    assert (await login(client, "dr.sadeghi", NEW))["access_token"]
    written = await events(client, "auth.password_change")
    assert [(e.outcome, e.user) for e in written] == [("success", "dr.sadeghi")]


async def test_a_wrong_current_password_is_refused_audited_and_counts_toward_the_login_throttle(client):
    user_id = await make_user(client.app, "stolen.token", ["researcher"])
    tokens = await login(client, "stolen.token")

    statuses = []
    for attempt in range(5):
        wrong = await change(client, tokens, f"guess number {attempt}", NEW)
        statuses.append(wrong.status_code)
    throttled = await change(client, tokens, PASSWORD, NEW)
    login_too = await client.post(
        "/api/v1/auth/token", json={"username": "stolen.token", "password": PASSWORD}
    )

    assert statuses == [403] * 5
    assert "current password is wrong" in wrong.json()["detail"]
    assert set(wrong.json()) >= {"detail", "status_code"}
    assert throttled.status_code == 429  # even the right password waits out the back-off
    assert int(throttled.headers["retry-after"]) >= 1
    assert login_too.status_code == 429  # the same throttle as a login's
    failures = await events(client, "auth.password_change")
    # each wrong password is a refusal (403: "denied"), the throttled attempt a "failure"
    assert sorted(e.outcome for e in failures) == ["denied"] * 5 + ["failure"]
    assert {e.user for e in failures} == {"stolen.token"}
    assert [e.resource_id for e in failures if e.outcome == "failure"] == [user_id]
    assert (await client.get("/api/v1/auth/me", headers=auth(tokens))).status_code == 200  # not changed


async def test_a_weak_new_password_is_a_422_naming_the_field_and_changes_nothing(client):
    await make_user(client.app, "steward.b", ["data_steward"])
    tokens = await login(client, "steward.b")

    short = await change(client, tokens, PASSWORD, "short")
    with_name = await change(client, tokens, PASSWORD, "steward.b-and-more-text")
    same = await change(client, tokens, PASSWORD, PASSWORD)
    missing = await client.post("/api/v1/auth/password", headers=auth(tokens), json={"new_password": NEW})

    for response in (short, with_name, same):
        assert response.status_code == 422, response.text
        assert response.json()["status_code"] == 422
        assert "new_password" in response.text
    assert missing.status_code == 422
    assert "current_password" in missing.text
    assert (await client.get("/api/v1/auth/me", headers=auth(tokens))).status_code == 200
    assert (await login(client, "steward.b"))["access_token"]  # the old password still works
    refused = await client.post("/api/v1/auth/token", json={"username": "steward.b", "password": "short"})
    assert refused.status_code == 401


async def test_a_one_time_account_may_only_change_its_password_then_reads_patients(client):
    clinician = await bearer(client, client.app, "dr.first", ["clinician"])
    created = await client.post("/api/v1/patients", headers=clinician, json=PATIENT)
    assert created.status_code == 201, created.text
    patient = created.json()["id"]
    await make_one_time_user(client.app, "dr.new", ["clinician"])

    tokens = await login(client, "dr.new")
    me = await client.get("/api/v1/auth/me", headers=auth(tokens))
    before = await client.get(f"/api/v1/patients/{patient}", headers=auth(tokens))
    listing = await client.get("/api/v1/patients", headers=auth(tokens))
    changed = await change(client, tokens, PASSWORD, NEW)
    after = await client.get(f"/api/v1/patients/{patient}", headers=auth(changed.json()))

    assert tokens["password_change_required"] is True
    assert me.status_code == 200
    assert me.json()["must_change_password"] is True
    assert before.status_code == 403
    assert "Change your password first" in before.json()["detail"]
    assert listing.status_code == 403
    assert changed.status_code == 200, changed.text
    assert after.status_code == 200, after.text
    assert after.json()["mrn"] == "ONCE-1"
    again = await login(client, "dr.new", NEW)
    assert again["password_change_required"] is False
    denied = await events(client, "patients.read")
    assert ("denied", "dr.new") in {(e.outcome, e.user) for e in denied}


async def test_an_admin_creates_a_user_with_a_one_time_password(client):
    created = await client.post(
        "/api/v1/users",
        json={
            "username": "dr.handed",
            "display_name": "Dr Handed",
            "roles": ["clinician"],
            "password": PASSWORD,
            "one_time": True,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["must_change_password"] is True

    tokens = await login(client, "dr.handed")

    assert tokens["password_change_required"] is True
    assert (await client.get("/api/v1/patients", headers=auth(tokens))).status_code == 403
