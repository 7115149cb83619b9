"""Security headers on every response, the docs' own CSP, and CORS only where configured."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from litestar import Litestar, Response, get
from litestar.testing import AsyncTestClient

from inescape.app import create_app
from inescape.infra.web_security import API_CSP, HSTS, SecurityHeaders
from inescape.settings import load_settings

DASHBOARD = "https://dashboard.example"


@asynccontextmanager
async def serving(
    tmp_path: Path, *, base_url: str = "http://testserver.local", **env: str
) -> AsyncIterator[AsyncTestClient]:
    settings = load_settings({"INESCAPE_DATA_DIR": str(tmp_path), **env})
    async with AsyncTestClient(create_app(settings, []), base_url=base_url) as client:
        yield client


def assert_hardened(headers) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-security-policy"] == API_CSP


async def test_a_200_carries_the_security_headers_and_no_hsts_over_plain_http(tmp_path):
    async with serving(tmp_path) as client:
        response = await client.get("/health")

    assert response.status_code == 200
    assert_hardened(response.headers)
    assert API_CSP == "default-src 'none'; frame-ancestors 'none'"
    assert "strict-transport-security" not in response.headers


async def test_a_routing_404_carries_them_too(tmp_path):
    async with serving(tmp_path) as client:
        response = await client.get("/api/no/such/page")  # other paths are the dashboard's

    assert response.status_code == 404
    assert_hardened(response.headers)


async def test_api_responses_are_not_stored(tmp_path):
    async with serving(tmp_path) as client:
        response = await client.get("/api/v1/nothing-here")

    assert response.headers["cache-control"] == "no-store"


async def test_a_request_over_tls_gets_hsts(tmp_path):
    async with serving(tmp_path, base_url="https://testserver.local") as client:
        response = await client.get("/health")

    assert response.headers["strict-transport-security"] == HSTS


async def test_hsts_can_be_turned_off(tmp_path):
    async with serving(tmp_path, base_url="https://testserver.local", INESCAPE_SERVER_HSTS="false") as client:
        response = await client.get("/health")

    assert "strict-transport-security" not in response.headers
    assert response.headers["x-frame-options"] == "DENY"


class AssetOrigins(HTMLParser):
    """Which CSP directive must allow which origin, for each asset a page loads."""

    def __init__(self) -> None:
        super().__init__()
        self.needs: set[tuple[str, str]] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        rel = found.get("rel") or ""
        if tag == "script" and found.get("src"):
            self._need("script-src", found["src"])
        elif tag == "link" and "stylesheet" in rel:
            self._need("style-src", found.get("href"))
        elif tag == "link" and "icon" in rel:
            self._need("img-src", found.get("href"))

    def _need(self, directive: str, url: str | None) -> None:
        parts = urlsplit(url or "")
        if parts.scheme == "https":
            self.needs.add((directive, f"https://{parts.netloc}"))


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
async def test_a_docs_page_gets_a_csp_that_allows_only_its_own_scripts(tmp_path, page):
    async with serving(tmp_path) as client:
        response = await client.get(page)
    assets = AssetOrigins()
    assets.feed(response.text)

    csp = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert response.status_code == 200
    assert assets.needs == set()  # every script and style is served by the platform itself
    assert csp["script-src"] == "'self'"  # no inline script, no eval, no CDN
    assert "<script>" not in response.text
    assert csp["default-src"] == "'none'"
    assert csp["frame-ancestors"] == "'none'"


async def test_headers_a_handler_set_are_kept(tmp_path):
    @get("/api/v1/cached", sync_to_thread=False)
    def cached() -> Response[str]:
        return Response("x", headers={"Cache-Control": "max-age=60", "X-Frame-Options": "SAMEORIGIN"})

    app = Litestar([cached])
    app.asgi_handler = SecurityHeaders(app.asgi_handler)
    async with AsyncTestClient(app) as client:
        response = await client.get("/api/v1/cached")

    assert response.headers["cache-control"] == "max-age=60"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_no_origin_is_allowed_cross_origin_by_default(tmp_path):
    async with serving(tmp_path) as client:
        response = await client.get("/health", headers={"Origin": DASHBOARD})

    assert "access-control-allow-origin" not in response.headers


async def test_a_preflight_from_a_configured_origin_is_allowed(tmp_path):
    async with serving(tmp_path, INESCAPE_SERVER_CORS_ORIGINS=DASHBOARD) as client:
        response = await client.options(
            "/health",
            headers={
                "Origin": DASHBOARD,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "Authorization",
            },
        )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == DASHBOARD
    assert "GET" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_an_origin_not_configured_gets_no_allow_origin(tmp_path):
    async with serving(tmp_path, INESCAPE_SERVER_CORS_ORIGINS=DASHBOARD) as client:
        preflight = await client.options(
            "/health", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
        simple = await client.get("/health", headers={"Origin": "https://evil.example"})

    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


async def test_credentials_are_allowed_only_when_configured(tmp_path):
    async with serving(
        tmp_path, INESCAPE_SERVER_CORS_ORIGINS=DASHBOARD, INESCAPE_SERVER_CORS_ALLOW_CREDENTIALS="true"
    ) as client:
        response = await client.get("/health", headers={"Origin": DASHBOARD})

    assert response.headers["access-control-allow-origin"] == DASHBOARD
    assert response.headers["access-control-allow-credentials"] == "true"
