"""The HTTP edge of rate limiting: a pure ASGI middleware that finds a request's rule, counts
it against the caller (verified user, else client IP) and answers 429 with ``RateLimit-*``
headers, or 503 when the limiter is down and the rule fails closed."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping

from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

from inescape.infra.error_response import send_error
from inescape.infra.ratelimit.gcra import Decision, RateLimiter
from inescape.infra.ratelimit.rules import RateLimitConfig, RateLimitRule
from inescape.kernel.errors import Unavailable

log = logging.getLogger("inescape.ratelimit")

Identity = Callable[[Scope], str | None]
ClientIp = Callable[[Scope], str]


def scope_client_ip(scope: Scope) -> str:
    """The ASGI peer address (the server's proxy-header handling decides what that is)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def scope_user_id(scope: Scope) -> str | None:
    """``scope["user"].id`` when an authentication middleware ran before this one."""
    user_id = getattr(scope.get("user"), "id", None)
    return None if user_id is None else str(user_id)


def bearer_identity(verify: Callable[[str], str | None]) -> Identity:
    """An identity read from a *verified* bearer token (an unverified one would let anyone
    spend someone else's quota). ``verify`` returns the subject or None; errors count as None."""

    def identity(scope: Scope) -> str | None:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token:
                    return None
                try:
                    return verify(token.strip())
                except Exception:  # any bad token is simply anonymous here; auth rejects it later
                    return None
        return None

    return identity


class RateLimitMiddleware:
    """Pure ASGI: wrap ``app.asgi_handler`` (before routing) or register it with Litestar's
    ``DefineMiddleware`` after the authentication middleware (then ``scope_user_id`` works).

    When the limiter is down, each rule fails open or closed, and the limiter is not asked
    again for ``retry_down_s``, so a dead Redis does not add a timeout to every request."""

    retry_down_s = 5.0

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter,
        rules: RateLimitConfig | Mapping[str, RateLimitRule],
        *,
        identity: Identity = scope_user_id,
        client_ip: ClientIp = scope_client_ip,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.config = rules if isinstance(rules, RateLimitConfig) else RateLimitConfig(rules)
        self.identity = identity
        self.client_ip = client_ip
        self._warned_at = -math.inf
        self._down_until = -math.inf

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        rule = self.config.rule_for(scope["method"], scope["path"])
        subject = self._subject(rule, scope) if rule else None
        if rule is None or subject is None:
            await self.app(scope, receive, send)
            return
        decision = await self._hit(rule, subject)
        if decision is None:
            await self._unavailable(rule, scope, receive, send)
            return
        if not decision.allowed:
            seconds = max(1, math.ceil(decision.retry_after_s))
            await send_error(send, 429, f"Too many requests; retry after {seconds} s", decision.headers())
            return
        await self.app(scope, receive, _adding_headers(send, decision.headers()))

    def _subject(self, rule: RateLimitRule, scope: HTTPScope) -> str | None:
        user = self.identity(scope) if rule.per != "ip" else None
        if user is not None:
            return f"user:{user}"
        return None if rule.per == "user" else f"ip:{self.client_ip(scope)}"

    async def _hit(self, rule: RateLimitRule, subject: str) -> Decision | None:
        if time.monotonic() < self._down_until:
            return None
        try:
            return await self.limiter.hit(f"{rule.group}:{subject}", rule.limit, rule.window_s)
        except Unavailable:
            self._down_until = time.monotonic() + self.retry_down_s
            return None

    async def _unavailable(self, rule: RateLimitRule, scope: HTTPScope, receive: Receive, send: Send) -> None:
        now = time.monotonic()
        if now - self._warned_at > 60:  # once a minute, not once a request
            self._warned_at = now
            log.warning(
                "rate limiter unavailable",
                extra={"group": rule.group, "fail_closed": rule.fail_closed, "backend": self.limiter.backend},
            )
        if rule.fail_closed:
            detail = "Rate limiting is unavailable, so this request is refused; try again shortly."
            await send_error(send, 503, detail, [(b"retry-after", b"5")])
            return
        await self.app(scope, receive, send)


def _adding_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *headers]
        await send(message)

    return wrapped
