"""What the training endpoints take and give (HTTP bodies)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from inescape.modules.training.api import Purpose

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9._-]*\Z")]
Filter = Literal[
    "sex", "histology", "location", "stage_group", "vital_status", "origin", "source", "min_age", "max_age"
]


class Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class DatasetRef(Strict, frozen=True, kw_only=True):
    """Where the cohort comes from: the clinical ``database`` (de-identified columns only,
    optionally filtered as the patient list is) or a generated ``dataset`` by id."""

    source: Literal["database", "dataset"]
    id: str | None = None
    filters: dict[Filter, str | int] = {}


class TrainingRequest(Strict, frozen=True, kw_only=True):
    """A training run: which model, on which data; the result is registered under ``name`` as
    a candidate version."""

    name: Name
    model: Literal["cox", "deepsurv", "logistic_hazard", "pcr"] = "cox"
    dataset: Annotated[
        DatasetRef | None,
        msgspec.Meta(description="Where the cohort comes from; leave it out when cohort_id names one."),
    ] = None
    cohort_id: Annotated[
        str | None,
        msgspec.Meta(
            description="A saved cohort's id (/api/v1/cohorts), instead of dataset: the run trains on "
            "the clinical database's records (de-identified columns) that cohort selects when it starts."
        ),
    ] = None
    features: Literal["full", "clinical"] | list[str] = "clinical"
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] = 0
    max_epochs: Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None = None
    patience: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    batch_size: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] | None = None
    lr: Annotated[float, msgspec.Meta(gt=0, le=1)] | None = None
    l2: Annotated[float, msgspec.Meta(ge=0, le=10)] | None = None
    hidden: list[Annotated[int, msgspec.Meta(ge=1, le=4096)]] | None = None
    dropout: Annotated[float, msgspec.Meta(ge=0, lt=1)] | None = None
    bootstrap: Annotated[int, msgspec.Meta(ge=0, le=2000)] = 200
    description: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    purpose: Annotated[
        Purpose | None,
        msgspec.Meta(
            description=(
                "The decision the model serves once promoted; by default what its kind answers "
                "(pathologic-response for pcr, overall-survival for the others)."
            )
        ),
    ] = None


class PromotionRequest(Strict, frozen=True, kw_only=True):
    """``allow_synthetic``: promote a model trained on synthetic data only (recorded, with the
    reason, on the model card)."""

    allow_synthetic: bool = False
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class GateResult(msgspec.Struct, frozen=True, kw_only=True):
    gate: str
    passed: bool
    detail: str


class RunView(msgspec.Struct, frozen=True, kw_only=True):
    id: str  # the job's id
    status: str
    progress: float
    name: str
    model: str
    dataset: dict[str, Any]
    features: list[str] | str
    settings: dict[str, Any]
    code_version: str
    history: list[dict[str, float]] = []
    metrics: dict[str, float] = {}
    version: int | None = None  # the registered version, once done
    error: str | None = None
    created_at: str | None = None
    finished_at: str | None = None
