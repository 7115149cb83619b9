"""Public surface of the training module: its DTOs, its errors and its facades.

- ``RegistryApi`` (bound: documents and storage): the model registry as decision support reads
  it, the production version's card and its portable model.
- ``SurvivalModels`` (library, torch-free): the ``inescape.cox.v1`` format decision support
  evaluates (``load_portable``, ``missing_facts``, ``predict``, ``dump_portable``).
- ``FittingApi`` (library; fitting needs the ``ml`` extra, importing it does not): ``fit`` and
  ``load_model`` for notebooks, through ``inescape.notebook``::

      model = fit(generate("us-seer", 20_000, seed=1), model="deepsurv", seed=1)
      model.metrics["c_index"], model.metrics["oracle_c_index"]
      model.predict_survival(patients_frame, times=[12, 36, 60])
      model.save("my-model"); same = load_model("my-model")

The events it publishes are in ``events.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec

from inescape.kernel.errors import Invalid, NotFound

if TYPE_CHECKING:
    import polars as pl

MODULE = "training"
FORMAT = "inescape.cox.v1"
TORCH_FORMAT = "inescape.torch.v1"
Stage = Literal["candidate", "production", "archived"]
ModelKind = Literal["cox", "deepsurv", "logistic_hazard", "pcr"]
# What a model version is for: the decision that reads its production version.
# ``overall-survival``: survival from diagnosis (decision support's 1/3/5-year risk);
# ``pathologic-response``: the chance of a pathologic complete response.
Purpose = Literal["overall-survival", "pathologic-response"]
OVERALL_SURVIVAL: Purpose = "overall-survival"
PATHOLOGIC_RESPONSE: Purpose = "pathologic-response"


def purpose_of_kind(kind: str) -> Purpose:
    """The purpose a model of ``kind`` serves when its run does not name one."""
    return PATHOLOGIC_RESPONSE if kind == "pcr" else OVERALL_SURVIVAL


# --- errors -----------------------------------------------------------------------------------


class ModelNotFound(NotFound):
    pass


class ModelNotPortable(Invalid):
    """The version is a network (``inescape.torch.v1``), which needs torch to evaluate."""


# --- the portable survival model (inescape.cox.v1) ----------------------------------------------


class Feature(msgspec.Struct, frozen=True, kw_only=True):
    name: str  # "age", "histology=adenocarcinoma"
    fact: str  # the fact it is made from: "age", "histology"
    kind: Literal["numeric", "indicator"]
    mean: float = 0.0  # what the coefficient is centred on (the training mean)
    value: str | None = None  # for an indicator: the fact's value that makes it 1


class Baseline(msgspec.Struct, frozen=True, kw_only=True):
    months: list[float]
    cumulative_hazard: list[float]


class CoxModel(msgspec.Struct, frozen=True, kw_only=True):
    """A proportional-hazards model as JSON: S(t | x) = exp(-H0(t) * exp(lp)),
    lp = sum_i beta_i * (x_i - mean_i)."""

    format: Literal["inescape.cox.v1"]
    features: list[Feature]
    coefficients: list[float]
    covariance: list[list[float]]
    baseline: Baseline

    def __post_init__(self) -> None:
        n = len(self.features)
        square = len(self.covariance) == n and all(len(row) == n for row in self.covariance)
        if len(self.coefficients) != n or not square:
            raise msgspec.ValidationError("coefficients and covariance must match the features")
        months = self.baseline.months
        if len(months) != len(self.baseline.cumulative_hazard) or months != sorted(months):
            raise msgspec.ValidationError("the baseline must be sorted months with one hazard each")


class SurvivalPoint(msgspec.Struct, frozen=True, kw_only=True):
    months: float
    survival: float | None  # None beyond the model's follow-up
    lower: float | None
    upper: float | None


# --- the registry -----------------------------------------------------------------------------


class ModelCard(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: int
    task: str  # "survival" or "classification"
    format: str  # "inescape.cox.v1" (decision support evaluates it) or "inescape.torch.v1"
    stage: Stage
    artifact: str  # key in the models bucket: the model a reader loads
    created_at: datetime
    promoted_at: datetime | None = None
    metrics: dict[str, float] = {}
    trained_on: dict[str, Any] = {}  # dataset, rows, origins, features: where the numbers come from
    description: str = ""
    kind: str = "cox"  # cox, deepsurv, logistic_hazard, pcr
    artifacts: dict[str, str] = {}  # every file of the model (weights, preprocessing, card) -> key
    run_id: str | None = None  # the training run (job) that made it
    settings: dict[str, Any] = {}  # hyper-parameters, seed, split
    code_version: str = ""
    report: dict[str, Any] = {}  # calibration by decile, subgroups, training history
    promotion: dict[str, Any] | None = None  # who promoted it, when, the gates, any override
    # the decision it serves; its production version (newest promotion) answers that decision,
    # whatever the model's name. A card stored before purposes reads as its task's purpose.
    purpose: str = ""

    @property
    def id(self) -> str:
        return card_id(self.name, self.version)


def card_id(name: str, version: int) -> str:
    return f"{name}:{version:06d}"


# --- facades ----------------------------------------------------------------------------------


class RegistryApi(Protocol):
    """The model registry as other modules read it (bound: documents and the models bucket)."""

    async def production(self, name: str) -> ModelCard | None:
        """The card of the version of ``name`` in production, or None while there is none."""
        ...

    async def serving(self, purpose: str) -> ModelCard | None:
        """The production version that serves ``purpose`` (of any name; the most recently
        promoted when several names serve it), or None while none does."""
        ...

    async def portable(self, name: str, version: int) -> CoxModel:
        """That version's ``inescape.cox.v1`` model: ``ModelNotFound`` for an unknown version,
        ``ModelNotPortable`` for a network (torch)."""
        ...


class SurvivalModels(Protocol):
    """The torch-free ``inescape.cox.v1`` format (library: no backend)."""

    def load_portable(self, data: bytes | Mapping[str, Any]) -> CoxModel:
        """``Invalid`` when ``data`` is not such a model."""
        ...

    def dump_portable(self, model: CoxModel) -> bytes: ...

    def missing_facts(self, model: CoxModel, facts: Mapping[str, Any]) -> list[str]:
        """The facts the model needs that ``facts`` lacks (None counts as missing)."""
        ...

    def predict(
        self, model: CoxModel, facts: Mapping[str, Any], *, months: Sequence[float], confidence: float = 0.95
    ) -> list[SurvivalPoint]:
        """Survival at each of ``months`` with its interval; ``Invalid`` naming a missing fact."""
        ...


class Fitted(Protocol):
    """A fitted model (``FittingApi.fit``): metrics on the held-out split, predictions, files."""

    @property
    def kind(self) -> str: ...

    @property
    def metrics(self) -> dict[str, float]: ...

    @property
    def report(self) -> dict[str, Any]: ...

    @property
    def history(self) -> list[dict[str, float]]: ...

    @property
    def trained_on(self) -> dict[str, Any]: ...

    def predict_survival(self, data: pl.DataFrame, times: Sequence[float] = ...) -> pl.DataFrame: ...

    def predict_risk(self, data: pl.DataFrame) -> Any: ...

    def evaluate(
        self, data: pl.DataFrame | Mapping[str, pl.DataFrame], *, reps: int | None = None
    ) -> dict[str, Any]: ...

    def portable(self) -> CoxModel | None: ...

    def artifacts(self) -> dict[str, bytes]: ...

    def save(self, folder: str | Path) -> Path: ...


class FittingApi(Protocol):
    """Fitting for notebooks (library; needs the ``ml`` extra when called, not when imported)."""

    def fit(
        self, data: pl.DataFrame | Mapping[str, pl.DataFrame], model: str = "deepsurv", **options: Any
    ) -> Fitted:
        """Fit ``model`` (cox, deepsurv, logistic_hazard, pcr) on a cohort's tables or a cohort
        frame. Options: ``features`` (full, clinical or a list), ``seed``, ``max_epochs``..."""
        ...

    def load_model(self, source: str | Path | Mapping[str, bytes]) -> Fitted:
        """A model saved with ``save`` (a folder) or its ``artifacts()``."""
        ...

    def cohort_frame(self, tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
        """One row per patient at the treatment decision: the features and the outcome."""
        ...


__all__ = [
    "FORMAT",
    "MODULE",
    "OVERALL_SURVIVAL",
    "PATHOLOGIC_RESPONSE",
    "TORCH_FORMAT",
    "Baseline",
    "CoxModel",
    "Feature",
    "Fitted",
    "FittingApi",
    "ModelCard",
    "ModelKind",
    "ModelNotFound",
    "ModelNotPortable",
    "Purpose",
    "RegistryApi",
    "Stage",
    "SurvivalModels",
    "SurvivalPoint",
    "card_id",
    "purpose_of_kind",
]
