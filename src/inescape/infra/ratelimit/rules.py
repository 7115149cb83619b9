"""Which requests a limit applies to: the ``INESCAPE_RATE_LIMITS`` syntax (one rule per
group) and the route groups that sort requests into those groups."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast, get_args

from inescape.infra.ratelimit.gcra import interval_us
from inescape.kernel.errors import ConfigurationError

SETTING = "INESCAPE_RATE_LIMITS"
RECOMMENDED_RATE_LIMITS = "api=600/60,login=10/60,generation=30/60,default=1200/60"

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
        interval_us(rule.limit, rule.window_s)
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
