"""Public surface of the training module: the model registry and the torch-free survival model
format other modules (decision support) and notebooks use."""

from __future__ import annotations

from inescape.modules.training.events import ModelPromoted, ModelRegistered
from inescape.modules.training.portable import (
    FORMAT,
    Baseline,
    CoxModel,
    Feature,
    SurvivalPoint,
    dump_model,
    load_model,
    missing_facts,
    predict,
)
from inescape.modules.training.registry import ModelCard, ModelNotFound, ModelRegistry

MODULE = "training"

__all__ = [
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
    "dump_model",
    "load_model",
    "missing_facts",
    "predict",
]
