"""Routes of the gateway: tokens, users, the audit log, JWKS."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from inescape.infra.ratelimit import TooManyAttempts
from inescape.infra.telemetry import request_id_var
from inescape.kernel.errors import Unauthorized
from inescape.modules.auth.api import Principal, principal_of
from inescape.modules.auth.audit import AuditEvent
from inescape.modules.auth.gateway import Gateway
from inescape.modules.auth.rbac import AUDIT_READ, AUTHENTICATED, PUBLIC, USERS_MANAGE, permissions_of
from inescape.modules.auth.schemas import (
    Me,
    RefreshRequest,
    TokenPair,
    TokenRequest,
    User,
    UserCreate,
    UserList,
    UserUpdate,
)

PUBLIC_OPT = {"permission": PUBLIC, "no_auth": True}


def gateway_of(state: State) -> Gateway:
    gateway: Gateway = state.services.extensions["auth"]
    return gateway


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


async def audit(
    request: Request[Any, Any, Any],
    action: str,
    outcome: str,
    *,
    who: Principal | None = None,
    username: str | None = None,
    **fields: Any,
) -> None:
    who = who or principal_of(request)
    await gateway_of(request.app.state).audit.record(
        action=action,
        outcome=outcome,
        user=who.username if who else username,
        roles=who.roles if who else [],
        request_id=request_id_var.get(),
        client_ip=client_ip(request),
        **fields,
    )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/token", opt=PUBLIC_OPT, status_code=200, summary="Log in: username + password → tokens")
    async def token(self, request: Request[Any, Any, Any], data: JSONBody[TokenRequest]) -> TokenPair:
        gateway = gateway_of(request.app.state)
        services = request.app.state.services
        ip = client_ip(request) or "unknown"
        throttle = gateway.throttle
        try:
            if throttle:
                await throttle.check(data.username, ip)  # before argon2: refusals stay cheap
            async with services.uow() as uow:
                principal = await gateway.accounts.check_password(uow.session, data.username, data.password)
        except (Unauthorized, TooManyAttempts) as exc:
            if throttle and isinstance(exc, Unauthorized):
                await throttle.record_failure(data.username, ip)
            await audit(request, "auth.login", "failure", username=data.username, detail=exc.detail)
            raise
        if throttle:
            await throttle.record_success(data.username, ip)
        pair = await gateway.sessions.issue(principal)
        await audit(request, "auth.login", "success", who=principal)
        return pair

    @post("/refresh", opt=PUBLIC_OPT, status_code=200, summary="New tokens for a refresh token (it rotates)")
    async def refresh(self, request: Request[Any, Any, Any], data: JSONBody[RefreshRequest]) -> TokenPair:
        gateway = gateway_of(request.app.state)
        try:
            user_id, family = await gateway.sessions.rotate(data.refresh_token)
            async with request.app.state.services.db.sessions() as session:
                principal = await gateway.accounts.current(session, user_id)
        except Unauthorized as exc:
            await audit(request, "auth.refresh", "failure", detail=exc.detail)
            raise
        await audit(request, "auth.refresh", "success", who=principal)
        return await gateway.sessions.issue(principal, family=family)

    @post("/logout", opt={"permission": AUTHENTICATED}, status_code=204, summary="End this session")
    async def logout(self, request: Request[Any, Any, Any]) -> None:
        principal = principal_of(request)
        assert principal is not None  # the guard let only authenticated callers in
        if principal.session:
            await gateway_of(request.app.state).sessions.revoke(principal.session)
        await audit(request, "auth.logout", "success")

    @get("/me", opt={"permission": AUTHENTICATED}, summary="Who am I, and what may I do")
    async def me(self, request: Request[Any, Any, Any]) -> Me:
        principal = principal_of(request)
        assert principal is not None
        return Me(
            id=principal.id,
            username=principal.username,
            roles=principal.roles,
            permissions=permissions_of(principal.roles),
            source=principal.source,
        )


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]
    opt = {"permission": USERS_MANAGE}

    @post("/", status_code=201, summary="Create a user (admin)")
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[UserCreate]) -> User:
        services = request.app.state.services
        async with services.uow() as uow:
            user = await gateway_of(request.app.state).accounts.create(
                uow.session,
                username=data.username,
                display_name=data.display_name,
                roles=list(data.roles),
                password=data.password,
            )
        await audit(
            request,
            "users.create",
            "success",
            resource_type="user",
            resource_id=user.id,
            detail=f"{user.username} with roles {','.join(user.roles)}",
        )
        return user

    @get("/", summary="List users (admin)")
    async def list_users(
        self,
        request: Request[Any, Any, Any],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> UserList:
        async with request.app.state.services.db.sessions() as session:
            accounts = gateway_of(request.app.state).accounts
            items, nxt = await accounts.page(session, limit=limit, cursor=cursor)
        return UserList(items=items, next_cursor=nxt)

    @get("/{user_id:str}", summary="Read a user (admin)")
    async def read(self, request: Request[Any, Any, Any], user_id: FromPath[str]) -> User:
        async with request.app.state.services.db.sessions() as session:
            return await gateway_of(request.app.state).accounts.get(session, user_id)

    @patch("/{user_id:str}", summary="Change roles, name, or deactivate (admin)")
    async def update(
        self, request: Request[Any, Any, Any], user_id: FromPath[str], data: JSONBody[UserUpdate]
    ) -> User:
        async with request.app.state.services.uow() as uow:
            before, after = await gateway_of(request.app.state).accounts.update(
                uow.session,
                user_id,
                roles=data.roles and list(data.roles),
                display_name=data.display_name,
                active=data.active,
            )
        if before.roles != after.roles:
            await audit(
                request,
                "users.roles_changed",
                "success",
                resource_type="user",
                resource_id=user_id,
                detail=f"{before.roles} -> {after.roles}",
            )
        if before.active != after.active:
            await audit(
                request,
                "users.deactivated" if not after.active else "users.reactivated",
                "success",
                resource_type="user",
                resource_id=user_id,
            )
        return after


class AuditEvents(msgspec.Struct, frozen=True, kw_only=True):
    items: list[AuditEvent]
    next_cursor: int | None


@get(
    "/api/v1/audit/events",
    opt={"permission": AUDIT_READ},
    tags=["audit"],
    summary="Audit events, newest first (auditor, admin)",
)
async def audit_events(
    request: Request[Any, Any, Any],
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    cursor: Annotated[int | None, QueryParameter(ge=1)] = None,
    user: FromQuery[str | None] = None,
    action: FromQuery[str | None] = None,
    outcome: FromQuery[str | None] = None,
    patient_id: FromQuery[str | None] = None,
    resource_type: FromQuery[str | None] = None,
) -> AuditEvents:
    filters = {
        "user": user,
        "action": action,
        "outcome": outcome,
        "patient_id": patient_id,
        "resource_type": resource_type,
    }
    items = await gateway_of(request.app.state).audit.query(filters=filters, before_seq=cursor, limit=limit)
    return AuditEvents(items=items, next_cursor=items[-1].seq if len(items) == limit else None)


@get("/.well-known/jwks.json", opt=PUBLIC_OPT, tags=["auth"], summary="Public keys of our tokens")
async def jwks(state: State) -> dict[str, Any]:
    return gateway_of(state).signer.jwks()
