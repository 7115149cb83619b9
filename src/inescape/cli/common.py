"""What every command shares: one-line configuration errors, the settings (with the command's
overrides), and a started platform to run one action against."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import click

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


async def with_runtime(settings: Settings, action: Callable[[Runtime], Any]) -> Any:
    """Start the platform without serving (migrating an embedded database), run ``action``
    with it (its facades, its platform), stop."""
    from inescape.runtime.process import Runtime

    runtime = Runtime(settings)
    await runtime.start(worker=False)
    try:
        return await action(runtime)
    finally:
        await runtime.stop()
