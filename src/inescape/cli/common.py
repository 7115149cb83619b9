"""What every command shares: one-line configuration errors, the settings (with the command's
overrides), a started platform to run one action against, and ``--json`` output."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click
import msgspec

from inescape.kernel.errors import ConfigurationError
from inescape.settings import Settings, load_settings

if TYPE_CHECKING:
    from inescape.runtime.process import Runtime

F = TypeVar("F", bound=Callable[..., Any])


def one_line_errors(fn: F) -> F:
    """A configuration problem is one line on stderr naming the setting, and exit code 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigurationError as exc:
            click.echo(f"inescape: configuration error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def cli_settings(**overrides: Any) -> Settings:
    settings = load_settings()
    from inescape.infra.telemetry import configure_logging

    configure_logging(settings.log.level, settings.log.format)
    for key, value in overrides.items():
        if value is not None:
            section, _, name = key.partition("__")
            setattr(getattr(settings, section), name, value)
    return settings


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the result as one JSON document on stdout."
)


def report(data: Any, lines: Iterable[str], *, as_json: bool) -> None:
    """The result of a command that reports: ``data`` as JSON, or the human-readable lines."""
    if as_json:
        click.echo(msgspec.json.encode(msgspec.to_builtins(data)).decode())
        return
    for line in lines:
        click.echo(line)


async def with_runtime(settings: Settings, action: Callable[[Runtime], Any]) -> Any:
    """Start the platform without serving (migrating an embedded database), run ``action``
    with it (its facades, its platform), stop. Starting is quiet: the migrations' progress and
    the server's start-up hints (such as "no user accounts yet") belong to ``serve``, not to a
    command that runs one action; warnings and errors still show."""
    with quiet_startup():
        from inescape.runtime.process import Runtime

        runtime = Runtime(settings)
        await runtime.start(worker=False)
    try:
        return await action(runtime)
    finally:
        await runtime.stop()


@contextmanager
def quiet_startup() -> Iterator[None]:
    """Below warnings, nothing while the platform starts (unless DEBUG was asked for); the
    gateway's hints for a server (``inescape.auth``) not at all."""
    root, hints = logging.getLogger(), logging.getLogger("inescape.auth")
    saved = root.level, hints.level
    if root.level > logging.DEBUG:
        root.setLevel(max(root.level, logging.WARNING))
        hints.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(saved[0])
        hints.setLevel(saved[1])
