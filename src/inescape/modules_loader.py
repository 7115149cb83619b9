"""Finding modules: the built-in six by name, and plugins by ``package.module:spec``."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from inescape.kernel.errors import ConfigurationError
from inescape.kernel.modules import MODULE_NAMES, ModuleSpec


def load_specs(names: Iterable[str], plugins: Iterable[str] = ()) -> list[ModuleSpec]:
    specs = [importlib.import_module(f"inescape.modules.{n}.module").spec for n in names]
    for plugin in plugins:
        path, _, attr = plugin.partition(":")
        try:
            spec = getattr(importlib.import_module(path), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError("INESCAPE_PLUGINS", f"cannot load {plugin!r}: {exc}") from None
        if not isinstance(spec, ModuleSpec):
            raise ConfigurationError("INESCAPE_PLUGINS", f"{plugin!r} is not a ModuleSpec")
        specs.append(spec)
    return specs


def import_all_models() -> None:
    """Import every module's tables so the metadata (and alembic) sees them."""
    for name in MODULE_NAMES:
        try:
            importlib.import_module(f"inescape.modules.{name}.models")
        except ModuleNotFoundError as exc:
            if exc.name != f"inescape.modules.{name}.models":
                raise
