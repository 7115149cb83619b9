"""Login, tokens, refresh rotation, logout; every broken token is a 401 in the error shape."""

from __future__ import annotations

import base64
import json
import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey

from inescape.infra.tokens import TokenSigner
from tests.support.auth import PASSWORD, gateway_of, login, make_user, on_app_loop


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
async def anon(client):
    client.headers.pop("Authorization", None)
    return client


async def audit_actions(client, app) -> list[tuple[str, str, str | None]]:
    events = await on_app_loop(app, gateway_of(app).trail.query(filters={}, before_seq=None, limit=100))
    return [(e.action, e.outcome, e.user) for e in reversed(events)]


async def test_a_user_logs_in_and_is_known_by_the_token(anon):
    await make_user(anon.app, "dr.karimi", ["clinician"])

    tokens = await login(anon, "dr.karimi")
    me = await anon.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})

    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert me.status_code == 200
    assert me.json()["username"] == "dr.karimi"
    assert me.json()["roles"] == ["clinician"]
    assert "patients.jobs.read" in me.json()["permissions"]


async def test_a_wrong_password_is_401_and_audited_as_a_failure(anon):
    await make_user(anon.app, "dr.rahimi", ["clinician"])

    response = await anon.post("/api/v1/auth/token", json={"username": "dr.rahimi", "password": "nope"})

    assert response.status_code == 401
    assert response.json()["status_code"] == 401
    assert ("auth.login", "failure", "dr.rahimi") in await audit_actions(anon, anon.app)


async def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(anon):
    response = await anon.post("/api/v1/auth/token", json={"username": "ghost", "password": "x"})

    assert response.status_code == 401
    assert response.json()["detail"] == "Wrong username or password."


async def test_refresh_rotates_and_a_replayed_refresh_token_ends_the_whole_session(anon):
    await make_user(anon.app, "analyst", ["researcher"])
    first = await login(anon, "analyst")

    second = await anon.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]

    replay = await anon.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    after = await anon.post("/api/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]})
    me = await anon.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {second.json()['access_token']}"}
    )

    assert replay.status_code == 401
    assert "used already" in replay.json()["detail"]
    assert after.status_code == 401
    assert me.status_code == 401


async def test_logout_ends_the_access_token(anon):
    await make_user(anon.app, "steward", ["data_steward"])
    tokens = await login(anon, "steward")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}

    assert (await anon.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await anon.get("/api/v1/auth/me", headers=headers)).status_code == 401
    refreshed = await anon.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401


async def test_the_jwks_publishes_the_signing_key_without_its_private_part(anon):
    body = (await anon.get("/.well-known/jwks.json")).json()
    tokens_header = None
    await make_user(anon.app, "someone", ["auditor"])
    access = (await login(anon, "someone"))["access_token"]
    tokens_header = json.loads(base64.urlsafe_b64decode(access.split(".")[0] + "=="))

    assert [k["kid"] for k in body["keys"]] == [tokens_header["kid"]]
    assert all("d" not in key for key in body["keys"])
    assert tokens_header["alg"] == "ES256"


def forged_tokens(app) -> dict[str, str]:
    signer = gateway_of(app).signer
    now = int(time.time())
    claims = {
        "iss": signer.issuer,
        "aud": signer.audience,
        "sub": "x",
        "roles": ["admin"],
        "typ": "access",
        "exp": now + 600,
        "nbf": now - 1,
        "iat": now,
    }
    valid, _ = signer.issue(subject="x", ttl_s=600, claims={"roles": ["clinician"], "typ": "access"})
    head, body, sig = valid.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["roles"] = ["admin"]
    public_jwk = json.dumps(signer.jwks()["keys"][0]).encode()
    hs_key = OctKey.import_key(public_jwk)
    stranger = ECKey.generate_key("P-256", parameters={"kid": "not-ours"}, private=True)
    expired_signer = TokenSigner(
        [ECKey.import_key(k) for k in signer._keys.as_dict(private=True)["keys"]],
        issuer=signer.issuer,
        audience=signer.audience,
        clock=lambda: now - 7200,
    )
    wrong_aud = TokenSigner(
        [ECKey.import_key(k) for k in signer._keys.as_dict(private=True)["keys"]],
        issuer=signer.issuer,
        audience="someone-else",
    )
    admin_claims = {"roles": ["admin"], "typ": "access"}
    return {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.",
        "HS256 with the public key as secret": jwt.encode(
            {"alg": "HS256", "kid": signer.jwks()["keys"][0]["kid"]}, claims, hs_key, algorithms=["HS256"]
        ),
        "unknown kid": jwt.encode(
            {"alg": "ES256", "kid": "not-ours"}, claims, stranger, algorithms=["ES256"]
        ),
        "tampered payload": f"{head}.{b64(payload)}.{sig}",
        "expired": expired_signer.issue(subject="x", ttl_s=60, claims=admin_claims)[0],
        "wrong audience": wrong_aud.issue(subject="x", ttl_s=60, claims=admin_claims)[0],
        "garbage": "not.a.jwt",
    }


async def test_every_broken_token_is_refused_with_401_in_the_error_shape(anon):
    for name, token in forged_tokens(anon.app).items():
        response = await anon.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 401, name
        assert set(response.json()) >= {"detail", "status_code"}, name
        assert response.headers.get("www-authenticate") == "Bearer", name


async def test_a_deactivated_user_can_no_longer_log_in_or_refresh(client):
    user_id = await make_user(client.app, "leaver", ["clinician"])
    tokens = await login(client, "leaver")

    response = await client.patch(f"/api/v1/users/{user_id}", json={"active": False})
    assert response.status_code == 200

    relogin = await client.post("/api/v1/auth/token", json={"username": "leaver", "password": PASSWORD})
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert relogin.status_code == 401
    assert "deactivated" in relogin.json()["detail"]
    assert refresh.status_code == 401


async def test_repeated_wrong_passwords_back_off_with_429_and_retry_after(anon):
    await make_user(anon.app, "target", ["clinician"])
    wrong = {"username": "target", "password": "not the password"}

    statuses = [(await anon.post("/api/v1/auth/token", json=wrong)).status_code for _ in range(5)]
    throttled = await anon.post("/api/v1/auth/token", json=wrong)
    right_but_early = await anon.post("/api/v1/auth/token", json={"username": "target", "password": PASSWORD})

    assert statuses == [401] * 5
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1
    assert throttled.json()["status_code"] == 429
    assert right_but_early.status_code == 429  # even the right password waits out the back-off
