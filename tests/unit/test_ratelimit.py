"""Rate limiting: the GCRA limiter on a fake clock, rule parsing and routing, and login
brute-force throttling."""

from __future__ import annotations

from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inescape.infra.cache import MemoryCache
from inescape.infra.http import domain_error_handler
from inescape.infra.ratelimit.backends import MemoryRateLimiter
from inescape.infra.ratelimit.errors import TooManyAttempts
from inescape.infra.ratelimit.gcra import Decision
from inescape.infra.ratelimit.middleware import bearer_identity
from inescape.infra.ratelimit.rules import (
    RECOMMENDED_RATE_LIMITS,
    SETTING,
    RateLimitConfig,
    RateLimitRule,
    parse_rate_limits,
)
from inescape.kernel.errors import ConfigurationError
from inescape.modules.auth.throttle import LoginPolicy, LoginThrottle


class Ticks:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Ticks:
    return Ticks()


@pytest.fixture
def limiter(clock: Ticks) -> MemoryRateLimiter:
    return MemoryRateLimiter(clock=clock)


# --- the limiter ---------------------------------------------------------------------------


async def test_the_limit_plus_first_hit_is_denied_with_the_time_until_a_slot_frees(limiter):
    decisions = [await limiter.hit("api:ip:a", 3, 60) for _ in range(4)]

    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0]
    assert decisions[3].retry_after_s == pytest.approx(20.0)
    assert decisions[3].reset_after_s == pytest.approx(60.0)
    assert decisions[0].retry_after_s == 0


async def test_the_window_slides_one_slot_per_limit_th_of_the_window(limiter, clock):
    for _ in range(3):
        await limiter.hit("k", 3, 60)

    clock.now += 19.9
    early = await limiter.hit("k", 3, 60)
    clock.now += 0.1
    one_freed = await limiter.hit("k", 3, 60)
    right_after = await limiter.hit("k", 3, 60)
    clock.now += 60
    all_freed = [await limiter.hit("k", 3, 60) for _ in range(3)]

    assert not early.allowed
    assert early.retry_after_s == pytest.approx(0.1)
    assert one_freed.allowed
    assert not right_after.allowed
    assert all(d.allowed for d in all_freed)


async def test_a_denied_hit_does_not_push_the_wait_further(limiter, clock):
    for _ in range(2):
        await limiter.hit("k", 2, 10)
    for _ in range(50):
        denied = await limiter.hit("k", 2, 10)

    clock.now += 5

    assert denied.retry_after_s == pytest.approx(5.0)
    assert (await limiter.hit("k", 2, 10)).allowed


async def test_keys_are_counted_separately(limiter):
    await limiter.hit("api:ip:a", 1, 60)

    assert not (await limiter.hit("api:ip:a", 1, 60)).allowed
    assert (await limiter.hit("api:ip:b", 1, 60)).allowed


async def test_peek_counts_nothing_and_reset_forgets_the_key(limiter):
    peeks = [await limiter.peek("k", 2, 60) for _ in range(5)]
    await limiter.hit("k", 2, 60)
    await limiter.hit("k", 2, 60)
    exhausted = await limiter.peek("k", 2, 60)
    await limiter.reset("k")

    assert all(p.allowed and p.remaining == 2 for p in peeks)
    assert not exhausted.allowed
    assert exhausted.retry_after_s == pytest.approx(30.0)
    assert (await limiter.peek("k", 2, 60)).remaining == 2


async def test_the_memory_limiter_stays_bounded_and_forgets_full_quotas_first(clock):
    limiter = MemoryRateLimiter(clock=clock, max_keys=3)
    await limiter.hit("old", 1, 1)
    await limiter.hit("b", 1, 100)
    await limiter.hit("c", 1, 100)
    clock.now += 2
    await limiter.hit("d", 1, 100)

    assert len(limiter._tats) == 3
    assert not (await limiter.hit("b", 1, 100)).allowed


def test_headers_carry_integer_seconds_and_retry_after_only_when_denied():
    allowed = Decision(allowed=True, limit=10, remaining=4, reset_after_s=35.2, retry_after_s=0)
    denied = Decision(allowed=False, limit=10, remaining=0, reset_after_s=60, retry_after_s=0.2)

    assert dict(allowed.headers()) == {
        b"ratelimit-limit": b"10",
        b"ratelimit-remaining": b"4",
        b"ratelimit-reset": b"36",
    }
    assert dict(denied.headers())[b"retry-after"] == b"1"


def test_a_rate_finer_than_a_microsecond_is_refused():
    with pytest.raises(ValueError, match="not a usable rate"):
        MemoryRateLimiter()._run("k", 10, 0.000001, consume=True)


