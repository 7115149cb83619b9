"""Shared fixtures. One suite, two backends: every test that takes ``backend`` runs on the
embedded defaults and on the real servers (PostgreSQL, Redis, MongoDB wire, S3) that
``.ci/run`` starts. Without those servers the real half skips, unless
``INESCAPE_TEST_REAL=required`` (CI), where a missing server fails the run."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from tests.support.backends import FAST_PASSWORDS, RealServers, real_servers, settings_for

for _name, _value in FAST_PASSWORDS.items():
    os.environ.setdefault(_name, _value)

# A property's examples take milliseconds, but on a crowded machine a garbage collection or a
# descheduled worker can stall one past Hypothesis's 200 ms deadline: speed is not the property.
hypothesis_settings.register_profile("inescape", deadline=None)
hypothesis_settings.load_profile("inescape")

pytest_plugins = [
    "tests.support.app_client",  # the in-process app: ``client``, ``app_services``
    "tests.support.replay",  # ``replay_sources_allowed``: collection may reach the replay servers
]

REAL_REQUIRED = os.environ.get("INESCAPE_TEST_REAL", "").lower() == "required"


@pytest.fixture(scope="session")
def servers() -> RealServers | None:
    found = real_servers()
    if found is None and REAL_REQUIRED:
        pytest.fail(
            "INESCAPE_TEST_REAL=required but INESCAPE_TEST_{POSTGRES,REDIS,MONGODB}_URL "
            "and INESCAPE_TEST_S3_ENDPOINT_URL are not all set: run .ci/run",
            pytrace=False,
        )
    return found


@pytest.fixture(params=["embedded", "real"])
def backend(request: pytest.FixtureRequest, servers: RealServers | None) -> str:
    if request.param == "real":
        if servers is None:
            pytest.skip("real servers not running (set INESCAPE_TEST_REAL=required to fail)")
        request.applymarker(pytest.mark.real)
    return str(request.param)


@pytest.fixture
def settings(backend: str, servers: RealServers | None, tmp_path: Path):
    """Settings isolated per test: fresh data dir, PostgreSQL database, Redis db namespace,
    Mongo database and S3 bucket prefix."""
    with settings_for(backend, servers, tmp_path, uuid.uuid4().hex[:10]) as s:
        yield s


@pytest.fixture
async def runtime(settings) -> AsyncIterator:
    from inescape import migrate
    from inescape.runtime import Runtime

    rt = Runtime(settings, specs=[])
    if rt.services.db.backend == "postgresql":
        migrate.upgrade(settings.database_url)
    await rt.start(worker=False)
    try:
        yield rt
    finally:
        await rt.stop()


@pytest.fixture
def services(runtime):
    return runtime.services


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("INESCAPE_") and not key.startswith("INESCAPE_TEST_"):
            monkeypatch.delenv(key)
    return
