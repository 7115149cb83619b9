"""``inescape backup`` / ``restore``: a filled installation comes back identical in a fresh one;
a non-empty target, a tampered file and a wrong key are refused with nothing written."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from inescape import migrate
from inescape.cli import main
from inescape.infra.storage import BUCKETS
from inescape.ops.backup import data, sql
from inescape.ops.backup.backing_up import backup
from inescape.ops.backup.crypto import BackupCorrupt, BackupKeyMismatch, backup_key_from
from inescape.ops.backup.installation import RestoreRefused, close_installation, open_installation
from inescape.ops.backup.restoring import restore
from inescape.ops.backup.targets import DirectoryTarget, S3Target, Target
from inescape.settings import Settings, load_settings
from tests.support.backends import RealServers, _drop_mongo_database, _drop_pg_database, env_for

KEY_VARS = ("INESCAPE_ENCRYPTION_KEYS", "INESCAPE_ENCRYPTION_HMAC_KEY")
BIG = os.urandom(2_500_000)  # spans several frames and sealed chunks


@contextlib.contextmanager
def installation(
    backend: str, servers: RealServers | None, folder: Path, *, keys_from: dict[str, str] | None = None
) -> Iterator[tuple[Settings, dict[str, str]]]:
    """A fresh installation (new data dir; new database, Mongo database and bucket prefix on
    real servers), optionally sharing another's encryption keys."""
    env = env_for(backend, servers, folder, uuid.uuid4().hex[:10])
    if keys_from is not None:
        env |= {k: v for k, v in keys_from.items() if k in KEY_VARS}
        source_keys = Path(keys_from["INESCAPE_DATA_DIR"]) / "keys" / "encryption.json"
        if backend == "embedded" and source_keys.exists():
            (folder / "keys").mkdir(parents=True)
            shutil.copy2(source_keys, folder / "keys" / "encryption.json")
    try:
        yield load_settings(env), env
    finally:
        if backend == "real":
            _drop_pg_database(env["INESCAPE_DATABASE_URL"])
            _drop_mongo_database(env["INESCAPE_MONGODB_URL"], env["INESCAPE_MONGODB_DATABASE"])


def fill(settings: Settings) -> None:
    if settings.database.url:
        migrate.upgrade(settings.database_url)
    asyncio.run(_fill_documents_and_objects(settings))


async def _fill_documents_and_objects(settings: Settings) -> None:
    from inescape.modules.auth.api import GatewayApi
    from inescape.modules.generation.api import GenerationApi
    from inescape.runtime import Runtime

    runtime = Runtime(settings)
    await runtime.start(worker=False)
    services = runtime.services
    try:
        await runtime.facade(GenerationApi).load_cohort(profile="global", n=25, seed=3)
        for i in range(3):
            await runtime.facade(GatewayApi).record(
                action="patients.read",
                outcome="success",
                user="alice",
                resource_type="patient",
                resource_id=str(i),
            )
        for i in range(2):
            meta = {"id": f"ds-{i}", "name": f"cohort {i}", "rows": 25 + i, "tables": ["patients", "stages"]}
            await services.documents.insert("dataset_metadata", meta)
            await services.storage.put(
                "datasets", f"generation/dataset/ds-{i}/cohort.csv", b"id,stage\n1,III\n" * i
            )
        await services.storage.put("datasets", "generation/dataset/ds-big/cohort.parquet", BIG)
    finally:
        await runtime.stop()


def snapshot(settings: Settings) -> dict[str, Any]:
    """Row count and checksum of every table, every collection and every object."""

    async def take() -> dict[str, Any]:
        inst = open_installation(settings, create_keys=False)
        try:
            found: dict[str, Any] = {}
            counts = await asyncio.to_thread(sql.table_counts, inst.database_url, inst.db.backend)
            async with inst.db.engine.connect() as conn:
                for table in counts:
                    name = table if "." in table else f'"{table}"'
                    rows = sorted(
                        repr(tuple(r)) for r in await conn.execute(sa.text(f"SELECT * FROM {name}"))
                    )
                    found[f"table {table}"] = (len(rows), _sha(rows))
            for collection in await data.collections(inst.documents, inst.db):
                docs = await inst.documents.find(collection, {}, sort=[("id", 1)], limit=100_000)
                found[f"collection {collection}"] = (len(docs), _sha([repr(sorted(d.items())) for d in docs]))
            for bucket in BUCKETS:
                for key in await inst.storage.list(bucket):
                    found[f"object {bucket}/{key}"] = hashlib.sha256(
                        await inst.storage.get(bucket, key)
                    ).hexdigest()
            return found
        finally:
            await close_installation(inst)

    return asyncio.run(take())


