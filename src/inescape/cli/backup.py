"""``inescape backup`` and ``inescape restore``: progress bars on stderr and the summary; the
work itself is ``inescape.ops.backup``'s (imported when a command runs)."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import click

from inescape.cli.common import cli_settings, one_line_errors
from inescape.settings import Settings

if TYPE_CHECKING:
    from inescape.ops.backup.targets import Target


@click.command()
@click.option("--to", "location", required=True, help="A new folder, or s3://bucket/prefix.")
@click.option("--pg-bin", default=None, help="Folder holding pg_dump (default: the server's version).")
@one_line_errors
def backup(location: str, pg_bin: str | None) -> None:
    """Back up the database, documents and objects, encrypted (INESCAPE_BACKUP_KEY, else the
    active encryption key)."""
    import os

    from inescape.kernel.errors import DomainError

    try:
        lines = run_backup(
            cli_settings(), location, backup_key=os.environ.get("INESCAPE_BACKUP_KEY"), pg_bin=pg_bin
        )
    except DomainError as exc:
        click.echo(f"inescape: {exc.detail}", err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)


@click.command()
@click.option("--from", "location", required=True, help="A backup folder, or s3://bucket/prefix.")
@click.option("--pg-bin", default=None, help="Folder holding pg_restore (default: the server's version).")
@one_line_errors
def restore(location: str, pg_bin: str | None) -> None:
    """Restore a backup into an empty installation; every checksum is verified first."""
    import os

    from inescape.kernel.errors import DomainError

    try:
        lines = run_restore(
            cli_settings(), location, backup_key=os.environ.get("INESCAPE_BACKUP_KEY"), pg_bin=pg_bin
        )
    except DomainError as exc:
        click.echo(f"inescape: {exc.detail}", err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)


class ClickReporter:
    """A progress bar per part on stderr; a part of unknown size shows its label and total."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._label, self._done = "", 0

    def begin(self, label: str, total: int) -> None:
        self._label, self._done = label, 0
        if total > 0:
            self._bar = click.progressbar(length=total, label=label.ljust(28), file=sys.stderr)
            self._bar.__enter__()

    def advance(self, amount: int) -> None:
        self._done += amount
        if self._bar is not None:
            self._bar.update(amount)

    def end(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        else:
            click.echo(f"{self._label.ljust(28)} {self._done:,}", err=True)


def _target(location: str, settings: Settings) -> Target:
    from inescape.ops.backup.targets import open_target

    client = None
    if location.startswith("s3://"):
        import boto3

        client = boto3.client("s3", endpoint_url=settings.s3.endpoint_url, region_name=settings.s3.region)
    return open_target(location, s3_client=client)


def run_backup(settings: Settings, location: str, *, backup_key: str | None, pg_bin: str | None) -> list[str]:
    from inescape import __version__
    from inescape.ops import backup as ops
    from inescape.ops.backup.crypto import backup_key_from

    async def go() -> dict[str, Any]:
        inst = ops.open_installation(settings, create_keys=True, pg_bin_dir=pg_bin)
        try:
            key = backup_key_from(backup_key, inst.ring)
            return await ops.backup(
                inst, _target(location, settings), key, app_version=__version__, reporter=ClickReporter()
            )
        finally:
            await ops.close_installation(inst)

    manifest = asyncio.run(go())
    lines = [f"backup written to {location} (key {manifest['key_id']})"]
    for part in manifest["parts"]:
        counted = sum(part["counts"].values())
        lines.append(
            f"  {part['name']}: {part['bytes']:,} bytes, {counted:,} items, sha256 {part['sha256'][:16]}"
        )
    return lines


def run_restore(
    settings: Settings, location: str, *, backup_key: str | None, pg_bin: str | None
) -> list[str]:
    from inescape.ops import backup as ops
    from inescape.ops.backup.crypto import backup_key_from

    async def go() -> list[str]:
        inst = ops.open_installation(settings, create_keys=False, pg_bin_dir=pg_bin)
        try:
            dedicated = backup_key_from(backup_key, None) if backup_key else None
            return await ops.restore(
                inst, _target(location, settings), dedicated=dedicated, reporter=ClickReporter()
            )
        finally:
            await ops.close_installation(inst)

    return [f"restored from {location}", *(f"  {line}" for line in asyncio.run(go()))]
