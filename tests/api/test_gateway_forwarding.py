"""The gateway in split mode, in process: a forwarded module whose process is not there is a
503 naming it, with ``Retry-After``; the token and role are checked before forwarding; the
modules the gateway serves itself keep answering."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from inescape import migrate
from inescape.app import create_app
from inescape.settings import GatewaySettings
from tests.support.auth import bearer
from tests.support.processes import free_port


@pytest.fixture
async def gateway(settings):
    if settings.database.url:
        migrate.upgrade(settings.database_url)
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings.gateway = GatewaySettings(upstreams=[f"cds={closed}", f"training={closed}"])
    app = create_app(settings)
    async with AsyncTestClient(app) as client:
        yield client


async def test_a_forwarded_module_that_is_down_is_a_503_naming_it(gateway):
    clinician = await bearer(gateway, gateway.app, "doctor", ["clinician"])

    response = await gateway.post("/api/v1/cds/risk", json={"age": 60}, headers=clinician)

    assert response.status_code == 503
    assert response.json()["status_code"] == 503
    assert "cds" in response.json()["detail"]
    assert response.headers["Retry-After"] == "5"


async def test_the_gateway_checks_the_role_before_forwarding(gateway):
    researcher = await bearer(gateway, gateway.app, "res", ["researcher"])

    response = await gateway.post(
        "/api/v1/models/overall-survival/versions/1/promote", json={}, headers=researcher
    )

    assert response.status_code == 403


async def test_the_modules_the_gateway_serves_keep_answering(gateway):
    admin = await bearer(gateway, gateway.app, "root", ["admin"])

    me = await gateway.get("/api/v1/auth/me", headers=admin)
    profiles = await gateway.get("/api/v1/generation/profiles", headers=admin)

    assert me.status_code == 200
    assert profiles.status_code == 200


async def test_a_forwarded_route_keeps_its_permission_and_leaves_its_audit_to_the_module(gateway):
    forwarded = [
        handler
        for route in gateway.app.routes
        if route.path == "/api/v1/patients/{patient_id:str}/cds"
        for handler in getattr(route, "route_handlers", [])
        if "GET" in handler.http_methods
    ]

    assert [(h.opt.get("permission"), h.opt.get("upstream")) for h in forwarded] == [
        ("cds.patients.read", "cds")
    ]
    assert "audit" not in forwarded[0].opt  # cds's own process writes it
