"""The audit event a route declares (``opt={"audit": Audit(...)}``), written in one place.

Before an unsafe method runs, the guard asks the audit store to answer (a write is refused
rather than done unaudited). When the route's answer starts, the middleware writes the
event (who from the token, client ip, request id, action and resource from the declaration,
its path parameters and the handler's ``audit_note``) and only then lets the answer out; if
the write fails, the client gets a 503 in the error shape and nothing of the answer.

A refusal of such a route (401, 403) is audited too, as ``outcome="denied"``: by the RBAC
guard's answer here, and by the authentication middleware for a token it refuses
(``DeniedAudit``, shared by both). Anonymous refusals are limited per client address, so a
flood of unauthenticated requests cannot flood the trail (see ``DeniedAudit``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.handlers import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from inescape.infra.error_response import send_error
from inescape.infra.telemetry import request_id_var
from inescape.kernel.errors import Unavailable
from inescape.modules.auth.api import AUDIT_NOTES, Audit, Principal
from inescape.modules.auth.audit import UNREACHABLE, AuditTrail

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DENIED = frozenset({401, 403})
Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


class _Refused(Exception):
    """The answer was replaced by a 503: whatever the handler still sends goes nowhere."""


def declared_audit(scope: Scope) -> Audit | None:
    handler = scope.get("route_handler")
    declared = handler.opt.get("audit") if handler is not None else None
    return declared if isinstance(declared, Audit) else None


def events_of(declared: Audit, scope: Scope, status: int) -> list[dict[str, Any]]:
    """The events to write for an answer with ``status``: the declared one amended by the
    handler's first note, then each further event it named; an error answer writes only
    the events the handler gave an outcome."""
    params = {name: str(value) for name, value in (scope.get("path_params") or {}).items()}
    notes: list[dict[str, str]] = (scope.get("state") or {}).get(AUDIT_NOTES) or [{}]
    base: dict[str, Any] = {
        "resource_type": declared.resource_type,
        "resource_id": params.get(declared.resource_id) if declared.resource_id else None,
        "patient_id": params.get(declared.patient_id) if declared.patient_id else None,
        "detail": None,
    }
    wanted = [{**base, **note} for note in notes[1:]]
    if declared.action is not None:
        wanted.insert(0, {**base, "action": declared.action.format(**params), **notes[0]})
    answered = status < 400
    return [{"outcome": "success", **event} for event in wanted if answered or "outcome" in event]


def denied_event(declared: Audit, scope: Scope, status: int, reason: str | None) -> dict[str, Any]:
    """The event of a refused request to an audited route: what was asked for, and why not."""
    params = {name: str(value) for name, value in (scope.get("path_params") or {}).items()}
    action = declared.action.format(**params) if declared.action else f"{declared.resource_type}.access"
    what = f"{status} {scope.get('method', '')} {scope.get('path', '')}"
    return {
        "action": action,
        "outcome": "denied",
        "resource_type": declared.resource_type,
        "resource_id": params.get(declared.resource_id) if declared.resource_id else None,
        "patient_id": params.get(declared.patient_id) if declared.patient_id else None,
        "detail": f"{what}: {reason}" if reason else what,
    }


class AnonymousRefusals:
    """How many refusals of callers nobody could name each client address had this window.

    The first ``each`` of a window are written one by one; after that, one event per
    ``every`` further refusals says how many were not (so a flood of a million anonymous
    requests writes about ten thousand events, not a million, and loses no count above
    ``every - 1``); what is left over when a window ends is said by the address's next
    written event. Addresses beyond ``addresses`` share one count (``*``), so memory stays
    bounded whatever the spread of a flood."""

    def __init__(
        self,
        *,
        window_s: float = 60.0,
        each: int = 10,
        every: int = 100,
        addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s, self.each, self.every, self.addresses = window_s, each, every, addresses
        self._clock = clock
        self._seen: dict[str, list[float | int]] = {}  # address -> [window start, count, unwritten]

    def admit(self, address: str | None) -> tuple[bool, int]:
        """(write this refusal?, refusals not written before it to mention in its event)."""
        now = self._clock()
        key = address or "unknown"
        if key not in self._seen and len(self._seen) >= self.addresses:
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window_s}
            if len(self._seen) >= self.addresses:
                key = "*"
        entry = self._seen.setdefault(key, [now, 0, 0])
        if now - entry[0] >= self.window_s:  # a new window: the old one's leftover is told now
            entry[0], entry[1] = now, 0
        entry[1] = int(entry[1]) + 1
        if entry[1] <= self.each or int(entry[2]) + 1 >= self.every:
            unwritten, entry[2] = int(entry[2]), 0
            return True, unwritten
        entry[2] = int(entry[2]) + 1
        return False, 0


class DeniedAudit:
    """Writes the event of a refused request to an audited route (before the refusal is
    answered, like every audited answer: if it cannot be written, the answer is a 503)."""

    def __init__(self, trail: AuditTrail, limit: AnonymousRefusals | None = None) -> None:
        self.trail = trail
        self.limit = limit or AnonymousRefusals()

    async def write(
        self,
        scope: Scope,
        status: int,
        *,
        reason: str | None = None,
        user: str | None = None,
        roles: list[str] | None = None,
    ) -> None:
        declared = declared_audit(scope) if scope["type"] == ScopeType.HTTP else None
        if declared is None:
            return
        client = scope.get("client")
        address = client[0] if client else None
        event = denied_event(declared, scope, status, reason)
        if user is None:
            write, unwritten = self.limit.admit(address)
            if not write:
                return
            if unwritten:
                event["detail"] += (
                    f" (and {unwritten} earlier anonymous refusals from this address, not written one by one)"
                )
        await self.trail.record(
            **event,
            user=user,
            roles=roles or [],
            request_id=request_id_var.get(),
            client_ip=address,
        )


class RequestAudit:
    """The middleware: on every route that declares an audit, the event before the answer
    (a refusal's too)."""

    def __init__(self, app: ASGIApp, *, trail: AuditTrail, denied: DeniedAudit) -> None:
        self.app = app
        self.trail = trail
        self.denied = denied

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = declared_audit(scope) if scope["type"] == ScopeType.HTTP else None
        if declared is None:
            await self.app(scope, receive, send)
            return
        refused = False

        async def written_first(message: Message) -> None:
            nonlocal refused
            if refused:
                raise _Refused
            if message["type"] == "http.response.start":
                try:
                    await self.write(declared, scope, message["status"])
                except Exception as exc:
                    refused = True
                    await send_unavailable(send, exc)
                    raise _Refused from exc
            await send(message)

        try:
            await self.app(scope, receive, written_first)
        except Exception:
            if not refused:
                raise

    async def write(self, declared: Audit, scope: Scope, status: int) -> None:
        who = scope.get("user")
        who = who if isinstance(who, Principal) else None
        if status in DENIED:  # the RBAC guard refused (a bad token is refused before: middleware)
            await self.denied.write(
                scope, status, user=who.username if who else None, roles=who.roles if who else None
            )
            return
        client = scope.get("client")
        for event in events_of(declared, scope, status):
            await self.trail.record(
                **event,
                user=who.username if who else None,
                roles=who.roles if who else [],
                request_id=request_id_var.get(),
                client_ip=client[0] if client else None,
            )


async def send_unavailable(send: Send, exc: Exception) -> None:
    """The 503 a failed audit write answers, in the shape of every error."""
    down = exc if isinstance(exc, Unavailable) else Unavailable(UNREACHABLE, backend="audit")
    retry_after = str(down.retry_after or 5).encode()
    await send_error(send, 503, down.detail, [(b"retry-after", retry_after)], backend=down.backend)


def request_audit(trail: AuditTrail, denied: DeniedAudit) -> DefineMiddleware:
    return DefineMiddleware(RequestAudit, trail=trail, denied=denied)


def audit_ready(trail: AuditTrail) -> Guard:
    """The guard (after RBAC): an unsafe method on a route that declares an audit (and may
    change something) runs only while the audit store answers."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        declared = handler.opt.get("audit")
        if (
            isinstance(declared, Audit)
            and not declared.read_only
            and connection.scope.get("method") in UNSAFE
        ):
            await trail.ready()

    return guard
