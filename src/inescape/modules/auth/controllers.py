"""Routes of the gateway: tokens, users, the audit log, JWKS. Each receives by name what the
module's ``bind`` built (``gateway``, ``accounts``, ``sign_in``) and calls one of its methods.
Changes to users are audited by declaration (``Audit``); signing in, refreshing and logging
out write their own events (the caller is not yet, or no longer, the request's principal)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from inescape.infra.openapi import errors
from inescape.infra.ratelimit import TooManyAttempts
from inescape.kernel.errors import Forbidden
from inescape.modules.auth.accounts import Accounts
from inescape.modules.auth.api import Audit, User, audit_note, principal_of
from inescape.modules.auth.audit import AuditEvent
from inescape.modules.auth.gateway import Gateway
from inescape.modules.auth.rbac import (
    AUDIT_READ,
    AUTHENTICATED,
    PUBLIC,
    USERS_MANAGE,
    WHILE_ONE_TIME,
    permissions_of,
)
from inescape.modules.auth.schemas import (
    KeySetView,
    Me,
    PasswordChange,
    PasswordChanged,
    RefreshRequest,
    TokenPair,
    TokenRequest,
    UserCreate,
    UserList,
    UserUpdate,
)
from inescape.modules.auth.service import SignIn

PUBLIC_OPT = {"permission": PUBLIC, "no_auth": True}
OWN_ACCOUNT_OPT = {"permission": AUTHENTICATED, WHILE_ONE_TIME: True}


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @post(
        "/token",
        opt=PUBLIC_OPT,
        status_code=200,
        responses=errors(401),
        summary="Log in: username + password → tokens",
    )
    async def token(
        self, request: Request[Any, Any, Any], data: JSONBody[TokenRequest], sign_in: NamedDependency[SignIn]
    ) -> TokenPair:
        return await sign_in.login(
            username=data.username, password=data.password, client_ip=client_ip(request)
        )

    @post(
        "/refresh",
        opt=PUBLIC_OPT,
        status_code=200,
        responses=errors(401),
        summary="New tokens for a refresh token (it rotates)",
    )
    async def refresh(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[RefreshRequest],
        sign_in: NamedDependency[SignIn],
    ) -> TokenPair:
        return await sign_in.refresh(refresh_token=data.refresh_token, client_ip=client_ip(request))

    @post(
        "/password",
        opt={**OWN_ACCOUNT_OPT, "audit": Audit("auth.password_change", "user")},
        status_code=200,
        summary="Change my own password (ends every other session)",
        description="The current password and a new one (the same rules as a new account's). "
        "A wrong current password is 403 and counts toward the login throttle (429 after "
        "repeated failures). On success the account is no longer one-time, every other "
        "session and refresh token stops working, and this session continues with the new "
        "tokens in the answer.",
    )
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PasswordChange],
        sign_in: NamedDependency[SignIn],
    ) -> PasswordChanged:
        principal = principal_of(request)
        assert principal is not None  # the guard let only authenticated callers in
        audit_note(request, resource_id=principal.id)
        try:
            changed = await sign_in.change_password(
                principal=principal,
                current=data.current_password,
                new=data.new_password,
                client_ip=client_ip(request),
            )
        except (Forbidden, TooManyAttempts) as exc:
            audit_note(request, outcome="failure", detail=exc.detail)
            raise
        audit_note(request, detail="other sessions ended")
        return changed

    @post("/logout", opt=OWN_ACCOUNT_OPT, status_code=204, summary="End this session")
    async def logout(self, request: Request[Any, Any, Any], sign_in: NamedDependency[SignIn]) -> None:
        principal = principal_of(request)
        assert principal is not None  # the guard let only authenticated callers in
        await sign_in.logout(principal=principal, client_ip=client_ip(request))

    @get("/me", opt=OWN_ACCOUNT_OPT, summary="Who am I, and what may I do")
    async def me(self, request: Request[Any, Any, Any]) -> Me:
        principal = principal_of(request)
        assert principal is not None
        return Me(
            id=principal.id,
            username=principal.username,
            roles=principal.roles,
            permissions=permissions_of(principal.roles),
            source=principal.source,
            must_change_password=principal.must_change_password,
        )


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]
    opt = {"permission": USERS_MANAGE}

    @post(
        "/",
        status_code=201,
        opt={"audit": Audit("users.create", "user")},
        summary="Create a user (admin)",
    )
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[UserCreate], accounts: NamedDependency[Accounts]
    ) -> User:
        user = await accounts.create(
            username=data.username,
            display_name=data.display_name,
            roles=list(data.roles),
            password=data.password,
            one_time=data.one_time,
        )
        detail = f"{user.username} with roles {','.join(user.roles)}"
        detail += ", one-time password" if data.one_time else ""
        audit_note(request, resource_id=user.id, detail=detail)
        return user

    @get("/", summary="List users (admin)")
    async def list_users(
        self,
        accounts: NamedDependency[Accounts],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: FromQuery[str | None] = None,
    ) -> UserList:
        items, nxt = await accounts.page(limit=limit, cursor=cursor)
        return UserList(items=items, next_cursor=nxt)

    @get("/{user_id:str}", summary="Read a user (admin)")
    async def read(self, user_id: FromPath[str], accounts: NamedDependency[Accounts]) -> User:
        return await accounts.get(user_id=user_id)

    @patch(
        "/{user_id:str}",
        # an event for each change that matters: roles, active (none for a new display name)
        opt={"audit": Audit(None, "user", resource_id="user_id")},
        summary="Change roles, name, or deactivate (admin)",
    )
    async def update(
        self,
        request: Request[Any, Any, Any],
        user_id: FromPath[str],
        data: JSONBody[UserUpdate],
        accounts: NamedDependency[Accounts],
    ) -> User:
        before, after = await accounts.update(
            user_id=user_id,
            roles=data.roles and list(data.roles),
            display_name=data.display_name,
            active=data.active,
        )
        if before.roles != after.roles:
            audit_note(request, action="users.roles_changed", detail=f"{before.roles} -> {after.roles}")
        if before.active != after.active:
            audit_note(request, action="users.deactivated" if not after.active else "users.reactivated")
        return after


class AuditEvents(msgspec.Struct, frozen=True, kw_only=True):
    items: Annotated[list[AuditEvent], msgspec.Meta(description="The events that match, newest first.")]
    next_cursor: Annotated[
        int | None, msgspec.Meta(description="The cursor of the next (older) page; null on the last one.")
    ]


@get(
    "/api/v1/audit/events",
    opt={"permission": AUDIT_READ},
    tags=["audit"],
    summary="Audit events, newest first (auditor, admin)",
)
async def audit_events(
    gateway: NamedDependency[Gateway],
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
    items = await gateway.trail.query(filters=filters, before_seq=cursor, limit=limit)
    return AuditEvents(items=items, next_cursor=items[-1].seq if len(items) == limit else None)


@get(
    "/.well-known/jwks.json",
    opt=PUBLIC_OPT,
    responses={200: ResponseSpec(KeySetView, generate_examples=False, description="The JWK Set (RFC 7517).")},
    tags=["auth"],
    summary="Public keys of our tokens",
)
async def jwks(gateway: NamedDependency[Gateway]) -> dict[str, Any]:
    return gateway.jwks()
