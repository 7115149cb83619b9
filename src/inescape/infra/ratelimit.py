"""Rate limits: a GCRA limiter held atomically in Redis (one Lua round trip) or in process
memory, the ASGI middleware that applies per-route-group rules, and ``TooManyAttempts``, the
error of a throttled sign-in (the login throttle itself is the gateway's: ``auth/throttle.py``).

GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp per key):
``limit`` requests per ``window_s`` with bursts up to ``limit``; each hit moves the key's
"theoretical arrival time" (TAT) on by ``window_s / limit``. Both backends run the same
integer-microsecond arithmetic, so they give the same decisions for the same sequence.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast, get_args

import msgspec
import redis.asyncio as aioredis
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from redis.exceptions import RedisError

from inescape.infra.cache import RedisCache
from inescape.infra.telemetry import request_id_var
from inescape.kernel.errors import ConfigurationError, DomainError, Unavailable
from inescape.kernel.ports import Cache

log = logging.getLogger("inescape.ratelimit")

KEY_PREFIX = "inescape:ratelimit:"
SETTING = "INESCAPE_RATE_LIMITS"
RECOMMENDED_RATE_LIMITS = "api=600/60,login=10/60,generation=30/60,default=1200/60"
_US = 1_000_000


@dataclass(frozen=True, slots=True)
class Decision:
    """One hit's outcome. ``remaining`` counts what is left after this hit; ``reset_after_s``
    is the time until the whole quota is back; ``retry_after_s`` is 0 when allowed."""

    allowed: bool
    limit: int
    remaining: int
    reset_after_s: float
    retry_after_s: float

    def headers(self) -> list[tuple[bytes, bytes]]:
        """IETF ``RateLimit-*`` headers (integer seconds), plus ``Retry-After`` when denied."""
        out = [
            (b"ratelimit-limit", str(self.limit).encode()),
            (b"ratelimit-remaining", str(self.remaining).encode()),
            (b"ratelimit-reset", str(math.ceil(self.reset_after_s)).encode()),
        ]
        if not self.allowed:
            out.append((b"retry-after", str(max(1, math.ceil(self.retry_after_s))).encode()))
        return out


class RateLimiter(Protocol):
    backend: str

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        """Count one request against ``key`` if the quota allows it."""
        ...

    async def peek(self, key: str, limit: int, window_s: float) -> Decision:
        """Whether a hit now would be allowed, counting nothing (``remaining`` is before it)."""
        ...

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


def _interval_us(limit: int, window_s: float) -> int:
    interval = round(window_s * _US) // limit if limit >= 1 else 0
    if interval < 1:
        raise ValueError(f"a limit of {limit} per {window_s} s is not a usable rate")
    return interval


def _gcra(stored: int | None, now: int, limit: int, interval: int, consume: bool) -> tuple[int, int, int]:
    """(allowed 0/1, microseconds of quota in use, microseconds to wait). Mirrored in ``_LUA``."""
    burst = limit * interval
    tat = max(stored or now, now)
    new_tat = tat + interval
    if new_tat - now <= burst:
        return 1, (new_tat - now) if consume else (tat - now), 0
    return 0, tat - now, new_tat - now - burst


def _decision(result: Sequence[Any], limit: int, interval: int) -> Decision:
    allowed, used, wait = (int(v) for v in result)
    return Decision(
        allowed=bool(allowed),
        limit=limit,
        remaining=(limit * interval - used) // interval,
        reset_after_s=used / _US,
        retry_after_s=wait / _US,
    )


# The same steps as _gcra. TIME is the server's clock (one clock for every replica); tests
# pass their own "now" (ARGV[3] >= 0) so both backends can be driven by one fake clock.
_LUA = """
local limit = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local burst = limit * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now <= burst then
  if ARGV[4] == '1' then
    redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1)
    return {1, new_tat - now, 0}
  end
  return {1, tat - now, 0}
