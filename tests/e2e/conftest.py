from __future__ import annotations

import uuid

import pytest

from tests.support.backends import env_for


@pytest.fixture
def served_env(backend, servers, tmp_path):
    """INESCAPE_* variables for a served process on this backend, database migrated."""
    from tests.support.auth import PASSWORD
    from tests.support.backends import _drop_pg_database
    from tests.support.processes import run_cli

    env = env_for(backend, servers, tmp_path / "data", uuid.uuid4().hex[:10])
    env["INESCAPE_PLUGINS"] = "tests.support.demo_plugin:spec"
    env["INESCAPE_LOG_LEVEL"] = "INFO"
    if backend == "real":
        result = run_cli("migrate", env=env)
        assert result.returncode == 0, result.stderr
    made = run_cli(
        "create-user", "admin", "--role", "admin", "--password-stdin", env=env, stdin=PASSWORD + "\n"
    )
    assert made.returncode == 0, made.stderr
    yield env
    if backend == "real":
        _drop_pg_database(env["INESCAPE_DATABASE_URL"])
