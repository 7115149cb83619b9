"""Users and tokens for tests, made the way an operator would (accounts service, login API)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

PASSWORD = "correct horse battery staple 42"


def on_app_loop(app: Any, coro: Any) -> Any:
    """Run ``coro`` on the app's event loop (the test client runs it in another thread)."""
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, app.state.runtime.loop))


def gateway_of(app: Any) -> Any:
    """The app's bound gateway (the ``Gateway`` behind ``GatewayApi``: tests may use its
    ``accounts``, ``sessions``, ``signer`` and audit ``trail``)."""
    from inescape.modules.auth.api import GatewayApi

    return app.state.runtime.facade(GatewayApi)


async def make_user(app: Any, username: str, roles: list[str], password: str = PASSWORD) -> str:
    accounts = gateway_of(app).accounts

    async def create() -> str:
        user = await accounts.create(
            username=username, display_name=username.title(), roles=roles, password=password
        )
        return str(user.id)

    return await on_app_loop(app, create())


async def login(client: Any, username: str, password: str = PASSWORD) -> dict[str, Any]:
    response = await client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


async def bearer(client: Any, app: Any, username: str, roles: list[str]) -> dict[str, str]:
    await make_user(app, username, roles)
    tokens = await login(client, username)
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def http_bearer(base_url: str, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Log in to a served process over HTTP."""
    response = httpx.post(
        f"{base_url}/api/v1/auth/token", timeout=10, json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
