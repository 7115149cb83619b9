"""Rate limits at the HTTP edge: 429 in the error shape with Retry-After, RateLimit-* headers,
health and metrics never limited, limits per IP and per user, and a down limiter."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from inescape.app import create_app
from inescape.infra.ratelimit.backends import MemoryRateLimiter, RedisRateLimiter
from inescape.infra.ratelimit.gcra import Decision, RateLimiter
from inescape.infra.ratelimit.middleware import RateLimitMiddleware
from inescape.infra.ratelimit.rules import parse_rate_limits
from inescape.kernel.errors import Unavailable
from inescape.modules_loader import load_specs
from inescape.settings import load_settings

JOBS = "/api/v1/cds/jobs"


def header(scope: Any, name: bytes) -> str | None:
    return next((v.decode() for k, v in scope["headers"] if k == name), None)


def fake_peer_ip(scope: Any) -> str:
    """The test client has one address; this header stands in for the ASGI peer address."""
    return header(scope, b"x-test-ip") or "192.0.2.1"


def fake_user(scope: Any) -> str | None:
    return header(scope, b"x-test-user")


AppFactory = Callable[..., Litestar]


@pytest.fixture
def make_app(tmp_path) -> AppFactory:
    def make(rules: str, limiter: RateLimiter | None = None) -> Litestar:
        # the app's own limiter off; this one, with a fake peer address, takes its place
        env = {"INESCAPE_DATA_DIR": str(tmp_path), "INESCAPE_RATE_LIMITS": ""}
        app = create_app(load_settings(env), load_specs(["cds"]))
        # RequestObservability, then CanonicalPath: the limiter goes inside both
        canonical = app.asgi_handler.app  # type: ignore[attr-defined]
        canonical.app = RateLimitMiddleware(
            canonical.app,
            limiter or MemoryRateLimiter(),
            parse_rate_limits(rules),
            identity=fake_user,
            client_ip=fake_peer_ip,
        )
        return app

    return make


@pytest.fixture
async def client(make_app) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(make_app("api=3/60,default=1/60")) as test_client:
        yield test_client


async def test_the_request_past_the_limit_gets_429_in_the_error_shape_with_retry_after(client):
    allowed = [await client.get(JOBS) for _ in range(3)]

    refused = await client.get(JOBS)

    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert refused.status_code == 429
    body = refused.json()
    assert body["status_code"] == 429
    assert body["detail"] == "Too many requests; retry after 20 s"
    assert body["request_id"] == refused.headers["x-request-id"]
    assert refused.headers["retry-after"] == "20"
    assert refused.headers["ratelimit-remaining"] == "0"


async def test_allowed_responses_carry_the_ratelimit_headers(client):
    responses = [await client.get(JOBS) for _ in range(3)]

    assert [r.headers["ratelimit-limit"] for r in responses] == ["3", "3", "3"]
    assert [r.headers["ratelimit-remaining"] for r in responses] == ["2", "1", "0"]
    assert [r.headers["ratelimit-reset"] for r in responses] == ["20", "40", "60"]
    assert "retry-after" not in responses[0].headers


async def test_health_and_metrics_are_never_limited(client):
    responses = [await client.get(path) for path in ["/health", "/health/detailed", "/metrics"] * 4]

    assert {r.status_code for r in responses} == {200}
    assert not any("ratelimit-limit" in r.headers for r in responses)


async def test_paths_outside_the_api_use_the_default_group(client):
    first = await client.get("/schema/openapi.json")
    second = await client.get("/schema/openapi.json")

    assert first.status_code == 200
    assert first.headers["ratelimit-limit"] == "1"
    assert second.status_code == 429


async def test_two_client_ips_are_limited_separately(client):
    for _ in range(3):
        await client.get(JOBS, headers={"x-test-ip": "198.51.100.1"})

    blocked = await client.get(JOBS, headers={"x-test-ip": "198.51.100.1"})
    other = await client.get(JOBS, headers={"x-test-ip": "198.51.100.2"})

    assert blocked.status_code == 429
    assert other.status_code == 200
    assert other.headers["ratelimit-remaining"] == "2"


@pytest.mark.parametrize(
    "path",
    [
        "//api/v1/auth/token",
        "/api//v1///auth/token",
        "/api/v1/auth%2Ftoken",
        "/api/v1/auth%2F%2Ftoken",
    ],
)
async def test_a_path_spelled_with_extra_or_encoded_slashes_spends_the_same_quota(make_app, path):
    login = {"username": "a", "password": "b"}
    async with AsyncTestClient(make_app("login=2/60,api=100/60")) as client:
        plain = [await client.post("/api/v1/auth/token", json=login) for _ in range(2)]
        # an absolute URL keeps a leading "//" a path, not a host
        odd = await client.post(f"{client.base_url}{path}", json=login)

    assert [r.headers["ratelimit-remaining"] for r in plain] == ["1", "0"]
    assert odd.status_code == 429
    assert odd.json()["status_code"] == 429


# encoded, as the HTTP client would resolve plain dot segments itself; the server decodes them
@pytest.mark.parametrize(
    "path", ["/api/v1/%2e/auth/token", "/api/v1/x/%2e%2e/auth/token", "/api/v1/auth/%2E%2E/token"]
)
async def test_a_path_with_dot_segments_is_refused_before_any_route(make_app, path):
    async with AsyncTestClient(make_app("login=100/60")) as client:
        response = await client.post(f"{client.base_url}{path}", json={"username": "a", "password": "b"})

    assert response.status_code == 400
    assert response.json()["detail"] == "The request path has a '.' or '..' segment; no route has one."
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_the_app_limits_a_doubled_slash_with_its_own_limiter(tmp_path):
    """Without the test's limiter: the app's own rules, counted on the canonical path."""
    env = {"INESCAPE_DATA_DIR": str(tmp_path), "INESCAPE_RATE_LIMITS": "login=1/60,api=100/60,default=100/60"}
    login = {"username": "a", "password": "b"}
    async with AsyncTestClient(create_app(load_settings(env), load_specs(["cds"]))) as client:
        first = await client.post(f"{client.base_url}//api/v1/auth/token", json=login)
        second = await client.post(f"{client.base_url}//api/v1/auth/token", json=login)

    assert first.headers["ratelimit-limit"] == "1"
    assert second.status_code == 429


async def test_identified_users_behind_one_ip_have_their_own_quota(client):
    for _ in range(3):
        await client.get(JOBS, headers={"x-test-user": "alice"})

    alice = await client.get(JOBS, headers={"x-test-user": "alice"})
    bob = await client.get(JOBS, headers={"x-test-user": "bob"})
    anonymous = await client.get(JOBS)

    assert alice.status_code == 429
    assert bob.status_code == 200
    assert anonymous.status_code == 200


async def test_a_user_keeps_one_quota_across_ips(client):
    for n in range(3):
        await client.get(JOBS, headers={"x-test-user": "alice", "x-test-ip": f"198.51.100.{n}"})

    refused = await client.get(JOBS, headers={"x-test-user": "alice", "x-test-ip": "198.51.100.9"})

    assert refused.status_code == 429


async def test_a_down_limiter_lets_the_api_through_but_refuses_login(make_app, caplog):
    down = RedisRateLimiter.from_url("redis://127.0.0.1:1/0")
    app = make_app("api=1/60,login=1/60", limiter=down)
    caplog.set_level(logging.WARNING, logger="inescape.ratelimit")

    async with AsyncTestClient(app) as client:
        api = [await client.get(JOBS) for _ in range(3)]
        login = await client.post("/api/v1/auth/token", json={"username": "a", "password": "b"})

    assert [r.status_code for r in api] == [200, 200, 200]
    assert login.status_code == 503
    assert login.json()["status_code"] == 503
    assert login.headers["retry-after"] == "5"
    assert [r.message for r in caplog.records].count("rate limiter unavailable") == 1


class DownLimiter:
    """A limiter whose backend is down, counting how often it is asked."""

    backend = "redis"

    def __init__(self) -> None:
        self.calls = 0

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        self.calls += 1
        raise Unavailable("down", backend="redis")

    peek = hit

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


async def test_a_down_limiter_is_not_asked_again_on_every_request(make_app):
    down = DownLimiter()

    async with AsyncTestClient(make_app("api=1/60", limiter=down)) as client:
        responses = [await client.get(JOBS) for _ in range(5)]

    assert [r.status_code for r in responses] == [200] * 5
    assert down.calls == 1
