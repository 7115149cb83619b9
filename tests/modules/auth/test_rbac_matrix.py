"""Every route the app serves, for every role: allowed, or 403 (anonymous: 401). The route
list is read from the app, so a new route without a permission fails here."""

from __future__ import annotations

import re

import pytest

from inescape.kernel.ids import new_id
from inescape.modules.auth.api import ROLES, Principal
from inescape.modules.auth.rbac import PUBLIC, allowed
from tests.support.auth import gateway_of, make_user, on_app_loop

SKIP_METHODS = {"HEAD", "OPTIONS"}


def served_routes(app) -> list[tuple[str, str, object]]:
    found = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in sorted(getattr(handler, "http_methods", ()) or ()):
                if method not in SKIP_METHODS:
                    found.append((method, route.path, handler))
    return found


def concrete(path: str) -> str:
    def value(m: re.Match[str]) -> str:
        kind = m.group(1)
        return "x/y" if kind == "path" else "1" if kind == "int" else new_id()

    return re.sub(r"\{[^}:]+:?(path|int)?[^}]*\}", value, path)


async def token_for(app, role: str) -> dict[str, str]:
    gateway = gateway_of(app)
    user_id = await make_user(app, f"{role}-probe", [role])  # a token is honoured for an account
    principal = Principal(id=user_id, username=f"{role}-probe", roles=[role])
    pair = await on_app_loop(app, gateway.sessions.issue(principal))
    return {"Authorization": f"Bearer {pair.access_token}"}


def permission(app, path: str, handler) -> str | None:
    from inescape.modules.auth.middleware import permission_of

    return permission_of(handler, path, app.openapi_config.path)


async def test_every_route_has_a_permission(client):
    app = client.app
    unclassified = [f"{m} {p}" for m, p, h in served_routes(app) if permission(app, p, h) is None]

    assert unclassified == []


@pytest.mark.parametrize("role", [*ROLES, "anonymous"])
async def test_each_role_reaches_exactly_the_routes_its_permissions_allow(client, role):
    app = client.app
    headers = {"Authorization": ""} if role == "anonymous" else await token_for(app, role)
    wrong = []
    for method, path, handler in served_routes(app):
        if path == "/api/v1/auth/logout":
            continue  # ends the probe's own session; covered by the token tests
        needed = permission(app, path, handler)
        response = await client.request(method, concrete(path), headers=headers, json={})
        if role == "anonymous":
            expected_denied = needed != PUBLIC
            denied = response.status_code == 401
        else:
            expected_denied = not allowed([role], needed)
            denied = response.status_code == 403
        if denied != expected_denied:
            wrong.append(f"{method} {path} ({needed}): {response.status_code}")
        if denied and path.startswith("/fhir"):  # a FHIR server answers errors as FHIR does
            assert response.json()["resourceType"] == "OperationOutcome"
            assert response.json()["issue"][0]["diagnostics"]
        elif denied:
            assert set(response.json()) >= {"detail", "status_code"}

    assert wrong == []
