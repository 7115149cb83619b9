"""Public surface of the training module.

In a notebook, without a server (needs the ``ml`` extra)::

    from inescape.modules.generation.api import generate
    from inescape.modules.training.api import fit, load_model
    model = fit(generate("us-seer", 20_000, seed=1), model="deepsurv", seed=1)
    model.metrics["c_index"], model.metrics["oracle_c_index"]
    model.predict_survival(patients_frame, times=[12, 36, 60])
    model.save("my-model"); same = load_model("my-model")

For other modules: the model registry and the torch-free ``inescape.cox.v1`` format decision
support evaluates (``load_portable``, ``predict``).
"""

from __future__ import annotations

from typing import Any

from inescape.modules.training.events import ModelPromoted, ModelRegistered
from inescape.modules.training.features import CLINICAL, FEATURE_SETS, FEATURES, cohort_frame
from inescape.modules.training.portable import (
    FORMAT,
    Baseline,
    CoxModel,
    Feature,
    SurvivalPoint,
    missing_facts,
    predict,
)
from inescape.modules.training.portable import dump_model as dump_portable
from inescape.modules.training.portable import load_model as load_portable
from inescape.modules.training.registry import ModelCard, ModelNotFound, ModelRegistry

MODULE = "training"


def fit(data: Any, model: str = "deepsurv", **options: Any) -> Any:
    """Fit ``model`` (cox, deepsurv, logistic_hazard, pcr) on a cohort's tables or a cohort
    frame; returns a ``FittedModel`` (metrics on the held-out split, ``predict_survival``,
    ``save``). Options: ``features`` (full, clinical or a list), ``seed``, ``max_epochs``..."""
    from inescape.modules.training.fitting import fit as _fit

    return _fit(data, model, **options)


def load_model(source: Any) -> Any:
    """A model saved with ``FittedModel.save`` (a folder) or its ``artifacts()``."""
    from inescape.modules.training.fitting import load_model as _load

    return _load(source)


__all__ = [
    "CLINICAL",
    "FEATURES",
    "FEATURE_SETS",
    "FORMAT",
    "MODULE",
    "Baseline",
    "CoxModel",
    "Feature",
    "ModelCard",
    "ModelNotFound",
    "ModelPromoted",
    "ModelRegistered",
    "ModelRegistry",
    "SurvivalPoint",
    "cohort_frame",
    "dump_portable",
    "fit",
    "load_model",
    "load_portable",
    "missing_facts",
    "predict",
]
