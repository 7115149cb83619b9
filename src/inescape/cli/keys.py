"""``inescape rotate-keys``: re-encrypt stored values under the active key."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

import click

from inescape.cli.common import cli_settings, one_line_errors, with_runtime

if TYPE_CHECKING:
    from inescape.runtime.process import Runtime


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
            report = await rotate(
                services.db.engine,
                field_cipher(),
                table,
                batch_size=batch_size,
                progress=lambda r: click.echo(f"{r.table}: {r.rotated} so far", err=True),
            )
            click.echo(
                f"{report.table}: {report.rotated} re-encrypted, {report.failed} unreadable, "
                f"{report.changed} changed meanwhile, {report.batches} batches"
            )
            failed += report.failed
        if objects and isinstance(services.storage, EncryptedObjectStore):
            click.echo(f"objects: {await services.storage.rotate()} rewritten")
        return failed

    if asyncio.run(with_runtime(cli_settings(), run)):
        sys.exit(1)
