"""Rate limits: a GCRA limiter held atomically in Redis (one Lua round trip) or in process
memory, the ASGI middleware that applies per-route-group rules, and ``TooManyAttempts``, the
error of a throttled sign-in (the login throttle itself is the gateway's: ``auth/throttle.py``).

GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp per key):
``limit`` requests per ``window_s`` with bursts up to ``limit``; each hit moves the key's
"theoretical arrival time" (TAT) on by ``window_s / limit``. Both backends run the same
integer-microsecond arithmetic, so they give the same decisions for the same sequence.

``gcra`` holds the arithmetic and the ``RateLimiter`` port, ``backends`` the memory and Redis
limiters, ``rules`` the ``INESCAPE_RATE_LIMITS`` syntax and route groups, ``middleware`` the
HTTP edge.
"""

from inescape.infra.ratelimit.backends import MemoryRateLimiter, RedisRateLimiter, rate_limiter_for
from inescape.infra.ratelimit.errors import TooManyAttempts
from inescape.infra.ratelimit.gcra import KEY_PREFIX, Decision, RateLimiter
from inescape.infra.ratelimit.middleware import (
    ClientIp,
    Identity,
    RateLimitMiddleware,
    bearer_identity,
    scope_client_ip,
    scope_user_id,
)
from inescape.infra.ratelimit.rules import (
    DEFAULT_ROUTE_GROUPS,
    GROUP_DEFAULTS,
    NEVER_LIMITED,
    RECOMMENDED_RATE_LIMITS,
    SETTING,
    Per,
    RateLimitConfig,
    RateLimitRule,
    RouteGroup,
    parse_rate_limits,
)

__all__ = [
    "DEFAULT_ROUTE_GROUPS",
    "GROUP_DEFAULTS",
    "KEY_PREFIX",
    "NEVER_LIMITED",
    "RECOMMENDED_RATE_LIMITS",
    "SETTING",
    "ClientIp",
    "Decision",
    "Identity",
    "MemoryRateLimiter",
    "Per",
    "RateLimitConfig",
    "RateLimitMiddleware",
    "RateLimitRule",
    "RateLimiter",
    "RedisRateLimiter",
    "RouteGroup",
    "TooManyAttempts",
    "bearer_identity",
    "parse_rate_limits",
    "rate_limiter_for",
    "scope_client_ip",
    "scope_user_id",
]
