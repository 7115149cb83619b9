"""CDS Hooks 2.0 trust: an EHR calls ``POST /cds-services/<id>`` with a JWT it signs itself.

Two EHRs are configured through ``INESCAPE_AUTH_CDS_CLIENTS``: one with its keys inline, one
with a JWKS URL and a host its ``jku`` may name, both served over HTTPS on loopback. Each
refusal is its own test, and a refused call issues no card.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path

import msgspec
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from litestar.testing import AsyncTestClient

from inescape import migrate
from inescape.app import create_app
from inescape.modules.patients.api import ClinicalCodecs, PatientRecord
from inescape.modules_loader import load_specs
from tests.support.auth import bearer, gateway_of, on_app_loop
from tests.support.jwks_server import JwksServer
from tests.support.records import RECORD

REQUEST = Path(__file__).parents[2] / "support" / "realworld" / "cds-hooks" / "patient-view-request.json"
SERVICE = "/cds-services/inescape-esophageal-cancer"
SERVICE_URL = f"http://testserver.local{SERVICE}"  # the URL the test client calls
PUBLIC_URL = "https://inescape.hospital.example"
EHR = "https://ehr.hospital.example"  # keys inline
EHR_KEY = RSAKey.generate_key(2048, parameters={"kid": "ehr-1"}, private=True)
REMOTE = "https://remote-ehr.example"  # keys at a JWKS URL, jku on localhost
REMOTE_KEY = ECKey.generate_key("P-384", parameters={"kid": "remote-1"}, private=True)
JKU_KEY = ECKey.generate_key("P-384", parameters={"kid": "jku-1"}, private=True)


@pytest.fixture
def jwks(tmp_path):
    server = JwksServer(tmp_path)
    server.sets["/ehr/jwks.json"] = [REMOTE_KEY.as_dict(private=False)]
    server.sets["/jku/jwks.json"] = [JKU_KEY.as_dict(private=False)]
    yield server
    server.close()


@pytest.fixture
async def client(settings, jwks, monkeypatch):
    clients = [
        {"issuer": EHR, "jwks": {"keys": [EHR_KEY.as_dict(private=False)]}},
        {"issuer": REMOTE, "jwks_url": jwks.url("/ehr/jwks.json"), "jku_hosts": ["localhost"]},
    ]
    monkeypatch.setenv("INESCAPE_AUTH_CDS_CLIENTS", json.dumps(clients))
    monkeypatch.setenv("INESCAPE_AUTH_PUBLIC_URL", PUBLIC_URL)
    monkeypatch.setenv("SSL_CERT_FILE", str(jwks.certfile))  # the platform trusts the EHR's server
    if settings.database.url:
        migrate.upgrade(settings.database_url)
    app = create_app(settings, load_specs(settings.modules), worker=False)
    async with AsyncTestClient(app) as test_client:
        yield test_client


def signed(key=EHR_KEY, *, header: dict | None = None, **overrides) -> dict[str, str]:
    """The Authorization header of an EHR's token: valid unless ``overrides`` say otherwise."""
    now = int(time.time())
    claims = {
        "iss": EHR,
        "sub": "Practitioner/example",
        "aud": SERVICE_URL,
        "exp": now + 240,
        "iat": now,
        "jti": str(uuid.uuid4()),
    } | overrides
    alg = "RS384" if isinstance(key, RSAKey) else "ES384"
    head = {"alg": alg, "typ": "JWT", "kid": key.kid} | (header or {})
    return {"Authorization": f"Bearer {jwt.encode(head, claims, key, algorithms=[head['alg']])}"}


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def greeter_request() -> dict:
    """The specification's example with its one patient as the whole prefetch."""
    body = json.loads(REQUEST.read_text())
    patient = body["prefetch"]["patientToGreet"]
    empty = {"resourceType": "Bundle", "type": "searchset", "entry": []}
    body["prefetch"] = {"patient": patient} | {
        k: empty for k in ("conditions", "observations", "procedures", "medications")
    }
    return body


async def cards_issued(client) -> list:
    return await on_app_loop(client.app, client.app.state.services.documents.find("cds_cards", {}))


