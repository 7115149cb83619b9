"""What a fit depends on besides its data: the model kind, the split, the hyper-parameters
(each kind's defaults), the device; recorded with the model."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from inescape.kernel.errors import Invalid
from inescape.modules.training.api import ModelKind

HORIZONS = (12.0, 36.0, 60.0)
DEFAULTS: dict[str, dict[str, Any]] = {
    # full batch for the linear Cox: the partial likelihood of the whole training set
    "cox": {"lr": 0.05, "l2": 1e-4, "batch_size": 0, "max_epochs": 400, "patience": 20, "hidden": []},
    # DeepSurv: a small, well-regularised MLP; larger ones overfit a 14k training split
    "deepsurv": {
        "lr": 1e-3,
        "l2": 5e-3,
        "batch_size": 2048,
        "max_epochs": 300,
        "patience": 15,
        "hidden": [32],
        "dropout": 0.2,
    },
    "logistic_hazard": {"lr": 2e-3, "l2": 1e-4, "batch_size": 1024, "max_epochs": 200, "patience": 15},
    "pcr": {"lr": 0.02, "l2": 1e-3, "batch_size": 0, "max_epochs": 300, "patience": 20, "hidden": []},
}


class FitSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a run depends on besides its data (recorded with the model)."""

    model: ModelKind = "deepsurv"
    features: str | list[str] = "full"
    seed: int = 0
    validation: float = 0.15
    test: float = 0.15
    max_epochs: int | None = None
    patience: int | None = None
    batch_size: int | None = None  # 0: the whole training split per step
    lr: float | None = None
    l2: float | None = None
    hidden: list[int] | None = None
    dropout: float | None = None
    intervals: int = 20  # logistic hazard: intervals of the time grid
    # the validation C-index every this many epochs (and for the last); the validation loss,
    # which early stopping and the kept weights follow, is computed every epoch
    metric_every: Annotated[int, msgspec.Meta(ge=1)] = 10
    bootstrap: int = 200  # resamples for the confidence intervals (0: none)
    compare_cox: bool = True  # also fit the linear Cox on the same split (the promotion gate)
    accelerator: str = "auto"  # Lightning: "cpu", "gpu", "auto" (a GPU when present)
    devices: int | str = 1
    strategy: str = "auto"  # Lightning: "ddp", "fsdp", ... for several GPUs or nodes
    num_nodes: int = 1
    # PyTorch's threads within an operation while a fit runs on the CPU (None: its default,
    # one per core). These networks are small: an operation is over before several threads
    # pay for themselves, and on a busy machine they wait for each other; one thread trains
    # them several times faster there and leaves the other cores to the jobs beside it.
    cpu_threads: Annotated[int, msgspec.Meta(ge=1)] | None = None

    def hyper(self) -> dict[str, Any]:
        chosen = dict(DEFAULTS[self.model])
        for key in ("max_epochs", "patience", "batch_size", "lr", "l2", "hidden", "dropout"):
            value = getattr(self, key)
            if value is not None:
                chosen[key] = value
        chosen.setdefault("hidden", [32, 32])
        chosen.setdefault("dropout", 0.1)
        return chosen


def settings_of(model: str = "deepsurv", **options: Any) -> FitSettings:
    try:
        return msgspec.convert({"model": model, **options}, FitSettings)
    except msgspec.ValidationError as exc:
        raise Invalid(
            f"training settings are invalid: {exc}", errors=[{"field": "settings", "message": str(exc)}]
        ) from None


__all__ = ["DEFAULTS", "HORIZONS", "FitSettings", "settings_of"]
