"""The browser-facing hardening of the HTTP edge: security headers on every response, CORS
from settings, and TLS 1.3 as the floor when ``inescape serve`` terminates TLS itself."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from typing import Literal, cast

from litestar.config.cors import CORSConfig
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Method, Receive, Scope, Send

Header = tuple[bytes, bytes]

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# The docs under /schema are Swagger UI, served from the platform's own files (vendored under
# inescape/web/docs): scripts from this origin only, no inline script; Swagger UI styles its
# elements inline and draws icons as data: URLs. "Try it" calls may reach this origin alone.
DOCS_CSP = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HSTS = "max-age=31536000; includeSubDomains"

_ALWAYS: tuple[Header, ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_API_CSP: Header = (b"content-security-policy", API_CSP.encode())
_DOCS_CSP: Header = (b"content-security-policy", DOCS_CSP.encode())
_HSTS: Header = (b"strict-transport-security", HSTS.encode())
_NO_STORE: Header = (b"cache-control", b"no-store")


class SecurityHeaders:
    """Wraps the whole ASGI handler (routing 404s and CORS preflights included) and adds the
    security headers a response lacks; a header the handler set is left as it is."""

    def __init__(
        self, app: ASGIApp, *, hsts: bool = True, docs_path: str = "/schema", api_path: str = "/api/"
    ) -> None:
        self.app = app
        self.hsts = hsts
        self.docs_path = docs_path.rstrip("/")
        self.api_path = api_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        extra = self._headers_for(scope["path"], tls=scope["scheme"] == "https")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _headers_for(self, path: str, *, tls: bool) -> tuple[Header, ...]:
        docs = path == self.docs_path or path.startswith(self.docs_path + "/")
        headers = (*_ALWAYS, _DOCS_CSP if docs else _API_CSP)
        if tls and self.hsts:
            headers = (*headers, _HSTS)
        if path.startswith(self.api_path):
            headers = (*headers, _NO_STORE)
        return headers


def cors_config(
    origins: Sequence[str],
    *,
    methods: Sequence[str],
    headers: Sequence[str],
    allow_credentials: bool = False,
) -> CORSConfig | None:
    """``None`` (no CORS headers, so browsers keep to the same origin) unless origins are
    listed; Litestar's own default would allow every origin."""
    if not origins:
        return None
    return CORSConfig(
        allow_origins=list(origins),
        allow_methods=cast("list[Literal['*'] | Method]", [m.upper() for m in methods]),
        allow_headers=list(headers),
        allow_credentials=allow_credentials,
        expose_headers=["X-Request-ID"],
    )


def tls13_only(_config: object, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """A uvicorn ``ssl_context_factory``: uvicorn's own context (certificate, key, password,
    ALPN), refusing every protocol older than TLS 1.3."""
    context = default()
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    return context