async def assert_refused(client, response, reason: str) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["status_code"] == 401
    assert reason in response.json()["detail"]
    assert await cards_issued(client) == []


async def test_a_configured_ehrs_token_gets_cards_and_the_audit_event_names_the_ehr(client):
    clinician = await bearer(client, client.app, "dr.chen", ["clinician"])
    created = (await client.post("/api/v1/patients", json=RECORD, headers=clinician)).json()
    stored = (await client.get(f"/api/v1/patients/{created['id']}", headers=clinician)).json()
    bundle = client.app.state.runtime.facade(ClinicalCodecs).to_bundle(
        msgspec.convert(stored, PatientRecord), base_url="https://ehr.hospital.example/fhir"
    )
    resources = [e["resource"] for e in bundle["entry"]]
    body = json.loads(REQUEST.read_text())
    body["context"]["patientId"] = created["id"]
    body["prefetch"] = {"patient": next(r for r in resources if r["resourceType"] == "Patient")} | {
        key: {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": r} for r in resources if r["resourceType"] == kind],
        }
        for key, kind in (
            ("conditions", "Condition"),
            ("observations", "Observation"),
            ("procedures", "Procedure"),
            ("medications", "MedicationRequest"),
        )
    }

    response = await client.post(SERVICE, json=body, headers=signed())

    assert response.status_code == 200, response.text
    assert response.json()["cards"][0]["summary"].startswith("AJCC 8th stage III")
    trail = gateway_of(client.app).trail
    (event,) = await on_app_loop(
        client.app, trail.query(filters={"action": "cds.hooks.patient-view"}, before_seq=None, limit=5)
    )
    assert event.user == EHR
    assert event.outcome == "success"


async def test_an_audience_under_the_public_url_is_accepted_behind_a_proxy(client):
    response = await client.post(SERVICE, json=greeter_request(), headers=signed(aud=PUBLIC_URL + SERVICE))

    assert response.status_code == 200, response.text
    assert response.json() == {"cards": []}


async def test_keys_are_fetched_from_the_ehrs_jwks_url(client, jwks):
    response = await client.post(SERVICE, json=greeter_request(), headers=signed(REMOTE_KEY, iss=REMOTE))

    assert response.status_code == 200, response.text
    assert jwks.hits["/ehr/jwks.json"] == 1


async def test_a_jku_on_a_trusted_host_gives_the_key(client, jwks):
    headers = signed(JKU_KEY, iss=REMOTE, header={"jku": jwks.url("/jku/jwks.json")})

    response = await client.post(SERVICE, json=greeter_request(), headers=headers)

    assert response.status_code == 200, response.text
    assert jwks.hits["/jku/jwks.json"] == 1


async def test_a_rotated_key_at_the_jwks_url_is_fetched_again(client, jwks, monkeypatch):
    first = await client.post(SERVICE, json=greeter_request(), headers=signed(REMOTE_KEY, iss=REMOTE))
    rotated = ECKey.generate_key("P-384", parameters={"kid": "remote-2"}, private=True)
    jwks.sets["/ehr/jwks.json"].append(rotated.as_dict(private=False))
    monkeypatch.setattr("inescape.infra.cds_clients.REFETCH_AFTER_S", 0.0)

    second = await client.post(SERVICE, json=greeter_request(), headers=signed(rotated, iss=REMOTE))

    assert (first.status_code, second.status_code) == (200, 200)
    assert jwks.hits["/ehr/jwks.json"] == 2


async def test_a_platform_token_still_works_on_the_cds_route(client):
    clinician = await bearer(client, client.app, "dr.chen", ["clinician"])

    response = await client.post(SERVICE, json=greeter_request(), headers=clinician)

    assert response.status_code == 200, response.text


async def test_the_ehrs_token_is_refused_on_any_other_route(client):
    response = await client.get("/api/v1/auth/me", headers=signed())

    assert response.status_code == 403
    assert response.json()["status_code"] == 403
    assert "only on the CDS Hooks routes" in response.json()["detail"]


async def test_a_wrong_audience_is_refused(client):
    headers = signed(aud="https://elsewhere.example/cds-services/inescape-esophageal-cancer")

    response = await client.post(SERVICE, json=greeter_request(), headers=headers)

    await assert_refused(client, response, "another audience")


