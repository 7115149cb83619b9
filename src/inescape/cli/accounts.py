"""``inescape create-user``, ``inescape users list`` and ``inescape audit verify``: accounts and
the audit trail."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

import click

from inescape.cli.common import cli_settings, json_option, one_line_errors, report, with_runtime

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
@click.option("--one-time", is_flag=True, help="The user must change this password at the first login.")
@json_option
@one_line_errors
def create_user(
    username: str,
    roles: tuple[str, ...],
    display_name: str | None,
    password_stdin: bool,
    one_time: bool,
    as_json: bool,
) -> None:
    """Create a user account (the first administrator, or any user from a script)."""
    from inescape.kernel.errors import DomainError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    settings = cli_settings()

    async def create(runtime: Runtime) -> User:
        from inescape.modules.auth.api import GatewayApi

        return await runtime.facade(GatewayApi).create_user(
            username=username,
            display_name=display_name or username,
            roles=list(roles),
            password=password,
            by="cli",
            one_time=one_time,
        )

    try:
        user = asyncio.run(with_runtime(settings, create))
    except DomainError as exc:
        click.echo(f"inescape: {exc.detail}", err=True)
        sys.exit(1)
    line = f"inescape: created {user.username} ({', '.join(user.roles)}), id {user.id}"
    if one_time:
        line += "; the password is one-time: it must be changed at the first login"
    report(user, [line], as_json=as_json)


@click.group()
def users() -> None:
    """User accounts."""


@users.command("list")
@json_option
@one_line_errors
def users_list(as_json: bool) -> None:
    """List the accounts: username, roles, whether active (and whether its password is one-time,
    to be changed at the next login), last login."""

    async def every(runtime: Runtime) -> list[User]:
        from inescape.modules.auth.api import GatewayApi

        return await runtime.facade(GatewayApi).list_users()

    found: list[User] = asyncio.run(with_runtime(cli_settings(), every))
    rows = [
        (
            u.username,
            ",".join(u.roles),
            ("active" if u.active else "inactive")
            + (", one-time password" if u.must_change_password else ""),
            u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else "never",
            u.display_name,
        )
        for u in found
    ]
    header = ("USERNAME", "ROLES", "STATE", "LAST LOGIN", "NAME")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(r, [*widths, 0], strict=True)).rstrip()
        for r in [header, *rows]
    ]
    if not found:
        lines = ["inescape: no user accounts yet: create one with `inescape create-user NAME --role admin`"]
    report({"items": found}, lines, as_json=as_json)


@click.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@json_option
@one_line_errors
def audit_verify(as_json: bool) -> None:
    """Walk the hash chain; exit 1 naming the first deleted, altered or reordered event."""

    async def verify(runtime: Runtime) -> Any:
        from inescape.modules.auth.api import GatewayApi

        return await runtime.facade(GatewayApi).verify_audit()

    result = asyncio.run(with_runtime(cli_settings(), verify))
    if as_json:
        report(result, [], as_json=True)
    elif result.ok:
        click.echo(f"inescape: audit chain intact: {result.checked} events, head {result.head_hash[:16]}")
    else:
        for problem in result.problems:
            click.echo(f"inescape: audit chain broken: {problem}", err=True)
    if not result.ok:
        sys.exit(1)
