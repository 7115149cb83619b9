"""Whether this install can train: every model is fitted with torch and Lightning, which come
with the ``ml`` extra. Probed without importing them (the web process stays free of torch)."""

from __future__ import annotations

import importlib.util

ML_MODULES: tuple[str, ...] = ("torch", "pytorch_lightning")
INSTALL_HINT = (
    "pip install 'inescape[ml]' --extra-index-url https://download.pytorch.org/whl/cpu (the CPU build; "
    "from a clone: pip install -c constraints.txt -e '.[ml]' --extra-index-url https://download.pytorch.org/whl/cpu)"
)


def missing_ml() -> str | None:
    """The first module of the ml extra this install lacks (None: it can train)."""
    for name in ML_MODULES:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):
            return name
    return None


def ml_missing_message(module: str) -> str:
    return f"training needs the ml extra, which is not installed here ({module} is missing): {INSTALL_HINT}"


__all__ = ["INSTALL_HINT", "ML_MODULES", "missing_ml", "ml_missing_message"]
