"""``inescape create-user`` and ``inescape audit verify``: accounts and the audit trail."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import click

from inescape.cli.common import cli_settings, one_line_errors, with_runtime

if TYPE_CHECKING:
    from inescape.modules.auth.api import User
    from inescape.runtime.process import Runtime


@click.command("create-user")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(("admin", "clinician", "researcher", "data_steward", "auditor")),
    help="A role (repeatable).",
)
@click.option("--display-name", default=None, help="Full name (default: the username).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@one_line_errors
def create_user(
    username: str, roles: tuple[str, ...], display_name: str | None, password_stdin: bool
) -> None:
    """Create a user account (the first administrator, or any user from a script)."""
    from inescape.kernel.errors import DomainError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = cli_settings()

    async def create(runtime: Runtime) -> User:
        from inescape.modules.auth.api import GatewayApi

        return await runtime.facade(GatewayApi).create_user(
            username=username,
            display_name=display_name or username,
            roles=list(roles),
            password=password,
            by="cli",
        )

    try:
        user = asyncio.run(with_runtime(settings, create))
    except DomainError as exc:
        click.echo(f"inescape: {exc.detail}", err=True)
        sys.exit(1)
    click.echo(f"inescape: created {user.username} ({', '.join(user.roles)}), id {user.id}")


@click.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@one_line_errors
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming the first deleted, altered or reordered event."""

    async def verify(runtime: Runtime) -> Any:
        from inescape.modules.auth.api import GatewayApi

        return await runtime.facade(GatewayApi).verify_audit()

    report = asyncio.run(with_runtime(cli_settings(), verify))
    if report.ok:
        click.echo(f"inescape: audit chain intact: {report.checked} events, head {report.head_hash[:16]}")
        return
    for problem in report.problems:
        click.echo(f"inescape: audit chain broken: {problem}", err=True)
    sys.exit(1)
