"""The gateway module: authentication, RBAC, users, tokens, audit, de-identification."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from inescape.infra.documents import SqlDocumentStore
from inescape.infra.owned import OwnedDocuments
from inescape.infra.platform import ModuleContext
from inescape.kernel.modules import Bound, ModuleSpec
from inescape.modules.auth.accounts import Accounts
from inescape.modules.auth.api import GatewayApi
from inescape.modules.auth.audit import CHECKPOINTS, COLLECTION
from inescape.modules.auth.controllers import AuthController, UserController, audit_events, jwks
from inescape.modules.auth.gateway import build_gateway
from inescape.modules.auth.middleware import authentication, rbac_guard
from inescape.modules.auth.request_audit import DeniedAudit, audit_ready, request_audit
from inescape.modules.auth.settings import AuthSettings

log = logging.getLogger("inescape.auth")


def bind(ctx: ModuleContext[AuthSettings]) -> Bound:
    platform = ctx.platform
    gateway = build_gateway(
        settings=ctx.settings,
        clock=platform.clock,
        cache=platform.cache,
        documents=platform.documents,
        # the audit chain's signed head, in the SQL database whatever the audit store is
        checkpoints=OwnedDocuments(
            SqlDocumentStore(platform.db, clock=platform.clock), module="auth", collections=[CHECKPOINTS]
        ),
        sessions=platform.db.sessions,
        transaction=platform.uow,
        data_dir=platform.data_dir,
    )
    facade: GatewayApi = gateway  # mypy checks here that the gateway implements the facade
    denied = DeniedAudit(gateway.trail)  # one per process: the anonymous refusals it counts
    return Bound(
        facades={GatewayApi: facade},
        dependencies={"gateway": gateway, "accounts": gateway.accounts, "sign_in": gateway.sign_in},
        on_startup=[warn_without_users(gateway.accounts)],
        # authentication first: the audit middleware inside it names the caller
        middleware=[authentication(gateway, denied), request_audit(gateway.trail, denied)],
        guards=[rbac_guard, audit_ready(gateway.trail)],
    )


def warn_without_users(accounts: Accounts) -> Callable[[], Awaitable[None]]:
    async def warn() -> None:
        if not await accounts.any_user():
            log.warning(
                "no user accounts yet: create the first administrator with "
                "`inescape create-user NAME --role admin` (there is no default password)"
            )

    return warn


spec = ModuleSpec(
    name="auth",
    title="Gateway: accounts, tokens, RBAC, rate limits, audit query API",
    port=8000,
    bind=bind,
    provides=(GatewayApi,),
    owns=(COLLECTION, CHECKPOINTS),
    needs=("database", "cache", "documents"),
    route_handlers=[AuthController, UserController, audit_events, jwks],
    settings=AuthSettings,
)
