"""Tokens from a hospital OpenID Connect provider, verified against the JWKS a local test
server publishes, with the provider's roles mapped to ours."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from litestar.testing import AsyncTestClient

from inescape.app import create_app
from inescape.modules_loader import load_specs
from inescape.settings import load_settings

ISSUER = "https://idp.hospital.example/realms/oncology"
ROLE_MAP = "Oncologist=clinician,Epidemiologist=researcher"


class Provider:
    """A JWKS endpoint on loopback; keys can rotate while the platform runs."""

    def __init__(self) -> None:
        self.keys = [RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)]
        self.hits = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.hits += 1
                body = json.dumps({"keys": [k.as_dict(private=False) for k in provider.keys]})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def jwks_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/protocol/openid-connect/certs"

    def token(self, key=None, **overrides) -> str:
        key = key or self.keys[-1]
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": "inescape",
            "sub": "f:1234",
            "exp": now + 300,
            "iat": now,
            "preferred_username": "dr.moradi",
            "realm_access": {"roles": ["Oncologist", "offline_access"]},
        } | overrides
        alg = "RS256" if isinstance(key, RSAKey) else "ES256"
        return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


@pytest.fixture
def provider():
    p = Provider()
    yield p
    p.server.shutdown()


@pytest.fixture
async def oidc_client(provider, tmp_path, monkeypatch):
    for key, value in {
        "INESCAPE_AUTH_OIDC_ISSUER": ISSUER,
        "INESCAPE_AUTH_OIDC_JWKS_URL": provider.jwks_url,
        "INESCAPE_AUTH_OIDC_AUDIENCE": "inescape",
        "INESCAPE_AUTH_OIDC_ROLES_CLAIM": "realm_access.roles",
        "INESCAPE_AUTH_OIDC_ROLE_MAP": ROLE_MAP,
    }.items():
        monkeypatch.setenv(key, value)
    settings = load_settings({"INESCAPE_DATA_DIR": str(tmp_path)})
    async with AsyncTestClient(create_app(settings, load_specs(["auth", "patients"]))) as client:
        yield client


async def me(client, token: str):
    return await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})


async def test_a_provider_token_is_accepted_with_its_roles_mapped_to_ours(oidc_client, provider):
    response = await me(oidc_client, provider.token())

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["username"] == "dr.moradi"
    assert body["source"] == "oidc"
    assert body["roles"] == ["clinician"]


async def test_a_rotated_provider_key_is_fetched_again(oidc_client, provider):
    assert (await me(oidc_client, provider.token())).status_code == 200
    provider.keys.append(ECKey.generate_key("P-256", parameters={"kid": "ec-2"}, private=True))
    import inescape.infra.oidc as oidc

    oidc.REFETCH_AFTER_S, saved = 0.0, oidc.REFETCH_AFTER_S
    try:
        response = await me(oidc_client, provider.token())
    finally:
        oidc.REFETCH_AFTER_S = saved

    assert response.status_code == 200
    assert provider.hits == 2


@pytest.mark.parametrize(
    "broken",
    [
        {"aud": "another-app"},
        {"exp": int(time.time()) - 3600},
        {"iss": ISSUER + "-evil"},
    ],
)
async def test_a_provider_token_with_wrong_claims_is_401(oidc_client, provider, broken):
    response = await me(oidc_client, provider.token(**broken))

    assert response.status_code == 401
    assert response.json()["status_code"] == 401


async def test_a_token_signed_by_someone_else_with_the_providers_issuer_is_401(oidc_client, provider):
    impostor = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"}, private=True)

    response = await me(oidc_client, provider.token(key=impostor))

    assert response.status_code == 401


async def test_unmapped_provider_roles_give_no_permissions(oidc_client, provider):
    token = provider.token(realm_access={"roles": ["Janitor"]})

    assert (await me(oidc_client, token)).json()["roles"] == []
    jobs = await oidc_client.get("/api/v1/patients/jobs", headers={"Authorization": f"Bearer {token}"})
    assert jobs.status_code == 403
    assert msgspec.json.decode(jobs.content)["status_code"] == 403
