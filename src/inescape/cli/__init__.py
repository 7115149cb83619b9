"""The ``inescape`` command: one group, its commands in a file per family (``serve``: serve,
worker, migrate; ``accounts``: create-user, users, audit; ``generate``: generate, profiles;
``keys``: keys init, rotate-keys; ``fit``: fit-profile; ``backup``: backup, restore; ``demo``)."""

from __future__ import annotations

import click

from inescape import __version__
from inescape.cli import accounts, backup, demo, fit, generate, keys, serve
from inescape.infra.private_files import restrict_umask


@click.group()
@click.version_option(__version__, prog_name="inescape")
def main() -> None:
    """INEsCape: esophageal cancer data platform."""
    restrict_umask()  # what a command writes (database, objects, keys, exports) is 0600 in 0700


for command in (
    serve.serve,
    serve.worker,
    serve.migrate,
    accounts.create_user,
    accounts.users,
    accounts.audit,
    generate.generate,
    generate.profiles,
    generate.calibrate_profile,
    fit.fit_profile,
    keys.keys,
    keys.rotate_keys,
    backup.backup,
    backup.restore,
    demo.demo,
):
    main.add_command(command)
