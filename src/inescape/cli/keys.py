"""``inescape keys init``: the keys and secrets an installation needs, made once (mode 0600);
``inescape rotate-keys``: re-encrypt stored values under the active key."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from inescape.cli.common import cli_settings, json_option, one_line_errors, report, with_runtime
from inescape.infra.private_files import FILE_MODE, private_folder

if TYPE_CHECKING:
    from inescape.runtime.process import Runtime

# what docker/compose.yaml reads from docker/.env (see docker/README.md)
COMPOSE_SECRETS = ("POSTGRES_PASSWORD", "MONGO_PASSWORD", "REDIS_PASSWORD", "MINIO_ROOT_PASSWORD")


@click.group()
def keys() -> None:
    """The installation's keys."""


@keys.command("init")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("inescape-keys"),
    show_default=True,
    help="Folder for encryption.json, jwt-signing.json and backup-key (made 0700).",
)
@click.option(
    "--helm-values",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a Helm values file that makes the chart create the keys Secret.",
)
@click.option(
    "--compose-env",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also add new passwords and the backup key to a compose .env (existing lines are kept).",
)
@json_option
def keys_init(out: Path, helm_values: Path | None, compose_env: Path | None, as_json: bool) -> None:
    """Make the encryption keys, the JWT signing keys and a backup key, once: files that
    exist are kept, never replaced. Every file written is 0600."""
    from inescape.infra.crypto import generate_key_file
    from inescape.infra.tokens import new_signing_key

    private_folder(out)
    made = {
        "encryption.json": _write_once(out / "encryption.json", lambda: generate_key_file()),
        "jwt-signing.json": _write_once(
            out / "jwt-signing.json",
            lambda: json.dumps({"keys": [new_signing_key().as_dict(private=True)]}),
        ),
        "backup-key": _write_once(out / "backup-key", lambda: _random_base64(32) + "\n"),
    }
    summary: dict[str, Any] = {
        "folder": str(out),
        "files": [{"path": str(out / name), "created": created} for name, created in made.items()],
    }
    lines = [f"{'wrote' if created else 'kept '} {out / name}" for name, created in made.items()]
    if helm_values is not None:
        created = _write_once(helm_values, lambda: _helm_values(out))
        summary["helm_values"] = {"path": str(helm_values), "created": created}
        lines.append(f"{'wrote' if created else 'kept '} {helm_values} (helm install ... -f {helm_values})")
    if compose_env is not None:
        added = _extend_env(compose_env, backup_key=(out / "backup-key").read_text().strip())
        summary["compose_env"] = {"path": str(compose_env), "added": added}
        lines.append(f"{compose_env}: added {', '.join(added) or 'nothing (every value was set)'}")
    lines += [
        "Back these files up apart from the databases: without them encrypted fields cannot be read.",
        "For Kubernetes: kubectl create secret generic inescape-keys "
        f"--from-file={out / 'encryption.json'} --from-file={out / 'jwt-signing.json'}",
    ]
    report(summary, lines, as_json=as_json)


def _random_base64(size: int) -> str:
    return base64.b64encode(secrets.token_bytes(size)).decode()


def _write_once(path: Path, content: Any) -> bool:
    """Create ``path`` with mode 0600 unless it exists; whether it was created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(content())
    return True


def _helm_values(folder: Path) -> str:
    """The chart's ``keys`` block with the files' contents (JSON is valid YAML)."""
    values = {
        "keys": {
            "create": True,
            "encryptionJson": (folder / "encryption.json").read_text(),
            "jwtSigningJson": (folder / "jwt-signing.json").read_text(),
        }
    }
    return (
        "# INEsCape keys: keep this file secret, and out of version control.\n"
        + json.dumps(values, indent=2)
        + "\n"
    )


def _extend_env(path: Path, *, backup_key: str) -> list[str]:
    """Add the compose secrets not set yet in ``path`` (made 0600); the names added."""
    existing = path.read_text() if path.exists() else ""
    present = {line.split("=", 1)[0].strip() for line in existing.splitlines() if "=" in line}
    wanted = {name: secrets.token_urlsafe(24) for name in COMPOSE_SECRETS}
    wanted |= {"MINIO_ROOT_USER": "inescape", "INESCAPE_BACKUP_KEY": backup_key}
    added = {k: v for k, v in wanted.items() if k not in present}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    with os.fdopen(fd, "a") as f:
        if existing and not existing.endswith("\n"):
            f.write("\n")
        f.writelines(f"{k}={v}\n" for k, v in added.items())
    os.chmod(path, FILE_MODE)
    return list(added)


@click.command("rotate-keys")
@click.option("--batch-size", default=500, show_default=True, help="Rows per transaction.")
@click.option("--objects/--no-objects", default=True, help="Also rewrite embedded object files.")
@one_line_errors
def rotate_keys(batch_size: int, objects: bool) -> None:
    """Re-encrypt identifying fields (and embedded objects) under the active key, in short
    batches: safe while the platform serves, and resumable if stopped."""
    from inescape.infra.crypto.column import field_cipher
    from inescape.infra.crypto.rotation import encrypted_tables, rotate
    from inescape.infra.db import metadata
    from inescape.infra.encrypted_storage import EncryptedObjectStore
    from inescape.modules_loader import import_all_models

    import_all_models()

    async def run(runtime: Runtime) -> int:
        services = runtime.platform
        failed = 0
        for table in encrypted_tables(metadata):
            done = await rotate(
                services.db.engine,
                field_cipher(),
                table,
                batch_size=batch_size,
                progress=lambda r: click.echo(f"{r.table}: {r.rotated} so far", err=True),
            )
            click.echo(
                f"{done.table}: {done.rotated} re-encrypted, {done.failed} unreadable, "
                f"{done.changed} changed meanwhile, {done.batches} batches"
            )
            failed += done.failed
        if objects and isinstance(services.storage, EncryptedObjectStore):
            click.echo(f"objects: {await services.storage.rotate()} rewritten")
        return failed

    if asyncio.run(with_runtime(cli_settings(), run)):
        sys.exit(1)
