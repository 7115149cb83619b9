"""``inescape serve``, ``worker`` and ``migrate``: the long-running processes and the schema."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from inescape.cli.common import cli_settings, one_line_errors
from inescape.infra.private_files import private_database_file, private_folder
from inescape.kernel.errors import ConfigurationError
from inescape.kernel.modules import MODULE_NAMES
from inescape.settings import Settings


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


@click.command()
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
@one_line_errors
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

    settings = cli_settings(
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
    _port_free(settings.server.host, port)
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


PORT_BUSY = 3  # the exit code when the port is taken (2: a configuration error)


def _port_free(host: str, port: int) -> None:
    """Exit with one line naming the port when something already listens on it, before the
    backends are reached and rather than uvicorn's bind traceback."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise ConfigurationError(
                    "INESCAPE_SERVER_HOST", f"cannot bind {host}:{port}: {exc.strerror}"
                ) from None
            click.echo(
                f"inescape: port {port} on {host} is already in use (another `inescape serve`?); "
                "stop it, or choose another port with --port or INESCAPE_SERVER_PORT",
                err=True,
            )
            sys.exit(PORT_BUSY)


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


@click.command()
@click.option(
    "--module",
    "modules",
    multiple=True,
    type=click.Choice(MODULE_NAMES),
    help="Only take jobs of these modules' queues (repeatable).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(1, 65535),
    default=None,
    envvar="INESCAPE_WORKER_METRICS_PORT",
    help="Serve this worker's Prometheus metrics (job durations, outcomes) on this port.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Interface of the metrics port (0.0.0.0 in a container Prometheus scrapes).",
)
@one_line_errors
def worker(modules: tuple[str, ...], metrics_port: int | None, metrics_host: str) -> None:
    """Run background jobs from the module queues."""
    from inescape.worker import run_worker

    settings = cli_settings()
    if metrics_port is not None:
        _port_free(metrics_host, metrics_port)
    asyncio.run(_preflight(settings, list(modules or settings.modules)))
    metrics = (metrics_host, metrics_port) if metrics_port is not None else None
    sys.exit(run_worker(settings, modules=list(modules) or None, metrics=metrics))


@click.command()
@click.option("--revision", default="head", show_default=True)
@one_line_errors
def migrate(revision: str) -> None:
    """Bring the database schema up to date (also done on embedded start)."""
    from sqlalchemy.exc import OperationalError

    from inescape import migrate as migrations

    settings = cli_settings()
    private_folder(settings.data_path)
    if settings.database.url is None:
        private_database_file(settings.sqlite_path)
    try:
        migrations.upgrade(settings.database_url, revision)
    except OperationalError as exc:
        raise ConfigurationError(
            "INESCAPE_DATABASE_URL", f"cannot migrate: {str(exc.orig).strip().splitlines()[0]}"
        ) from None
    click.echo(f"inescape: database at revision {migrations.current(settings.database_url)}")