end
return {0, tat - now, new_tat - now - burst}
"""


class RedisRateLimiter:
    """Keys ``inescape:ratelimit:<group>:<subject>``, each expiring when its quota is full again."""

    backend = "redis"

    def __init__(
        self, client: aioredis.Redis, *, clock: Callable[[], float] | None = None, owns_client: bool = False
    ) -> None:
        self._redis = client
        self._script = client.register_script(_LUA)
        self._clock = clock  # None: the Redis server's clock
        self._owns_client = owns_client

    @classmethod
    def from_url(cls, url: str, *, clock: Callable[[], float] | None = None) -> RedisRateLimiter:
        client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        return cls(client, clock=clock, owns_client=True)

    async def close(self) -> None:
        if self._owns_client:  # a client shared with the cache is the cache's to close
            await self._redis.aclose()

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        return await self._run(key, limit, window_s, consume=True)

    async def peek(self, key: str, limit: int, window_s: float) -> Decision:
        return await self._run(key, limit, window_s, consume=False)

    async def reset(self, key: str) -> None:
        try:
            await self._redis.delete(KEY_PREFIX + key)
        except (RedisError, OSError) as exc:
            raise _unavailable() from exc

    async def _run(self, key: str, limit: int, window_s: float, *, consume: bool) -> Decision:
        interval = _interval_us(limit, window_s)
        now = -1 if self._clock is None else int(self._clock() * _US)
        try:
            result = await self._script(keys=[KEY_PREFIX + key], args=[limit, interval, now, int(consume)])
        except (RedisError, OSError) as exc:
            raise _unavailable() from exc
        return _decision(result, limit, interval)


def _unavailable() -> Unavailable:
    return Unavailable("The rate limiter (Redis) is unreachable.", backend="redis", retry_after=5)


class MemoryRateLimiter:
    """One process's limits. Each call reads and writes without awaiting in between, so it
    is atomic on the event loop."""

    backend = "memory"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000) -> None:
        self._tats: dict[str, int] = {}
        self._clock = clock
        self._max_keys = max_keys

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        return self._run(key, limit, window_s, consume=True)

    async def peek(self, key: str, limit: int, window_s: float) -> Decision:
        return self._run(key, limit, window_s, consume=False)

    async def reset(self, key: str) -> None:
        self._tats.pop(key, None)

    async def close(self) -> None:
        self._tats.clear()

    def _run(self, key: str, limit: int, window_s: float, *, consume: bool) -> Decision:
        interval = _interval_us(limit, window_s)
        now = int(self._clock() * _US)
        result = _gcra(self._tats.get(key), now, limit, interval, consume)
        if result[0] and consume:
            if key not in self._tats and len(self._tats) >= self._max_keys:
                self._sweep(now)
            self._tats[key] = now + result[1]
        return _decision(result, limit, interval)

    def _sweep(self, now: int) -> None:
        for key in [k for k, tat in self._tats.items() if tat <= now]:
            del self._tats[key]
        while len(self._tats) >= self._max_keys:  # still full: forget the oldest (most lenient)
            del self._tats[next(iter(self._tats))]


def rate_limiter_for(cache: Cache) -> RateLimiter:
    """The limiter that shares the cache's backend (and its Redis connection pool)."""
    if isinstance(cache, RedisCache):
        return RedisRateLimiter(cache._redis)
    return MemoryRateLimiter()


# --- rules ---------------------------------------------------------------------------------

Per = Literal["user", "ip", "user_or_ip"]
_PERS: tuple[str, ...] = get_args(Per)


@dataclass(frozen=True, slots=True)
class RateLimitRule:
    """``per="user"`` limits identified callers only (anonymous requests pass);
    ``fail_closed`` answers 503 rather than letting requests through when Redis is down."""

    group: str
    limit: int
    window_s: float
    per: Per = "user_or_ip"
    fail_closed: bool = False

    @property
    def spec(self) -> str:
        """The rule in the ``INESCAPE_RATE_LIMITS`` syntax."""
        window = f"{self.window_s:g}"
        return f"{self.group}={self.limit}/{window}:{self.per}" + (":closed" if self.fail_closed else "")


