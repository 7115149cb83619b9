"""The dashboard's file serving: hashed assets cached for good, the page for app routes,
nothing outside the build folder, and the platform's own paths never answered with the page."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from inescape.web import routes


@pytest.fixture
def served(tmp_path, monkeypatch):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>dash</title>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("no")
    monkeypatch.setattr(routes, "STATIC_DIR", tmp_path)
    with TestClient(Litestar(route_handlers=[routes.dashboard])) as client:
        yield client


def test_a_hashed_asset_is_javascript_cached_for_a_year(served):
    response = served.get("/assets/index-abc123.js")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("path", ["/", "/patients", "/patients/0192-abc", "/cohort?group=sex"])
def test_an_app_route_gets_the_page_revalidated_each_time(served, path):
    response = served.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "<title>dash</title>" in response.text


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing", "/health/x", "/schema/x", "/cds-services/x", "/metrics/x"]
)
def test_the_platforms_own_paths_are_never_the_page(served, path):
    assert served.get(path).status_code == 404


def test_a_missing_asset_is_a_404_not_the_page(served):
    assert served.get("/assets/index-old.js").status_code == 404


def test_nothing_outside_the_build_folder_is_served(served):
    response = served.get("/%2e%2e/secret.txt")

    assert response.text != "no"
    assert response.headers["content-type"].startswith("text/html")


def test_the_built_dashboard_ships_with_the_package():
    index = routes.STATIC_DIR / "index.html"

    assert index.is_file()
    assert '<script type="module"' in index.read_text()
