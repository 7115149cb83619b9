"""Bad configuration stops start-up with one line naming the setting, and a non-zero exit."""

from __future__ import annotations

import pytest

from tests.support.backends import encryption_env
from tests.support.processes import free_port, run_cli


def closed_port_url(scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{free_port()}"


CASES = [
    (
        {"INESCAPE_DATABASE_URL": "postgresql://x@127.0.0.1:5432/db"},
        "INESCAPE_ENCRYPTION_KEYS",
        "",  # production needs its keys supplied; the message says how
    ),
    (
        {"INESCAPE_DATABASE_URL": closed_port_url("postgresql") + "/db", **encryption_env()},
        "INESCAPE_DATABASE_URL",
        "cannot reach the database",
    ),
    ({"INESCAPE_DATABASE_URL": "mysql://x@h/db"}, "INESCAPE_DATABASE_URL", "expected a URL"),
    ({"INESCAPE_REDIS_URL": closed_port_url("redis")}, "INESCAPE_REDIS_URL", "cannot reach"),
    ({"INESCAPE_MONGODB_URL": closed_port_url("mongodb")}, "INESCAPE_MONGODB_URL", "cannot reach"),
    ({"INESCAPE_S3_ENDPOINT_URL": closed_port_url("http")}, "INESCAPE_S3_ENDPOINT_URL", "cannot"),
    ({"INESCAPE_SERVER_PORT": "eighty"}, "INESCAPE_SERVER_PORT", "expected int"),
    ({"INESCAPE_JOBS_LEASE_SECONDS": "-1"}, "INESCAPE_JOBS_LEASE_SECONDS", "positive"),
    ({"INESCAPE_LOG_LEVEL": "chatty"}, "INESCAPE_LOG_LEVEL", "expected DEBUG"),
    ({"INESCAPE_MODULES": "cds,oncology"}, "INESCAPE_MODULES", "unknown module 'oncology'"),
    ({"INESCAPE_PLUGINS": "no.such.module:spec"}, "INESCAPE_PLUGINS", "cannot load"),
    (
        {"INESCAPE_AUTH_PASSWORD_MEMORY_KIB": "4096", "INESCAPE_AUTH_PASSWORD_TIME_COST": "1"},
        "INESCAPE_AUTH_PASSWORD_MEMORY_KIB",
        "below OWASP's minimum",
    ),
]


@pytest.mark.parametrize(
    ("env", "setting", "problem"),
    CASES,
    ids=[c[1].removeprefix("INESCAPE_").lower() + f"-{i}" for i, c in enumerate(CASES)],
)
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_bad_configuration_stops_start_up_with_one_line_naming_the_setting(
    tmp_path, command, env, setting, problem
):
    # an unreachable backend is refused after the first probe (the wait is tested on its own)
    env = {"INESCAPE_DATA_DIR": str(tmp_path), "INESCAPE_STARTUP_WAIT_S": "0", **env}
    result = run_cli(command, env=env, timeout=60)

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "configuration error" in line]
    assert len(errors) == 1, result.stderr
    assert setting in errors[0]
    assert problem in errors[0]
    assert "Traceback" not in result.stderr


def test_an_unmigrated_postgresql_database_says_to_run_migrate(tmp_path, servers):
    if servers is None:
        pytest.skip("needs the real PostgreSQL")
    from tests.support.backends import _drop_pg_database, _fresh_pg_database

    url = _fresh_pg_database(servers.postgres, f"t_unmigrated_{free_port()}")
    try:
        env = {"INESCAPE_DATA_DIR": str(tmp_path), "INESCAPE_DATABASE_URL": url, **encryption_env()}
        result = run_cli("serve", env=env)
    finally:
        _drop_pg_database(url)

    assert result.returncode == 2
    assert "INESCAPE_DATABASE_URL" in result.stderr
    assert "inescape migrate" in result.stderr