async def test_an_expired_token_is_refused(client):
    headers = signed(exp=int(time.time()) - 120, iat=int(time.time()) - 400)

    response = await client.post(SERVICE, json=greeter_request(), headers=headers)

    await assert_refused(client, response, "expired")


async def test_a_token_expiring_more_than_five_minutes_ahead_is_refused(client):
    response = await client.post(SERVICE, json=greeter_request(), headers=signed(exp=int(time.time()) + 3600))

    await assert_refused(client, response, "too far ahead")


async def test_a_replayed_jti_is_refused(client):
    headers = signed(jti="once-only")
    first = await client.post(SERVICE, json=greeter_request(), headers=headers)
    again = signed(jti="once-only")  # a new signature does not make the jti new

    response = await client.post(SERVICE, json=greeter_request(), headers=again)

    assert first.status_code == 200, first.text
    assert response.status_code == 401
    assert "replayed jti" in response.json()["detail"]


async def test_a_token_without_jti_is_refused(client):
    response = await client.post(SERVICE, json=greeter_request(), headers=signed(jti=None))

    await assert_refused(client, response, "no jti")


async def test_an_unknown_issuer_is_refused(client):
    stranger = RSAKey.generate_key(2048, parameters={"kid": "ehr-1"}, private=True)

    response = await client.post(
        SERVICE, json=greeter_request(), headers=signed(stranger, iss="https://stranger-ehr.example")
    )

    await assert_refused(client, response, "issuer 'https://stranger-ehr.example' is unknown")


async def test_alg_none_is_refused(client):
    now = int(time.time())
    claims = {"iss": EHR, "aud": SERVICE_URL, "exp": now + 240, "iat": now, "jti": str(uuid.uuid4())}
    token = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'ehr-1'})}.{b64(claims)}."

    response = await client.post(
        SERVICE, json=greeter_request(), headers={"Authorization": f"Bearer {token}"}
    )

    await assert_refused(client, response, "algorithm 'none', which is not allowed")


async def test_hs256_is_refused(client):
    secret = OctKey.import_key(b"a shared secret of thirty-two bytes!", parameters={"kid": "ehr-1"})

    response = await client.post(
        SERVICE, json=greeter_request(), headers=signed(secret, header={"alg": "HS256"})
    )

    await assert_refused(client, response, "algorithm 'HS256', which is not allowed")


async def test_a_jku_on_an_untrusted_host_is_refused_and_never_fetched(client, jwks):
    jku = jwks.url("/jku/jwks.json").replace("localhost", "127.0.0.1")  # same server, host not listed
    headers = signed(JKU_KEY, iss=REMOTE, header={"jku": jku})

    response = await client.post(SERVICE, json=greeter_request(), headers=headers)

    await assert_refused(client, response, "untrusted jku")
    assert "/jku/jwks.json" not in jwks.hits


async def test_a_jku_over_plain_http_is_refused(client, jwks):
    jku = jwks.url("/jku/jwks.json").replace("https://", "http://")
    headers = signed(JKU_KEY, iss=REMOTE, header={"jku": jku})

    response = await client.post(SERVICE, json=greeter_request(), headers=headers)

    await assert_refused(client, response, "untrusted jku")


async def test_a_jku_from_a_client_with_no_jku_hosts_is_refused(client, jwks):
    response = await client.post(
        SERVICE, json=greeter_request(), headers=signed(header={"jku": jwks.url("/jku/jwks.json")})
    )

    await assert_refused(client, response, "untrusted jku")


async def test_an_unknown_kid_is_refused(client, jwks):
    unknown = ECKey.generate_key("P-384", parameters={"kid": "remote-9"}, private=True)

    response = await client.post(SERVICE, json=greeter_request(), headers=signed(unknown, iss=REMOTE))

    await assert_refused(client, response, "unknown key (kid 'remote-9')")


async def test_a_token_signed_by_another_key_with_a_known_kid_is_refused(client):
    impostor = RSAKey.generate_key(2048, parameters={"kid": "ehr-1"}, private=True)

    response = await client.post(SERVICE, json=greeter_request(), headers=signed(impostor))

    await assert_refused(client, response, "does not verify")
