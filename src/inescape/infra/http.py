"""The HTTP edge shared by every module: error mapping, request id / metrics / access log /
tracing around every request, and the generic job resource."""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import quote

from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_422_UNPROCESSABLE_ENTITY, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from inescape.infra.access_log import AccessLog
from inescape.infra.error_response import error_body, send_error
from inescape.infra.faults import unavailable_from
from inescape.infra.health import describe
from inescape.infra.ratelimit.errors import TooManyAttempts
from inescape.infra.telemetry import Metrics, request_id_var
from inescape.kernel.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    PreconditionFailed,
    Unauthorized,
    Unavailable,
)
from inescape.kernel.ids import new_id

log = logging.getLogger("inescape.http")
access_log = logging.getLogger("inescape.access")
_buffered = AccessLog(access_log)


def flush_access_log() -> None:
    """Write the buffered access log lines now (they are otherwise written within a fraction of
    a second, off the request path)."""
    _buffered.flush()


STATUS_BY_ERROR: tuple[tuple[type[DomainError], int], ...] = (
    (NotFound, 404),
    (Conflict, 409),
    (Forbidden, 403),
    (Unauthorized, 401),
    (Invalid, 422),
    (PreconditionFailed, 412),
    (Unavailable, 503),
    (TooManyAttempts, 429),
)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}\Z")


FHIR_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    412: "conflict",
    422: "invalid",
    429: "throttled",
    503: "transient",
}


def _fhir(path: str) -> bool:
    return path == "/fhir" or path.startswith("/fhir/")


def _response(
    body: dict[str, Any],
    status: int,
    headers: dict[str, str] | None = None,
    request: Request[Any, Any, Any] | None = None,
) -> Response[Any]:
    rid = request_id_var.get()
    if request is not None and _fhir(request.url.path):  # a FHIR client reads OperationOutcomes
        issue = {
            "severity": "fatal" if status >= 500 else "error",
            "code": FHIR_ISSUE_CODES.get(status, "exception"),
            "diagnostics": str(body.get("detail", "")),
        }
        outcome = {"resourceType": "OperationOutcome", "issue": [issue]}
        if rid:
            outcome["id"] = rid if re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", rid) else new_id()
        return Response(
            content=outcome, status_code=status, headers=headers, media_type="application/fhir+json"
        )
    if rid:
        body.setdefault("request_id", rid)
    return Response(content=body, status_code=status, headers=headers, media_type="application/json")


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    status = next((code for cls, code in STATUS_BY_ERROR if isinstance(exc, cls)), 400)
    body = error_body(exc.detail, status)
    headers: dict[str, str] = {}
    if isinstance(exc, Invalid) and exc.errors:
        body["errors"] = exc.errors
    if isinstance(exc, Conflict) and exc.extra:  # what the conflict was about (failed gates)
        body.update({k: v for k, v in exc.extra.items() if k not in body})
    if isinstance(exc, Unavailable):
        body["backend"] = exc.backend
        headers["Retry-After"] = str(exc.retry_after or 5)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    return _response(body, status, headers, request)


def validation_error_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append(
                {
                    "field": str(item.get("key") or item.get("source") or "body"),
                    "message": str(item.get("message", "invalid")),
                    "source": str(getattr(item.get("source"), "value", item.get("source") or "")),
                }
            )
    detail = (
        "The request is invalid: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        if errors
        else str(exc.detail)
    )
    # every validation failure is a 422, as a domain ``Invalid`` is (Litestar's own is a 400)
    status = HTTP_422_UNPROCESSABLE_ENTITY
    return _response(error_body(detail, status, errors=errors), status, request=request)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    detail = exc.detail
    if exc.status_code == 404 and detail in ("", "Not Found"):
        detail = f"No route {request.url.path}; the API is under /api/v1 and documented at /schema"
    if exc.status_code == 405:
        detail = f"Method {request.method} is not allowed on {request.url.path}"
    headers = dict(exc.headers or {})
    return _response(error_body(detail, exc.status_code), exc.status_code, headers, request)


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    down = unavailable_from(exc)
    if down is not None:  # a backend client's own error: the backend is down, not the server
        log.warning(
            "backend unavailable",
            extra={"path": request.url.path, "backend": down.backend, "error": describe(exc)},
        )
        return domain_error_handler(request, down)
    log.error("unhandled error", exc_info=exc, extra={"path": request.url.path, "method": request.method})
    return _response(
        error_body(
            "Internal server error; the request id identifies it in the server log.",
            HTTP_500_INTERNAL_SERVER_ERROR,
        ),
        HTTP_500_INTERNAL_SERVER_ERROR,
        request=request,
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}