# --- rules ---------------------------------------------------------------------------------


def test_the_recommended_rules_parse_with_login_per_ip_and_failing_closed():
    rules = parse_rate_limits(RECOMMENDED_RATE_LIMITS)

    assert set(rules) == {"api", "login", "generation", "default"}
    assert rules["api"] == RateLimitRule("api", 600, 60.0, "user_or_ip", False)
    assert rules["login"] == RateLimitRule("login", 10, 60.0, "ip", True)


def test_options_units_and_spaces_are_understood():
    rules = parse_rate_limits(" api = 5/1m:user , login=3/2h:user_or_ip:open,x=1/0.5s:ip:closed ")

    assert rules["api"] == RateLimitRule("api", 5, 60.0, "user", False)
    assert rules["login"] == RateLimitRule("login", 3, 7200.0, "user_or_ip", False)
    assert rules["x"] == RateLimitRule("x", 1, 0.5, "ip", True)


def test_an_empty_value_means_no_limits_and_a_list_is_accepted():
    assert parse_rate_limits("") == {}
    assert parse_rate_limits(["api=1/1", "login=2/2"]).keys() == {"api", "login"}


@pytest.mark.parametrize(
    "value",
    [
        "api",
        "api=10",
        "api=ten/60",
        "api=0/60",
        "api=10/0",
        "api=10/60:sometimes",
        "api=10/60x",
        "API=10/60",
        "api=10/60,api=20/60",
        "api=10000000/1",
        "api=10/60;login=1/1",
    ],
)
def test_a_bad_rule_stops_start_up_naming_the_setting(value):
    with pytest.raises(ConfigurationError) as caught:
        parse_rate_limits(value)

    assert caught.value.setting == SETTING == "INESCAPE_RATE_LIMITS"
    assert str(caught.value).startswith("INESCAPE_RATE_LIMITS: ")


rules_strategy = st.builds(
    RateLimitRule,
    group=st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True),
    limit=st.integers(1, 100_000),
    window_s=st.integers(1, 86_400).map(float),
    per=st.sampled_from(["user", "ip", "user_or_ip"]),
    fail_closed=st.booleans(),
)


@given(st.lists(rules_strategy, max_size=6, unique_by=lambda r: r.group))
def test_a_rule_written_back_as_its_spec_parses_to_itself(rules):
    parsed = parse_rate_limits(",".join(r.spec for r in rules))

    assert parsed == {r.group: r for r in rules}


def test_requests_fall_in_the_group_of_the_longest_matching_route():
    config = RateLimitConfig(parse_rate_limits(RECOMMENDED_RATE_LIMITS))

    def group(method: str, path: str) -> str | None:
        rule = config.rule_for(method, path)
        return rule.group if rule else None

    assert group("POST", "/api/v1/auth/token") == "login"
    assert group("GET", "/api/v1/auth/token") == "api"
    assert group("POST", "/api/v1/auth/tokens") == "api"
    assert group("POST", "/api/v1/generation/jobs") == "generation"
    assert group("GET", "/api/v1/generation/jobs") == "api"
    assert group("GET", "/schema") == "default"
    assert group("GET", "/health") is None
    assert group("GET", "/health/detailed") is None
    assert group("GET", "/metrics") is None


def test_a_group_without_a_rule_is_not_limited():
    config = RateLimitConfig(parse_rate_limits("login=10/60"))

    assert config.rule_for("GET", "/api/v1/cds/jobs") is None
    assert config.rule_for("GET", "/schema") is None


def test_a_bearer_identity_trusts_only_what_verify_accepts():
    def verify(token: str) -> str | None:
        if token == "boom":
            raise ValueError("bad signature")
        return "u1" if token == "good" else None

    identity = bearer_identity(verify)

    def scope(auth: bytes | None) -> Any:
        return {"type": "http", "headers": [(b"authorization", auth)] if auth else []}

    assert identity(scope(b"Bearer good")) == "u1"
    assert identity(scope(b"Bearer forged")) is None
    assert identity(scope(b"Bearer boom")) is None
    assert identity(scope(b"Basic dTpw")) is None
    assert identity(scope(None)) is None


# --- login throttling ----------------------------------------------------------------------

OWNER_IP = "198.51.100.7"
ATTACKER_IP = "203.0.113.66"


def make_throttle(clock: Ticks, **policy: Any) -> LoginThrottle:
    return LoginThrottle(
        MemoryRateLimiter(clock=clock),
        MemoryCache(clock=clock),
        policy=LoginPolicy(**policy),
        clock=clock,
    )


