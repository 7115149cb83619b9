"""Authentication on every request, and the RBAC guard on every route."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.types import ASGIApp

from inescape.infra.tokens import InvalidToken
from inescape.kernel.errors import Forbidden, Unauthorized, Unavailable
from inescape.modules.auth.api import Principal
from inescape.modules.auth.audit import UNREACHABLE
from inescape.modules.auth.gateway import Gateway
from inescape.modules.auth.rbac import AUTHENTICATED, PUBLIC, WHILE_ONE_TIME, allowed
from inescape.modules.auth.request_audit import DeniedAudit


class BearerAuthentication(AbstractAuthenticationMiddleware):
    """A request without ``Authorization`` is anonymous (the guard decides whether that is
    enough); one with a bad token is refused with 401 whatever the route, and on an audited
    route the refusal is audited first (naming the account when the token itself is good:
    a deactivated user's)."""

    def __init__(self, app: ASGIApp, *, gateway: Gateway, denied: DeniedAudit, **options: Any) -> None:
        super().__init__(app, **options)
        self.gateway = gateway
        self.denied = denied

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        try:
            return await self._authenticate(connection)
        except (Unauthorized, Forbidden) as exc:
            status = 401 if isinstance(exc, Unauthorized) else 403
            try:
                await self.denied.write(
                    connection.scope, status, reason=exc.detail, user=self._named(connection)
                )
            except Unavailable:
                raise
            except Exception as failed:  # no event, no answer: a 503 like any audited route's
                raise Unavailable(UNREACHABLE, backend="audit", retry_after=5) from failed
            raise

    async def _authenticate(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if not header:
            return AuthenticationResult(user=None, auth=None)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("Send the access token as 'Authorization: Bearer <token>'.")
        url = connection.url
        called = f"{url.scheme}://{url.netloc}{url.path}"  # a CDS client token's aud names it
        principal = await self.gateway.authenticate(token.strip(), url=called)
        return AuthenticationResult(user=principal, auth=token)

    def _named(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
        """The username in one of our own tokens that verifies (None for any other)."""
        _, _, token = (connection.headers.get("authorization") or "").partition(" ")
        try:
            name = self.gateway.signer.verify(token.strip()).get("name")
        except InvalidToken:
            return None
        return name if isinstance(name, str) and name else None


def authentication(gateway: Gateway, denied: DeniedAudit) -> DefineMiddleware:
    """The middleware, bound to the gateway that checks the tokens; routes marked
    ``opt={"no_auth": True}`` (login, JWKS) are left alone."""
    return DefineMiddleware(
        BearerAuthentication, gateway=gateway, denied=denied, exclude_from_auth_key="no_auth"
    )


def permission_of(handler: BaseRouteHandler, route_path: str, openapi_path: str) -> str | None:
    permission = handler.opt.get("permission")
    if permission is None and route_path.startswith(openapi_path):
        return PUBLIC  # the API documentation Litestar serves
    return permission if isinstance(permission, str) else None


async def rbac_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The route's permission against the caller's roles (a coroutine: Litestar runs a
    plain function guard on its thread pool, a trip there and back on every request)."""
    config = connection.app.openapi_config
    route_path = connection.scope.get("path_template") or connection.url.path
    permission = permission_of(handler, route_path, (config.path if config else None) or "/schema")
    if permission is None:  # fail closed: a route nobody classified is nobody's
        raise Forbidden("This route has no permission assigned; it is closed.")
    if permission == PUBLIC:
        return
    user = connection.scope.get("user")
    if not isinstance(user, Principal):
        raise Unauthorized(
            "Log in first: POST /api/v1/auth/token, then send the access token "
            "as 'Authorization: Bearer <token>'."
        )
    if user.must_change_password and not handler.opt.get(WHILE_ONE_TIME):
        raise Forbidden(
            "Change your password first: this account's password is one-time "
            "(POST /api/v1/auth/password with the current and a new password)."
        )
    if permission != AUTHENTICATED and not allowed(user.roles, permission):
        raise Forbidden(f"Your roles ({', '.join(user.roles) or 'none'}) do not allow {permission!r}.")
