"""Where the real servers are, and settings that isolate one test on them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from inescape.settings import Settings, load_settings


@dataclass(frozen=True)
class RealServers:
    postgres: str
    redis: str
    mongodb: str
    s3: str


def real_servers() -> RealServers | None:
    env = os.environ
    keys = (
        "INESCAPE_TEST_POSTGRES_URL",
        "INESCAPE_TEST_REDIS_URL",
        "INESCAPE_TEST_MONGODB_URL",
        "INESCAPE_TEST_S3_ENDPOINT_URL",
    )
    if not all(env.get(k) for k in keys):
        return None
    return RealServers(*(env[k] for k in keys))


def encryption_env() -> dict[str, str]:
    """Fresh keys, as production passes them (the embedded default makes its own file)."""
    import json

    from inescape.infra.crypto.keyring import KeyRing

    ring = json.loads(KeyRing.generate().to_json())
    keys = ",".join(f"{kid}:{key}" for kid, key in ring["keys"].items())
    return {"INESCAPE_ENCRYPTION_KEYS": keys, "INESCAPE_ENCRYPTION_HMAC_KEY": ring["hmac_key"]}


# argon2id at OWASP's minimum, not the default's 64 MiB and 3 passes: nearly every test makes
# accounts and logs in, and a hash at the default cost takes a tenth of a second here. Served
# processes get these with the rest of ``env_for``; the in-process app reads module settings
# from the environment, where tests/conftest.py puts them.
FAST_PASSWORDS = {"INESCAPE_AUTH_PASSWORD_MEMORY_KIB": "19456", "INESCAPE_AUTH_PASSWORD_TIME_COST": "2"}


def env_for(backend: str, servers: RealServers | None, data_dir: Path, tag: str) -> dict[str, str]:
    """The INESCAPE_* variables a test process (or a served subprocess) runs with."""
    env = {
        "INESCAPE_DATA_DIR": str(data_dir),
        "INESCAPE_LOG_LEVEL": "WARNING",
        "INESCAPE_JOBS_LEASE_SECONDS": "2",
    } | FAST_PASSWORDS
    if backend == "real":
        assert servers is not None
        env |= {
            "INESCAPE_DATABASE_URL": _fresh_pg_database(servers.postgres, f"t_{tag}"),
            "INESCAPE_REDIS_URL": worker_redis(servers.redis),
            "INESCAPE_REDIS_QUEUE_NAMESPACE": f"inescape-t-{tag}",
            "INESCAPE_MONGODB_URL": servers.mongodb,
            "INESCAPE_MONGODB_DATABASE": f"t_{tag}",
            "INESCAPE_S3_ENDPOINT_URL": servers.s3,
            "INESCAPE_S3_BUCKET_PREFIX": f"t-{tag}-",
        } | encryption_env()
    return env


def worker_redis(url: str) -> str:
    """One Redis database per test worker: a test's teardown deletes the platform's keys in its
    database, which must not be keys another worker's test is using at that moment."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw-1")
    index = (int(worker.removeprefix("gw")) + 1) % 16  # Redis has 16 databases unless configured
    base, _, last = url.rstrip("/").rpartition("/")
    return f"{base}/{index}" if last.isdigit() else f"{url.rstrip('/')}/{index}"


@contextlib.contextmanager
def settings_for(backend: str, servers: RealServers | None, data_dir: Path, tag: str) -> Iterator[Settings]:
    env = env_for(backend, servers, data_dir, tag)
    settings = load_settings(env)
    try:
        yield settings
    finally:
        if backend == "real":
            _drop_pg_database(env["INESCAPE_DATABASE_URL"])
            _flush_redis_namespace(env["INESCAPE_REDIS_URL"])
            _drop_mongo_database(env["INESCAPE_MONGODB_URL"], env["INESCAPE_MONGODB_DATABASE"])


def _admin(url: str):  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def _fresh_pg_database(server_url: str, name: str) -> str:
    with _admin(server_url) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


def _drop_pg_database(url: str) -> None:
    base, _, name = url.rpartition("/")
    with contextlib.suppress(Exception), _admin(f"{base}/postgres") as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _flush_redis_namespace(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    with contextlib.suppress(Exception):
        keys = list(client.scan_iter("inescape*"))
        if keys:
            client.delete(*keys)
    client.close()


def _drop_mongo_database(url: str, name: str) -> None:
    import pymongo

    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=2000)
    with contextlib.suppress(Exception):
        client.drop_database(name)
    client.close()
