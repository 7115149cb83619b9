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

    source: Annotated[
        Literal["database", "dataset"],
        msgspec.Meta(
            description=(
                "database: the clinical database's patients, de-identified; dataset: a generated "
                "dataset's files, named by id."
            )
        ),
    ]
    id: Annotated[
        str | None,
        msgspec.Meta(
            description="The dataset's id (GET /api/v1/datasets) when source is dataset; null otherwise."
        ),
    ] = None
    filters: Annotated[
        dict[Filter, str | int],
        msgspec.Meta(
            description=(
                "For source database, which patients, as the patient list filters them: sex, histology, "
                "location, stage_group, vital_status, origin (real or synthetic), source, and "
                "min_age / max_age in years. Empty: every patient."
            )
        ),
    ] = {}


class TrainingRequest(Strict, frozen=True, kw_only=True):
    """A training run: which model, on which data; the result is registered under ``name`` as
    a candidate version."""

    name: Annotated[
        Name,
        msgspec.Meta(
            description=(
                "The model's name in the registry (lower case, digits, . _ -); each run adds a "
                "candidate version under it."
            )
        ),
    ]
    model: Annotated[
        Literal["cox", "deepsurv", "logistic_hazard", "pcr"],
        msgspec.Meta(
            description=(
                "cox (linear Cox proportional hazards), deepsurv (a neural Cox model), "
                "logistic_hazard (discrete-time survival on 20 intervals) or pcr (the probability "
                "of a pathologic complete response)."
            )
        ),
    ] = "cox"
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
    features: Annotated[
        Literal["full", "clinical"] | list[str],
        msgspec.Meta(
            description=(
                "clinical (age, sex, histology, location, grade, cT, cN, cM, stage group, ECOG: what "
                "decision support can pass, so the model can answer risk questions), full (those with "
                "risk factors and the first-line plan) or a list of feature names."
            )
        ),
    ] = "clinical"
    seed: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=2**31 - 1,
            description=(
                "The seed of the split and the initial weights: the same seed and data give the same model."
            ),
        ),
    ] = 0
    max_epochs: (
        Annotated[
            int,
            msgspec.Meta(
                ge=1,
                le=10_000,
                description=(
                    "The most passes over the training split (at most the deployment's limit, 300 by "
                    "default); null: the model's default."
                ),
            ),
        ]
        | None
    ) = None
    patience: (
        Annotated[
            int,
            msgspec.Meta(
                ge=1,
                le=1000,
                description=(
                    "Epochs without a better validation loss before training stops; null: the model's "
                    "default."
                ),
            ),
        ]
        | None
    ) = None
    batch_size: (
        Annotated[
            int,
            msgspec.Meta(
                ge=0,
                le=1_000_000,
                description=(
                    "Patients per step; 0: the whole training split per step. Null: the model's default."
                ),
            ),
        ]
        | None
    ) = None
    lr: (
        Annotated[
            float,
            msgspec.Meta(gt=0, le=1, description="The optimiser's learning rate; null: the model's default."),
        ]
        | None
    ) = None
    l2: (
        Annotated[
            float,
            msgspec.Meta(
                ge=0, le=10, description="The weight decay (L2 penalty); null: the model's default."
            ),
        ]
        | None
    ) = None
    hidden: Annotated[
        list[Annotated[int, msgspec.Meta(ge=1, le=4096)]] | None,
        msgspec.Meta(
            description=(
                "The width of each hidden layer, for deepsurv and logistic_hazard (pcr: a network "
                "with them, a linear model with []; cox ignores it); null: the model's default."
            )
        ),
    ] = None
    dropout: (
        Annotated[
            float,
            msgspec.Meta(
                ge=0, lt=1, description="The dropout rate after each hidden layer; null: the model's default."
            ),
        ]
        | None
    ) = None
    bootstrap: Annotated[
        int,
        msgspec.Meta(
            ge=0,
            le=2000,
            description=(
                "Bootstrap resamples of the test split for the metrics' 95 % intervals; 0: no intervals."
            ),
        ),
    ] = 200
    description: Annotated[
        str,
        msgspec.Meta(max_length=2000, description="What the run is for, in words, kept on the model card."),
    ] = ""
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

    allow_synthetic: Annotated[
        bool,
        msgspec.Meta(
            description=(
                "Promote a model trained on synthetic (or not only real) data; without it the "
                "clinical-data gate fails with a 409. Recorded on the model card."
            )
        ),
    ] = False
    reason: Annotated[
        str,
        msgspec.Meta(
            max_length=2000, description="Why it is promoted, in words, recorded on the model card."
        ),
    ] = ""


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
