"""The ``inescape`` command: serve, worker, migrate."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
import msgspec

from inescape import __version__
from inescape.kernel.errors import ConfigurationError
from inescape.kernel.modules import MODULE_NAMES
from inescape.settings import Settings, load_settings

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
    from inescape.runtime import Runtime

    runtime = Runtime(msgspec.structs.replace(settings, modules=modules))
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
@_one_line_errors
def serve(module: str | None, host: str | None, port: int | None) -> None:
    """Serve the platform (every enabled module) over HTTP."""
    import uvicorn

    from inescape.app import create_app
    from inescape.modules_loader import load_specs

    settings = _settings(server__host=host)
    modules = [module] if module else settings.modules
    specs = load_specs(modules, [] if module else settings.plugins)
    port = port or settings.server.port or (specs[0].port if module else 8000)
    if settings.embedded:
        click.echo(
            f"inescape: embedded defaults, data in {settings.data_path} "
            "(set INESCAPE_DATABASE_URL, _REDIS_URL, _MONGODB_URL, _S3_ENDPOINT_URL "
            "for production backends)",
            err=True,
        )
    asyncio.run(_preflight(settings, modules))
    app = create_app(settings, specs)
    click.echo(
        f"inescape: serving {', '.join(modules)} on http://{settings.server.host}:{port} "
        f"(API docs at /schema)",
        err=True,
    )
    uvicorn.run(
        app, host=settings.server.host, port=port, log_config=None, proxy_headers=True, server_header=False
    )


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