# Options a group gets when its entry names none: login is counted per IP and fails closed.
GROUP_DEFAULTS: dict[str, tuple[Per, bool]] = {"login": ("ip", True)}
_ENTRY = re.compile(
    r"(?P<group>[a-z][a-z0-9_-]*)=(?P<limit>[0-9]+)/(?P<window>[0-9]+(?:\.[0-9]+)?)(?P<unit>[smh]?)"
    r"(?P<options>(?::[a-z_]+)*)"
)
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_rate_limits(value: str | Iterable[str]) -> dict[str, RateLimitRule]:
    """``"api=600/60,login=10/60:ip:closed,generation=30/1m:user"`` -> rules by group.

    Each entry is ``group=LIMIT/WINDOW[s|m|h]`` then optional ``:user``, ``:ip``,
    ``:user_or_ip``, ``:closed`` or ``:open``. An empty value means no limits."""
    entries = value.split(",") if isinstance(value, str) else list(value)
    rules: dict[str, RateLimitRule] = {}
    for entry in ("".join(e.split()) for e in entries):
        if not entry:
            continue
        rule = _parse_entry(entry)
        if rule.group in rules:
            raise ConfigurationError(SETTING, f"group {rule.group!r} is given twice")
        rules[rule.group] = rule
    return rules


def _parse_entry(entry: str) -> RateLimitRule:
    match = _ENTRY.fullmatch(entry)
    if match is None:
        raise ConfigurationError(
            SETTING, f"{entry!r} is not group=LIMIT/SECONDS[:user|:ip|:user_or_ip][:closed], e.g. login=10/60"
        )
    group = match["group"]
    per, closed = GROUP_DEFAULTS.get(group, ("user_or_ip", False))
    for option in match["options"].split(":")[1:]:
        if option in _PERS:
            per = cast(Per, option)
        elif option in ("closed", "open"):
            closed = option == "closed"
        else:
            raise ConfigurationError(SETTING, f"{entry!r}: unknown option {option!r}")
    rule = RateLimitRule(
        group, int(match["limit"]), float(match["window"]) * _UNIT_S[match["unit"]], per, closed
    )
    try:
        _interval_us(rule.limit, rule.window_s)
    except ValueError as exc:
        raise ConfigurationError(SETTING, f"{entry!r}: {exc}") from None
    return rule


@dataclass(frozen=True, slots=True)
class RouteGroup:
    """Requests whose path is ``prefix`` or below it (and whose method is in ``methods``,
    when given) belong to ``group``. The longest matching prefix wins."""

    prefix: str
    group: str
    methods: frozenset[str] | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        base = self.prefix.rstrip("/")
        return path == base or path.startswith(base + "/")


DEFAULT_ROUTE_GROUPS: tuple[RouteGroup, ...] = (
    RouteGroup("/api/v1/auth/token", "login", frozenset({"POST"})),
    RouteGroup("/api/v1/generation", "generation", frozenset({"POST"})),
    RouteGroup("/api/v1", "api"),
)
NEVER_LIMITED: tuple[str, ...] = ("/health", "/metrics")


@dataclass(frozen=True)
class RateLimitConfig:
    """Rules by group and the routes of each group; paths no route claims use
    ``default_group``'s rule when there is one, and health and metrics are never limited."""

    rules: Mapping[str, RateLimitRule]
    routes: Sequence[RouteGroup] = DEFAULT_ROUTE_GROUPS
    default_group: str = "default"

    def rule_for(self, method: str, path: str) -> RateLimitRule | None:
        if path.startswith(NEVER_LIMITED):
            return None
        matching = [r for r in self.routes if r.matches(method, path)]
        group = max(matching, key=lambda r: len(r.prefix)).group if matching else self.default_group
        return self.rules.get(group)


# --- the HTTP edge -------------------------------------------------------------------------

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
            await _send_json(send, 429, f"Too many requests; retry after {seconds} s", decision.headers())
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
            await _send_json(send, 503, detail, [(b"retry-after", b"5")])
            return
        await self.app(scope, receive, send)


def _adding_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), *headers]
        await send(message)

    return wrapped


async def _send_json(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]]) -> None:
    body: dict[str, Any] = {"detail": detail, "status_code": status}
    rid = request_id_var.get()
    if rid:
        body["request_id"] = rid
    payload = msgspec.json.encode(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload, "more_body": False})


# --- sign-in throttling (the policy lives in the auth module) -------------------------------


class TooManyAttempts(DomainError):
    """Sign-in is throttled for ``retry_after`` whole seconds (429 with ``Retry-After``).
    ``reason`` (``account_ip``, ``ip`` or ``account``) is for logs, never for the client."""

    def __init__(self, retry_after: float, *, reason: str) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"Too many failed sign-in attempts; retry after {seconds} s", extra={"retry_after": seconds}
        )
        self.retry_after = seconds
        self.reason = reason