class RequestObservability:
    """Wraps the whole ASGI handler (routing 404s and 405s included): accepts or makes the
    ``X-Request-ID``, returns it, times the request into the metrics, writes the access log
    line and, when tracing is on, a server span."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, tracer: Any = None, *, access_log: bool = True
    ) -> None:
        self.app = app
        self.access_log = access_log
        self.metrics = metrics
        self.tracer = tracer
        # labels() is a locked dict lookup per call; the children are cached here instead
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._timers: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        rid = _incoming_request_id(scope) or new_id()
        token = request_id_var.set(rid)
        status = 500
        header = (b"x-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        started = time.perf_counter()
        try:
            if self.tracer is None:
                await self.app(scope, receive, send_with_id)
            else:
                await self._traced(scope, receive, send_with_id, rid)
        finally:
            self._record(scope, status, time.perf_counter() - started)
            request_id_var.reset(token)

    async def _traced(self, scope: HTTPScope, receive: Receive, send: Send, rid: str) -> None:
        with self.tracer.start_as_current_span(f"{scope['method']} {scope['path']}") as span:
            span.set_attribute("http.request.method", scope["method"])
            span.set_attribute("url.path", scope["path"])
            span.set_attribute("inescape.request_id", rid)
            await self.app(scope, receive, send)
            route = scope.get("path_template")
            if route:
                span.update_name(f"{scope['method']} {route}")
                span.set_attribute("http.route", route)

    def _record(self, scope: HTTPScope, status: int, elapsed: float) -> None:
        route = scope.get("path_template") or "<unmatched>"
        method = scope["method"]
        counter = self._counters.get((route, method, status))
        if counter is None:
            counter = self.metrics.http_requests.labels(route, method, str(status))
            self._counters[(route, method, status)] = counter
        timer = self._timers.get((route, method))
        if timer is None:
            timer = self._timers[(route, method)] = self.metrics.http_latency.labels(route, method)
        counter.inc()
        timer.observe(elapsed)
        if self.access_log and route not in ("/health", "/metrics") and access_log.isEnabledFor(logging.INFO):
            duration_ms = round(elapsed * 1000, 2)
            path = scope["path"]
            rid = request_id_var.get()
            if _buffered.write(
                request_id=rid, method=method, path=path, route=route, status=status, duration_ms=duration_ms
            ):
                return  # encoded and buffered: written off the request path
            # makeRecord + handle: the same record as .info() without its stack walk
            access_log.handle(
                access_log.makeRecord(
                    access_log.name,
                    logging.INFO,
                    __file__,
                    0,
                    "request",
                    (),
                    None,
                    extra={
                        "method": method,
                        "path": path,
                        "route": route,
                        "status": status,
                        "duration_ms": duration_ms,
                    },
                )
            )


class CanonicalPath:
    """Wraps the ASGI handler before rate limiting and routing: a request's path is made
    canonical once, so the limiter, the router and the logs see the same path. Repeated
    slashes collapse (``//api/v1/auth/token`` is ``/api/v1/auth/token``; a ``%2F`` the
    server decoded into a slash collapses too); a ``.`` or ``..`` segment is refused with
    400 rather than resolved, as no route has one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        canonical = _canonical(path)
        if canonical is None:
            await send_error(send, 400, "The request path has a '.' or '..' segment; no route has one.")
            return
        if canonical != path:
            scope["path"] = canonical
            scope["raw_path"] = quote(canonical, safe="/:@!$&'()*+,;=~").encode()
        await self.app(scope, receive, send)


_SLASHES = re.compile(r"/{2,}")


def _canonical(path: str) -> str | None:
    path = _SLASHES.sub("/", path) if "//" in path else path
    if "." in path and any(segment in (".", "..") for segment in path.split("/")):
        return None
    return path


def _incoming_request_id(scope: HTTPScope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None