async def wait_of(throttle: LoginThrottle, username: str, ip: str) -> int:
    """0 when the attempt may go ahead, else the Retry-After it would get."""
    try:
        await throttle.check(username, ip)
    except TooManyAttempts as exc:
        return exc.retry_after
    return 0


async def test_five_failures_are_free_then_the_wait_doubles_up_to_the_cap(clock):
    throttle = make_throttle(clock, ip_failures=1000, account_failures=1000)
    waits = []
    for _ in range(17):
        waits.append(await wait_of(throttle, "alice", OWNER_IP))
        await throttle.record_failure("alice", OWNER_IP)
    waits.append(await wait_of(throttle, "alice", OWNER_IP))

    assert waits[:5] == [0, 0, 0, 0, 0]
    assert waits[5:11] == [1, 2, 4, 8, 16, 32]
    assert waits[-1] == 900


async def test_the_back_off_runs_from_the_last_failure(clock):
    throttle = make_throttle(clock)
    for _ in range(7):
        await throttle.record_failure("alice", OWNER_IP)

    clock.now += 3
    still_waiting = await wait_of(throttle, "alice", OWNER_IP)
    clock.now += 1

    assert still_waiting == 1
    assert await wait_of(throttle, "alice", OWNER_IP) == 0


async def test_a_success_forgets_the_failures_of_that_account_and_ip(clock):
    throttle = make_throttle(clock)
    for _ in range(8):
        await throttle.record_failure("alice", OWNER_IP)

    await throttle.record_success("alice", OWNER_IP)

    assert await wait_of(throttle, "alice", OWNER_IP) == 0
    await throttle.record_failure("alice", OWNER_IP)
    assert await wait_of(throttle, "alice", OWNER_IP) == 0


async def test_usernames_are_throttled_regardless_of_case(clock):
    throttle = make_throttle(clock)
    for _ in range(6):
        await throttle.record_failure("Alice", OWNER_IP)

    assert await wait_of(throttle, "alice", OWNER_IP) > 0


async def test_an_ip_that_fails_on_many_accounts_is_capped_across_accounts(clock):
    throttle = make_throttle(clock, ip_failures=10, ip_window_s=600)
    for n in range(10):
        await throttle.record_failure(f"user{n}", ATTACKER_IP)

    with pytest.raises(TooManyAttempts) as caught:
        await throttle.check("never-tried", ATTACKER_IP)

    assert caught.value.reason == "ip"
    assert caught.value.retry_after == 60
    assert await wait_of(throttle, "never-tried", OWNER_IP) == 0


async def attack(throttle: LoginThrottle, clock: Ticks, *, seconds: float, ips: int) -> int:
    """Many IPs guess alice's password as fast as the throttle lets them; returns the guesses."""
    guesses = 0
    end = clock.now + seconds
    while clock.now < end:
        for n in range(ips):
            ip = f"203.0.113.{n}"
            if await wait_of(throttle, "alice", ip) == 0:
                await throttle.record_failure("alice", ip)
                guesses += 1
        clock.now += 1
    return guesses


async def test_an_attacked_account_slows_every_ip_that_keeps_failing(clock):
    throttle = make_throttle(clock, account_failures=20, account_window_s=900, account_delay_s=30)

    guesses = await attack(throttle, clock, seconds=60, ips=50)

    # each IP: its first guess, then one per account_delay_s (without the cap: 5 free each)
    assert guesses <= 50 * (1 + 60 / 30)
    with pytest.raises(TooManyAttempts) as caught:
        await throttle.check("alice", "203.0.113.0")
    assert caught.value.reason in ("account", "account_ip")


async def test_an_attack_from_other_ips_never_stops_the_owners_first_attempt(clock):
    throttle = make_throttle(clock, account_delay_s=30)

    await attack(throttle, clock, seconds=600, ips=10)

    assert await wait_of(throttle, "alice", OWNER_IP) == 0


async def test_during_an_attack_the_owner_waits_at_most_the_bounded_delay_after_a_typo(clock):
    throttle = make_throttle(clock, account_delay_s=30)
    await attack(throttle, clock, seconds=120, ips=20)
    await throttle.record_failure("alice", OWNER_IP)

    waited = await wait_of(throttle, "alice", OWNER_IP)
    await attack(throttle, clock, seconds=30, ips=20)

    assert 0 < waited <= 30
    assert await wait_of(throttle, "alice", OWNER_IP) == 0


def test_too_many_attempts_is_a_429_with_retry_after_in_the_error_shape():
    response = domain_error_handler(cast(Any, None), TooManyAttempts(3.2, reason="ip"))

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "4"
    assert response.content["status_code"] == 429
    assert response.content["detail"] == "Too many failed sign-in attempts; retry after 4 s"
