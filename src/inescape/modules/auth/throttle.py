"""Login brute-force protection: slows an attacked account without letting anyone lock its
owner out. Counts live in the cache and in the shared rate limiter (``infra.ratelimit``)."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from inescape.infra.ratelimit import KEY_PREFIX, RateLimiter, TooManyAttempts
from inescape.kernel.ports import Cache


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    free_failures: int = 5  # per (account, IP) before back-off starts
    backoff_base_s: float = 1.0  # then 1 s, 2 s, 4 s ... after each further failure
    backoff_max_s: float = 900.0
    ip_failures: int = 50  # per IP across accounts, per ip_window_s
    ip_window_s: float = 900.0
    account_failures: int = 20  # per account across IPs, per account_window_s: past it, slow down
    account_window_s: float = 900.0
    account_delay_s: float = 30.0  # the most an attacked account's owner waits after a failure
    forget_after_s: float = 86_400.0  # an (account, IP) failure count lives this long

    def backoff_s(self, failures: int) -> float:
        if failures < self.free_failures:
            return 0.0
        return float(
            min(self.backoff_base_s * 2 ** min(failures - self.free_failures, 62), self.backoff_max_s)
        )


class LoginThrottle:
    """Three counters. (account, IP): exponential back-off after ``free_failures``. IP: a cap on
    failures across accounts. Account: past its cap, each (account, IP) waits at most
    ``account_delay_s`` after its *own* last failure. Other IPs can therefore never block the
    owner's IP: its first attempt always passes and each later one waits a bounded time."""

    def __init__(
        self,
        limiter: RateLimiter,
        cache: Cache,
        *,
        policy: LoginPolicy | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limiter = limiter
        self._cache = cache
        self.policy = policy or LoginPolicy()
        self._clock = clock

    async def check(self, username: str, ip: str) -> None:
        """Raise ``TooManyAttempts`` if this attempt must wait; counts nothing."""
        p = self.policy
        account, pair = _account_key(username), _pair_key(username, ip)
        ip_cap, account_cap, count, last = await asyncio.gather(
            self._limiter.peek(f"login-ip:{ip}", p.ip_failures, p.ip_window_s),
            self._limiter.peek(f"login-account:{account}", p.account_failures, p.account_window_s),
            self._cache.get(pair + ":n"),
            self._cache.get(pair + ":last"),
        )
        since = self._clock() - float(last) if last else math.inf
        waits = {
            "ip": ip_cap.retry_after_s,
            "account_ip": p.backoff_s(int(count or 0)) - since,
            "account": 0.0 if account_cap.allowed else p.account_delay_s - since,
        }
        reason = max(waits, key=lambda k: waits[k])
        if waits[reason] > 0:
            raise TooManyAttempts(waits[reason], reason=reason)

    async def record_failure(self, username: str, ip: str) -> None:
        p = self.policy
        pair = _pair_key(username, ip)
        await self._cache.incr(pair + ":n", ttl=p.forget_after_s)
        await self._cache.set(pair + ":last", repr(self._clock()).encode(), ttl=p.forget_after_s)
        await self._limiter.hit(f"login-ip:{ip}", p.ip_failures, p.ip_window_s)
        await self._limiter.hit(
            f"login-account:{_account_key(username)}", p.account_failures, p.account_window_s
        )

    async def record_success(self, username: str, ip: str) -> None:
        """Forgets this (account, IP)'s failures; the IP and account caps drain on their own."""
        pair = _pair_key(username, ip)
        await self._cache.delete(pair + ":n")
        await self._cache.delete(pair + ":last")


def _account_key(username: str) -> str:
    # hashed: usernames stay out of Redis, and any character is safe in a key
    return hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]


def _pair_key(username: str, ip: str) -> str:
    return f"{KEY_PREFIX}login-pair:{_account_key(username)}:{ip}"
