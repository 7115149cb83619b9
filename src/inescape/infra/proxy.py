"""The gateway's side of split mode: a module served in its own process is reached through
routes of the same paths, methods and permissions that forward the request there.

The gateway authenticates and authorises first (its middleware and guard run on these routes
as on any); the module checks the same token again. Bodies stream both ways. An upstream that
cannot be reached, or stops answering, is a 503 naming the module, with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
from litestar import Request, Router, route
from litestar.background_tasks import BackgroundTask
from litestar.handlers import HTTPRouteHandler
from litestar.response import Stream
from litestar.routes import HTTPRoute

from inescape.infra.health import describe
from inescape.infra.telemetry import request_id_var
from inescape.kernel.errors import Unavailable

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# the gateway sets these itself: its request id, its rate-limit headers
_NOT_FORWARDED_BACK = HOP_BY_HOP | {
    "content-length",
    "content-type",
    "date",
    "server",
    "x-request-id",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
}
RETRY_AFTER_S = 5


class Upstream:
    """One module's process: where its requests go, over one pooled client."""

    def __init__(self, name: str, url: str, *, timeout_s: float, connect_timeout_s: float) -> None:
        self.name = name
        self.url = url
        self._client = httpx.AsyncClient(
            base_url=url,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def forward(self, request: Request[Any, Any, Any]) -> Stream:
        scope = request.scope
        target = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        url = target.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
        outgoing = self._client.build_request(
            request.method,
            url,
            headers=self._request_headers(request),
            content=request.stream() if _has_body(request) else None,
        )
        try:
            response = await self._client.send(outgoing, stream=True)
        except httpx.TransportError as exc:  # refused, reset, timed out
            raise Unavailable(
                f"The {self.name} module is not answering ({describe(exc)}); try again shortly.",
                backend=self.name,
                retry_after=RETRY_AFTER_S,
            ) from None
        headers = {k: v for k, v in response.headers.items() if k.lower() not in _NOT_FORWARDED_BACK}
        return Stream(
            _body(response),
            status_code=response.status_code,
            headers=headers,
            media_type=response.headers.get("content-type", "application/octet-stream"),
            background=BackgroundTask(response.aclose),
        )

    def _request_headers(self, request: Request[Any, Any, Any]) -> list[tuple[str, str]]:
        headers = [
            (k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "host"
        ]
        client = request.client.host if request.client else ""
        headers += [
            ("x-forwarded-for", client),
            ("x-forwarded-proto", request.url.scheme),
            ("x-forwarded-host", request.headers.get("host", "")),
        ]
        rid = request_id_var.get()
        if rid:  # the module logs under the gateway's request id
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"] + [("x-request-id", rid)]
        return headers


def _has_body(request: Request[Any, Any, Any]) -> bool:
    headers = request.headers
    return "transfer-encoding" in headers or int(headers.get("content-length") or 0) > 0


async def _body(response: httpx.Response) -> AsyncIterator[bytes]:
    async for chunk in response.aiter_raw():
        yield chunk


def module_routes(handlers: Sequence[Any]) -> list[HTTPRoute]:
    """The HTTP routes a module's handlers make, as the module's own app mounts them."""
    router = Router(path="/", route_handlers=list(handlers))
    return [r for r in router.routes if isinstance(r, HTTPRoute)]


def forwarding_handlers(upstream: Upstream, handlers: Sequence[Any]) -> list[HTTPRouteHandler]:
    """One forwarding route per route of the module: same path, methods and permission."""
    made: list[HTTPRouteHandler] = []
    for served in module_routes(handlers):
        # OPTIONS is answered by the gateway's own router (and CORS), as for local routes
        made.extend(
            _forwarder(upstream, served.path, handler)
            for handler in served.route_handlers
            if handler.http_methods - {"OPTIONS"}
        )
    return made


def _forwarder(upstream: Upstream, path: str, handler: HTTPRouteHandler) -> HTTPRouteHandler:
    async def forward(request: Request[Any, Any, Any]) -> Stream:
        return await upstream.forward(request)

    methods = sorted(handler.http_methods - {"OPTIONS"})
    return route(
        path,
        http_method=methods,
        # the permission is checked here, before forwarding; the audit event is written by
        # the module's own process, which serves the route
        opt={**{k: v for k, v in handler.opt.items() if k != "audit"}, "upstream": upstream.name},
        include_in_schema=False,
        request_max_body_size=None,  # the module enforces its own limits
        status_code=200,  # the upstream's own status is the one sent
        name=f"{upstream.name}:{handler.handler_name}:{'-'.join(methods)}:{path}",
    )(forward)
