"""The ``inescape`` command: serve, worker, migrate."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from inescape import __version__
from inescape.kernel.errors import ConfigurationError
from inescape.kernel.modules import MODULE_NAMES
from inescape.settings import Settings, load_settings

if TYPE_CHECKING:
    from inescape.modules.auth.api import User
    from inescape.runtime.process import Runtime

F = TypeVar("F", bound=Callable[..., Any])


def _one_line_errors(fn: F) -> F:
    """A configuration problem is one line on stderr naming the setting, and exit code 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigurationError as exc:
            click.echo(f"inescape: configuration error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _settings(**overrides: Any) -> Settings:
    settings = load_settings()
    from inescape.infra.telemetry import configure_logging

    configure_logging(settings.log.level, settings.log.format)
    for key, value in overrides.items():
        if value is not None:
            section, _, name = key.partition("__")
            setattr(getattr(settings, section), name, value)
    return settings


async def _preflight(settings: Settings, modules: list[str]) -> None:
    """Reach every configured backend before serving, so a wrong URL fails in one line."""
    from inescape.migrate import current
    from inescape.runtime.process import Runtime, served_specs

    runtime = Runtime(settings, served_specs(settings, modules))
    try:
        await runtime.prepare()
        if runtime.services.db.backend == "postgresql":
            revision = await asyncio.to_thread(current, settings.database_url)
            if revision is None:
                raise ConfigurationError(
                    "INESCAPE_DATABASE_URL", "the database has no tables yet; run `inescape migrate`"
                )
    finally:
        await runtime.stop()


@click.group()
@click.version_option(__version__, prog_name="inescape")
def main() -> None:
    """INEsCape: esophageal cancer data platform."""


@main.command()
@click.option(
    "--module",
    "module",
    type=click.Choice(MODULE_NAMES),
    default=None,
    help="Serve one module alone on its own port (8001-8004).",
)
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000, or the module's).")
@click.option("--ssl-certfile", default=None, help="PEM certificate: serve HTTPS (TLS 1.3 only).")
@click.option("--ssl-keyfile", default=None, help="PEM private key of that certificate.")
@_one_line_errors
def serve(
    module: str | None,
    host: str | None,
    port: int | None,
    ssl_certfile: str | None,
    ssl_keyfile: str | None,
) -> None:
    """Serve the platform (every enabled module) over HTTP, or HTTPS with a certificate."""
    import uvicorn

    from inescape.app import create_app
    from inescape.modules_loader import load_specs

    settings = _settings(
        server__host=host, server__ssl_certfile=ssl_certfile, server__ssl_keyfile=ssl_keyfile
    )
    tls = _tls_options(settings)
    # A module served alone still authenticates and authorises every request itself: the
    # gateway's middleware and guard come with it (its own routes too, until split mode).
    modules = (["auth", module] if module != "auth" else ["auth"]) if module else settings.modules
    specs = load_specs(modules, [] if module else settings.plugins)
    if module:  # a module served alone is an upstream itself, never a gateway
        settings.gateway.upstreams = []
    port = port or settings.server.port or (specs[-1].port if module else 8000)
    if settings.embedded:
        click.echo(
            f"inescape: embedded defaults, data in {settings.data_path} "
            "(set INESCAPE_DATABASE_URL, _REDIS_URL, _MONGODB_URL, _S3_ENDPOINT_URL "
            "for production backends)",
            err=True,
        )
    asyncio.run(_preflight(settings, modules))
    app = create_app(settings, specs, split=True if module else None)
    click.echo(
        f"inescape: serving {', '.join(modules)} on {'https' if tls else 'http'}://"
        f"{settings.server.host}:{port} (API docs at /schema)",
        err=True,
    )
    uvicorn.run(
        app,
        host=settings.server.host,
        port=port,
        log_config=None,
        proxy_headers=True,
        server_header=False,
        **tls,
    )


def _tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's TLS arguments, after checking that the certificate and key load: a bad pair
    is one line here rather than a traceback from inside the server. TLS 1.3 is the floor."""
    import ssl

    from inescape.infra.web_security import tls13_only
    from inescape.settings import check_server_settings

    server = settings.server
    check_server_settings(server)  # again: the options may have changed it
    if not (server.ssl_certfile and server.ssl_keyfile):
        return {}
    password = server.ssl_keyfile_password
    try:
        # an empty password rather than None: OpenSSL would otherwise prompt on the terminal
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(
            server.ssl_certfile, server.ssl_keyfile, password or (lambda: "")
        )
    except ssl.SSLError as exc:
        problem = (
            "the key does not match the certificate"
            if exc.reason == "KEY_VALUES_MISMATCH"
            else "not PEM files, or the key needs INESCAPE_SERVER_SSL_KEYFILE_PASSWORD"
        )
        raise ConfigurationError(
            "INESCAPE_SERVER_SSL_CERTFILE", f"cannot load the certificate and key: {problem}"
        ) from None
    return {
        "ssl_certfile": server.ssl_certfile,
        "ssl_keyfile": server.ssl_keyfile,
        "ssl_keyfile_password": password,
        "ssl_context_factory": tls13_only,
    }


@main.command()
@click.option(
    "--module",
    "modules",
    multiple=True,
    type=click.Choice(MODULE_NAMES),
    help="Only take jobs of these modules' queues (repeatable).",
)
@_one_line_errors
def worker(modules: tuple[str, ...]) -> None:
    """Run background jobs from the module queues."""
    from inescape.worker import run_worker

    settings = _settings()
    asyncio.run(_preflight(settings, list(modules or settings.modules)))
    sys.exit(run_worker(settings, modules=list(modules) or None))


@main.command()
@click.option("--revision", default="head", show_default=True)
@_one_line_errors
def migrate(revision: str) -> None:
    """Bring the database schema up to date (also done on embedded start)."""
    from sqlalchemy.exc import OperationalError

    from inescape import migrate as migrations

    settings = _settings()
    settings.data_path.mkdir(parents=True, exist_ok=True)
    try:
        migrations.upgrade(settings.database_url, revision)
    except OperationalError as exc:
        raise ConfigurationError(
            "INESCAPE_DATABASE_URL", f"cannot migrate: {str(exc.orig).strip().splitlines()[0]}"
        ) from None
    click.echo(f"inescape: database at revision {migrations.current(settings.database_url)}")


async def _with_runtime(settings: Settings, action: Callable[[Runtime], Any]) -> Any:
    """Start the platform without serving (migrating an embedded database), run ``action``
    with it (its facades, its platform), stop."""
    from inescape.runtime.process import Runtime

    runtime = Runtime(settings)
    await runtime.start(worker=False)
    try:
        return await action(runtime)
    finally:
        await runtime.stop()


@main.command("create-user")
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
@_one_line_errors
def create_user(
    username: str, roles: tuple[str, ...], display_name: str | None, password_stdin: bool
) -> None:
    """Create a user account (the first administrator, or any user from a script)."""
    from inescape.kernel.errors import DomainError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings()

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
        user = asyncio.run(_with_runtime(settings, create))
    except DomainError as exc:
        click.echo(f"inescape: {exc.detail}", err=True)
        sys.exit(1)
    click.echo(f"inescape: created {user.username} ({', '.join(user.roles)}), id {user.id}")


@main.command()
@click.option("--profile", required=True, help="A profile name (`inescape profiles` lists them).")
@click.option("--n", "n", type=click.IntRange(1, 10_000_000), required=True, help="Patients.")
@click.option("--seed", type=int, default=0, show_default=True, help="Same profile, seed and n: same bytes.")
@click.option(
    "--quota",
    "quotas",
    multiple=True,
    help='JSON, repeatable: \'{"where": {"histology": "adenocarcinoma", "stage_group": "III"}, "share": 1}\'',
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="cohort.parquet, .csv or .ndjson"
)
@click.option("--to-database", is_flag=True, help="Load the configured clinical database (bulk path).")
@_one_line_errors
def generate(
    profile: str, n: int, seed: int, quotas: tuple[str, ...], out: Path | None, to_database: bool
) -> None:
    """Generate a synthetic cohort, with a progress bar and its fidelity report."""
    from inescape.kernel.errors import DomainError

    if out is None and not to_database:
        raise click.UsageError("say where the cohort goes: --out FILE and/or --to-database")
    settings = _settings() if to_database else None
    with click.progressbar(length=n, label=f"Generating {n:,} patients ({profile})", show_pos=True) as bar:
        try:
            summary = _generate(
                profile, n, seed=seed, quotas=list(quotas), out=out, settings=settings, on_chunk=bar.update
            )
        except DomainError as exc:
            click.echo(f"\ninescape: {exc.detail}", err=True)
            for error in getattr(exc, "errors", [])[:10]:
                click.echo(f"  {error.get('field')}: {error.get('message')}", err=True)
            sys.exit(1)
    for line in summary:
        click.echo(line)


def _generate(
    profile: str,
    n: int,
    *,
    seed: int,
    quotas: list[str],
    out: Path | None,
    settings: Settings | None,
    on_chunk: Callable[[int], Any],
) -> list[str]:
    """To files (no backend needed) and/or the configured database, loaded through generation's
    own service as a job loads it; the lines to print. The profile and quotas are checked
    before anything is written."""
    from inescape.modules.generation.api import FidelityReport, report_lines

    generator = _generator()
    chosen = generator.profile(profile)
    wanted = generator.quotas(quotas)
    lines: list[str] = []
    report: FidelityReport | None = None
    if out is not None:
        written, report = generator.write_files(
            chosen, n, seed=seed, out=out, quotas=wanted, on_chunk=on_chunk
        )
        lines += [f"wrote {p} ({p.stat().st_size:,} bytes)" for p in written]
    if settings is not None:
        loading = _load_cohort(
            settings, chosen, n, seed=seed, quotas=wanted, on_chunk=None if out else on_chunk
        )
        lines.append(f"loaded {asyncio.run(loading):,} patients into the clinical database")
    if report is not None:
        lines += report_lines(report)
    return lines


def _generator() -> Any:
    """Generation's backend-free ``GeneratorApi``, built by the root."""
    from inescape.modules.generation.api import GeneratorApi
    from inescape.runtime.wiring import library

    return library(GeneratorApi)


async def _load_cohort(settings: Settings, profile: Any, n: int, **options: Any) -> int:
    from inescape.modules.generation.api import GenerationApi

    async def load(runtime: Runtime) -> int:
        return await runtime.facade(GenerationApi).load_cohort(profile=profile, n=n, **options)

    loaded: int = await _with_runtime(settings, load)
    return loaded


@main.group()
def audit() -> None:
    """The audit trail."""


@audit.command("verify")
@_one_line_errors
def audit_verify() -> None:
    """Walk the hash chain; exit 1 naming the first deleted, altered or reordered event."""

    async def verify(runtime: Runtime) -> Any:
        from inescape.modules.auth.api import GatewayApi

        return await runtime.facade(GatewayApi).verify_audit()

    report = asyncio.run(_with_runtime(_settings(), verify))
    if report.ok:
        click.echo(f"inescape: audit chain intact: {report.checked} events, head {report.head_hash[:16]}")
        return
    for problem in report.problems:
        click.echo(f"inescape: audit chain broken: {problem}", err=True)
    sys.exit(1)


@main.command("rotate-keys")
@click.option("--batch-size", default=500, show_default=True, help="Rows per transaction.")
@click.option("--objects/--no-objects", default=True, help="Also rewrite embedded object files.")
@_one_line_errors
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

    if asyncio.run(_with_runtime(_settings(), run)):
        sys.exit(1)


@main.command()
@click.option("--to", "location", required=True, help="A new folder, or s3://bucket/prefix.")
@click.option("--pg-bin", default=None, help="Folder holding pg_dump (default: the server's version).")
@_one_line_errors
def backup(location: str, pg_bin: str | None) -> None:
    """Back up the database, documents and objects, encrypted (INESCAPE_BACKUP_KEY, else the
    active encryption key)."""
    import os

    from inescape.kernel.errors import DomainError
    from inescape.ops.backup_cli import run_backup

    try:
        lines = run_backup(
            _settings(), location, backup_key=os.environ.get("INESCAPE_BACKUP_KEY"), pg_bin=pg_bin
        )
    except DomainError as exc:
        click.echo(f"inescape: {exc.detail}", err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)


@main.command()
@click.option("--from", "location", required=True, help="A backup folder, or s3://bucket/prefix.")
@click.option("--pg-bin", default=None, help="Folder holding pg_restore (default: the server's version).")
@_one_line_errors
def restore(location: str, pg_bin: str | None) -> None:
    """Restore a backup into an empty installation; every checksum is verified first."""
    import os

    from inescape.kernel.errors import DomainError
    from inescape.ops.backup_cli import run_restore

    try:
        lines = run_restore(
            _settings(), location, backup_key=os.environ.get("INESCAPE_BACKUP_KEY"), pg_bin=pg_bin
        )
    except DomainError as exc:
        click.echo(f"inescape: {exc.detail}", err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)
