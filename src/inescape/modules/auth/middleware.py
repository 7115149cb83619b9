"""Authentication on every request, and the RBAC guard on every route."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware
from litestar.types import ASGIApp

from inescape.kernel.errors import Forbidden, Unauthorized
from inescape.modules.auth.api import Principal
from inescape.modules.auth.gateway import Gateway
from inescape.modules.auth.rbac import AUTHENTICATED, PUBLIC, allowed


class BearerAuthentication(AbstractAuthenticationMiddleware):
    """A request without ``Authorization`` is anonymous (the guard decides whether that is
    enough); one with a bad token is refused with 401 whatever the route."""

    def __init__(self, app: ASGIApp, *, gateway: Gateway, **options: Any) -> None:
        super().__init__(app, **options)
        self.gateway = gateway

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
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


def authentication(gateway: Gateway) -> DefineMiddleware:
    """The middleware, bound to the gateway that checks the tokens; routes marked
    ``opt={"no_auth": True}`` (login, JWKS) are left alone."""
    return DefineMiddleware(BearerAuthentication, gateway=gateway, exclude_from_auth_key="no_auth")


def permission_of(handler: BaseRouteHandler, route_path: str, openapi_path: str) -> str | None:
    permission = handler.opt.get("permission")
    if permission is None and route_path.startswith(openapi_path):
        return PUBLIC  # the API documentation Litestar serves
    return permission if isinstance(permission, str) else None


def rbac_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
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
    if permission != AUTHENTICATED and not allowed(user.roles, permission):
        raise Forbidden(f"Your roles ({', '.join(user.roles) or 'none'}) do not allow {permission!r}.")
