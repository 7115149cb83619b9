"""The in-process app fixtures (``client``, ``app_services``) for every test that drives the API."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from inescape import migrate
from inescape.app import create_app
from inescape.modules_loader import load_specs
from tests.support import demo_plugin
from tests.support.auth import bearer
from tests.support.loop import OnLoop


@pytest.fixture
async def client(settings):
    """The whole app (the six modules and the demo plugin) with its lifespan and a worker,
    in process, logged in as an administrator."""
    if settings.database.url:
        migrate.upgrade(settings.database_url)
    app = create_app(settings, [*load_specs(settings.modules), demo_plugin.spec], worker=True)
    async with AsyncTestClient(app) as test_client:
        test_client.headers.update(await bearer(test_client, app, "admin", ["admin"]))
        yield test_client


@pytest.fixture
def app_services(client):
    """The app's services, called on the app's own event loop."""
    return OnLoop(client.app.state.services, client.app.state.runtime.loop)