def _sha(lines: list[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def target_for(backend: str, servers: RealServers | None, folder: Path) -> Target:
    if backend == "embedded":
        return DirectoryTarget(folder)
    assert servers is not None
    client = boto3.client("s3", endpoint_url=servers.s3, region_name="us-east-1")
    bucket = f"backups-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    return S3Target(client, bucket, "nightly/2026-01-01")


def run_backup(settings: Settings, target: Target, backup_key: str | None = None) -> dict[str, Any]:
    async def go() -> dict[str, Any]:
        inst = open_installation(settings, create_keys=False)
        try:
            return await backup(inst, target, backup_key_from(backup_key, inst.ring), app_version="test")
        finally:
            await close_installation(inst)

    return asyncio.run(go())


def run_restore(settings: Settings, target: Target, backup_key: str | None = None) -> list[str]:
    async def go() -> list[str]:
        inst = open_installation(settings, create_keys=False)
        try:
            dedicated = backup_key_from(backup_key, None) if backup_key else None
            return await restore(inst, target, dedicated=dedicated)
        finally:
            await close_installation(inst)

    return asyncio.run(go())


@pytest.fixture
def source(
    backend: str, servers: RealServers | None, tmp_path: Path
) -> Iterator[tuple[Settings, dict[str, str]]]:
    with installation(backend, servers, tmp_path / "source") as (settings, env):
        fill(settings)
        yield settings, env


def is_empty(settings: Settings) -> bool:
    """No row, document or object (read only: a missing SQLite file stays missing)."""

    async def look() -> bool:
        inst = open_installation(settings, create_keys=False)
        try:
            rows = await asyncio.to_thread(sql.table_counts, inst.database_url, inst.db.backend)
            docs = await data.nonempty_collections(inst.documents, inst.db)
            objects = await data.nonempty_buckets(inst.storage)
            return not any(rows.values()) and not docs and not objects
        finally:
            await close_installation(inst)

    return asyncio.run(look())


def test_a_restored_backup_is_identical_to_its_source(backend, servers, source, tmp_path):
    settings, env = source
    before = snapshot(settings)
    target = target_for(backend, servers, tmp_path / "backup")

    manifest = run_backup(settings, target)
    with installation(backend, servers, tmp_path / "fresh", keys_from=env) as (fresh, _):
        summary = run_restore(fresh, target)
        after = snapshot(fresh)

    assert after == before
    assert before["table patients" if backend == "embedded" else "table public.patients"][0] == 25
    assert any(k.startswith("collection audit_logs") for k in before)
    assert (
        before["object datasets/generation/dataset/ds-big/cohort.parquet"] == hashlib.sha256(BIG).hexdigest()
    )
    parts = {p["name"]: p for p in manifest["parts"]}
    assert set(parts) == {"database", "documents", "objects", "objects-index"}
    assert parts["objects"]["counts"]["datasets"] == 3
    assert parts["documents"]["counts"]["dataset_metadata"] == 3  # the loaded cohort's record and two more
    assert manifest["migration_revision"] == migrate.current(settings.database_url)
    assert any(line.startswith("objects: 3") for line in summary)


def test_restore_into_a_non_empty_installation_is_refused_and_changes_nothing(
    backend, servers, source, tmp_path
):
    settings, _ = source
    target = target_for(backend, servers, tmp_path / "backup")
    run_backup(settings, target)
    before = snapshot(settings)

    with pytest.raises(RestoreRefused, match="non-empty installation") as refused:
        run_restore(settings, target)

    assert "rows)" in refused.value.detail
    assert "a new, empty one" in refused.value.detail
    assert snapshot(settings) == before


def test_a_tampered_backup_file_is_refused_and_nothing_is_written(backend, servers, source, tmp_path):
    settings, env = source
    folder = tmp_path / "backup"
    run_backup(settings, DirectoryTarget(folder))
    sealed = folder / "objects.bin.enc"
    raw = bytearray(sealed.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    sealed.write_bytes(bytes(raw))

    with installation(backend, servers, tmp_path / "fresh", keys_from=env) as (fresh, _):
        with pytest.raises(BackupCorrupt, match="objects"):
            run_restore(fresh, DirectoryTarget(folder))
        assert is_empty(fresh)
        if backend == "embedded":
            assert not (tmp_path / "fresh" / "inescape.db").exists()


def test_a_wrong_backup_key_is_refused_and_nothing_is_written(backend, servers, source, tmp_path):
    settings, env = source
    key, other = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    run_backup(settings, DirectoryTarget(tmp_path / "backup"), backup_key=key)

    with installation(backend, servers, tmp_path / "fresh", keys_from=env) as (fresh, _):
        with pytest.raises(BackupKeyMismatch, match="wrong INESCAPE_BACKUP_KEY"):
            run_restore(fresh, DirectoryTarget(tmp_path / "backup"), backup_key=other)
        with pytest.raises(BackupKeyMismatch, match="set it"):
            run_restore(fresh, DirectoryTarget(tmp_path / "backup"))
        assert is_empty(fresh)
        summary = run_restore(fresh, DirectoryTarget(tmp_path / "backup"), backup_key=key)
    assert summary[0].startswith("database:")


@pytest.mark.parametrize("backend", ["embedded"])
def test_the_cli_backs_up_with_progress_and_restores_with_a_summary(backend, servers, source, tmp_path):
    _settings, env = source
    folder = tmp_path / "backup"
    runner = CliRunner()
    keep = {k: None for k in os.environ if k.startswith("INESCAPE_") and not k.startswith("INESCAPE_TEST_")}

    made = runner.invoke(main, ["backup", "--to", str(folder)], env=keep | env)
    again = runner.invoke(main, ["backup", "--to", str(folder)], env=keep | env)
    into_source = runner.invoke(main, ["restore", "--from", str(folder)], env=keep | env)
    with installation(backend, servers, tmp_path / "fresh", keys_from=env) as (_, fresh_env):
        restored = runner.invoke(main, ["restore", "--from", str(folder)], env=keep | fresh_env)

    assert made.exit_code == 0, made.output
    assert "objects (local)" in made.stderr
    assert "backup written to" in made.stdout
    assert again.exit_code == 1
    assert "holds a backup already" in again.stderr
    assert into_source.exit_code == 1
    assert "non-empty installation" in into_source.stderr
    assert restored.exit_code == 0, restored.output
    assert "objects: 3" in restored.stdout
    assert "verifying database" in restored.stderr
