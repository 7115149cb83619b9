"""The gateway module: authentication, RBAC, users, tokens, audit."""

from __future__ import annotations

import logging
from typing import Any

from inescape.kernel.modules import ModuleSpec
from inescape.modules.auth.controllers import AuthController, UserController, audit_events, jwks
from inescape.modules.auth.gateway import build_gateway
from inescape.modules.auth.middleware import authentication, rbac_guard
from inescape.modules.auth.settings import AuthSettings


async def start_gateway(services: Any) -> None:
    gateway = build_gateway(services, services.module_settings["auth"])
    services.extensions["auth"] = gateway
    async with services.db.sessions() as session:
        if not await gateway.accounts.any_user(session):
            log.warning(
                "no user accounts yet: create the first administrator with "
                "`inescape create-user NAME --role admin` (there is no default password)"
            )


log = logging.getLogger("inescape.auth")


spec = ModuleSpec(
    name="auth",
    title="Gateway: accounts, tokens, RBAC, rate limits, audit query API",
    port=8000,
    needs=("database", "cache", "documents"),
    route_handlers=[AuthController, UserController, audit_events, jwks],
    middleware=[authentication],
    guards=[rbac_guard],
    on_startup=[start_gateway],
    settings=AuthSettings,
)
