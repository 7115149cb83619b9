"""The library facades (no backend): fitting for notebooks, with torch and Lightning imported
only when a model is fitted or loaded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inescape.modules.training import availability
from inescape.modules.training.api import Fitted

if TYPE_CHECKING:
    import polars as pl


def _needs_ml() -> None:
    """Without the ml extra, say what to install rather than which import failed."""
    missing = availability.missing_ml()
    if missing is not None:
        raise ModuleNotFoundError(availability.ml_missing_message(missing), name=missing)


class Fitting:
    """``FittingApi``."""

    def fit(
        self, data: pl.DataFrame | Mapping[str, pl.DataFrame], model: str = "deepsurv", **options: Any
    ) -> Fitted:
        _needs_ml()
        from inescape.modules.training.fitting import fit

        return fit(data, model, **options)

    def load_model(self, source: str | Path | Mapping[str, bytes]) -> Fitted:
        _needs_ml()
        from inescape.modules.training.fitted import load_model

        return load_model(source)

    def cohort_frame(self, tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
        from inescape.modules.training.features import cohort_frame

        return cohort_frame(tables)


__all__ = ["Fitting"]
