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
    gate: Annotated[str, msgspec.Meta(description="The gate: discrimination, calibration or clinical_data.")]
    passed: Annotated[bool, msgspec.Meta(description="true: the version meets it.")]
    detail: Annotated[str, msgspec.Meta(description="What was measured against what, in words.")]


class GateList(msgspec.Struct, frozen=True, kw_only=True):
    """The promotion gates of a version, as every list is: the items and the next page's cursor."""

    items: Annotated[
        list[GateResult], msgspec.Meta(description="Each gate and whether the version meets it.")
    ]
    next_cursor: Annotated[
        str | None,
        msgspec.Meta(description="Always null: this list is not paged (every item is in items)."),
    ] = None


Metrics = dict[str, float | None]


class RunSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A training run as it was last written (a run not started yet holds only its id)."""

    id: Annotated[str, msgspec.Meta(description="The run's id (its job's).")]
    name: Annotated[str, msgspec.Meta(description="The model's name in the registry.")] = ""
    model: Annotated[str, msgspec.Meta(description="cox, deepsurv, logistic_hazard or pcr.")] = ""
    dataset: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="Where the cohort came from (source database, dataset or cohort, and its id)."
        ),
    ] = {}
    features: Annotated[
        list[str] | str, msgspec.Meta(description="clinical, full, or the list of feature names asked for.")
    ] = "clinical"
    settings: Annotated[dict[str, Any], msgspec.Meta(description="The whole TrainingRequest.")] = {}
    code_version: Annotated[
        str, msgspec.Meta(description="The platform's version (and commit) that trained it.")
    ] = ""
    stage: Annotated[
        str, msgspec.Meta(description="What the run last wrote: training, failed or registered.")
    ] = ""
    updated_at: Annotated[str, msgspec.Meta(description="When it last wrote (ISO 8601).")] = ""
    metrics: Annotated[
        Metrics,
        msgspec.Meta(
            description="Once registered: the test split's metrics (c_index, ibs, auc, ...); null: not "
            "measurable."
        ),
    ] = {}
    version: Annotated[
        int | None, msgspec.Meta(description="The version it registered; null or absent until then.")
    ] = None


class RunList(msgspec.Struct, frozen=True, kw_only=True):
    """Training runs, as every list is: the items and the next page's cursor."""

    items: Annotated[
        list[RunSummary], msgspec.Meta(description="The runs, newest first, without their history.")
    ]
    next_cursor: Annotated[
        str | None,
        msgspec.Meta(description="Always null: this list is not paged (every item is in items)."),
    ] = None


class RunDetail(RunSummary, frozen=True, kw_only=True):
    """A run: its job's state with what the run wrote."""

    status: Annotated[
        str,
        msgspec.Meta(description="The job's state: queued, running, succeeded, failed or cancelled."),
    ]
    progress: Annotated[float, msgspec.Meta(description="How far it is, 0 to 1.")]
    epochs: Annotated[int, msgspec.Meta(description="Epochs done so far.")]
    error: Annotated[str | None, msgspec.Meta(description="Why it failed; null unless it failed.")]
    params: Annotated[dict[str, Any], msgspec.Meta(description="The job's parameters (the request).")]
    created_at: Annotated[str, msgspec.Meta(description="When it was submitted (ISO 8601).")]
    finished_at: Annotated[
        str | None, msgspec.Meta(description="When it ended (ISO 8601); null while it runs.")
    ]
    history: Annotated[
        list[dict[str, float | None]],
        msgspec.Meta(
            description="Per epoch: epoch, loss, val_loss and (every few epochs) val_metric; null: not "
            "measured that epoch."
        ),
    ] = []


class ModelName(msgspec.Struct, frozen=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(description="The model's name.")]
    versions: Annotated[int, msgspec.Meta(description="How many versions it has.")]
    production: Annotated[
        int | None, msgspec.Meta(description="Its production version; null: none in production.")
    ]
    latest: Annotated[int, msgspec.Meta(description="Its newest version.")]
    purpose: Annotated[
        str,
        msgspec.Meta(
            description="The decision its production (else newest) version serves: overall-survival or "
            "pathologic-response."
        ),
    ]
    serving: Annotated[
        bool,
        msgspec.Meta(description="true: its production version is the one answering that purpose now."),
    ]


class ModelList(msgspec.Struct, frozen=True, kw_only=True):
    """The registry's model names, as every list is: the items and the next page's cursor."""

    items: Annotated[list[ModelName], msgspec.Meta(description="Each model name.")]
    next_cursor: Annotated[
        str | None,
        msgspec.Meta(description="Always null: this list is not paged (every item is in items)."),
    ] = None


class ModelVersion(msgspec.Struct, frozen=True, kw_only=True):
    """A version's model card (the list and a promotion leave its report out)."""

    name: Annotated[str, msgspec.Meta(description="The model's name.")]
    version: Annotated[int, msgspec.Meta(description="The version's number (1, 2, ...).")]
    task: Annotated[str, msgspec.Meta(description="survival or classification.")]
    format: Annotated[
        str,
        msgspec.Meta(
            description="inescape.cox.v1 (decision support evaluates it itself) or inescape.torch.v1."
        ),
    ]
    stage: Annotated[
        Literal["candidate", "production", "archived"],
        msgspec.Meta(description="candidate (new), production (in use) or archived (replaced)."),
    ]
    artifact: Annotated[str, msgspec.Meta(description="The model's key in the models bucket.")]
    created_at: Annotated[str, msgspec.Meta(description="When it was registered (ISO 8601).")]
    promoted_at: Annotated[
        str | None, msgspec.Meta(description="When it was promoted (ISO 8601); null: never.")
    ] = None
    metrics: Annotated[
        Metrics,
        msgspec.Meta(
            description="The test split's metrics with their 95 % bounds (c_index, ibs, auc_1y, ...); "
            "null: not measurable."
        ),
    ] = {}
    trained_on: Annotated[
        dict[str, Any],
        msgspec.Meta(description="Its data: dataset, rows per split, origins (real, synthetic), features."),
    ] = {}
    description: Annotated[str, msgspec.Meta(description="What it is for, in words.")] = ""
    kind: Annotated[str, msgspec.Meta(description="cox, deepsurv, logistic_hazard or pcr.")] = "cox"
    artifacts: Annotated[
        dict[str, str], msgspec.Meta(description="Each of its files (weights, preprocessing, card) -> key.")
    ] = {}
    run_id: Annotated[
        str | None, msgspec.Meta(description="The training run that made it; null: registered otherwise.")
    ] = None
    settings: Annotated[
        dict[str, Any], msgspec.Meta(description="Its hyper-parameters, seed and split.")
    ] = {}
    code_version: Annotated[str, msgspec.Meta(description="The platform's version that trained it.")] = ""
    report: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description="GET of one version only: calibration by decile, subgroups and training history."
        ),
    ] = {}
    promotion: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(description="Who promoted it, when, the gates and any override; null: not promoted."),
    ] = None
    purpose: Annotated[
        str,
        msgspec.Meta(
            description="The decision it serves (overall-survival, pathologic-response); its production "
            "version answers it."
        ),
    ] = ""


class VersionList(msgspec.Struct, frozen=True, kw_only=True):
    """Every version of a model, as every list is: the items and the next page's cursor."""

    items: Annotated[
        list[ModelVersion], msgspec.Meta(description="Each version's model card, without its report.")
    ]
    next_cursor: Annotated[
        str | None,
        msgspec.Meta(description="Always null: this list is not paged (every item is in items)."),
    ] = None


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
