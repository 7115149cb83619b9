"""Public face of generation: its DTOs, errors and the facades other modules and notebooks call.

- ``GeneratorApi`` (no backend): calibrated synthetic cohorts in memory or to files.
  In a notebook, from ``inescape.notebook``::

      frames = generator.generate("us-seer", 10_000, seed=7)   # polars DataFrames, one per table
      frames["patients"].group_by("histology").len()

- ``DatasetsApi`` (bound: documents and storage): the datasets, generated and collected.
  Generation owns the ``dataset_metadata`` document collection and the layout of the
  ``datasets`` bucket; collection and training read and write datasets only through it.
- ``GenerationApi`` (bound): a cohort loaded into the clinical database as a job loads it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import msgspec
from msgspec import UNSET, UnsetType

from inescape.kernel.errors import Forbidden, Invalid, NotFound

if TYPE_CHECKING:
    import polars as pl

MODULE = "generation"
DATASETS = "dataset_metadata"  # the document collection of every dataset's metadata
PROFILES = "generation_profiles"  # user-added profiles
FIT_NAMES = "generation_fit_names"  # the names fits took (one document per name, taken by inserting it)
BUCKET = "datasets"
GENERATOR_VERSION = "inescape-generation/1"
TABLES = ("patients", "conditions", "staging", "biomarkers", "treatments", "observations")


# --- errors --------------------------------------------------------------------------------


class ProfileInvalid(Invalid):
    """The profile breaks a rule; ``errors`` holds one ``{"field", "message"}`` per problem."""


class ProfileNotFound(NotFound):
    """No profile (shipped or added) has this name."""


class DatasetNotFound(NotFound):
    """No dataset has this id, or it has no such file."""


# --- DTOs ----------------------------------------------------------------------------------


class Quota(msgspec.Struct, frozen=True, kw_only=True):
    """``Quota(where={"histology": "adenocarcinoma", "stage_group": "III"}, share=1.0)``: a
    share of the whole cohort whose joint-table fields take these values, met exactly."""

    where: dict[str, str | list[str]]
    share: float


Verdict = Literal["passed", "failed", "insufficient"]


class TargetResult(msgspec.Struct, frozen=True, kw_only=True):
    """One target judged at the cohort's size (``fidelity.verdict`` defines the three verdicts)."""

    name: str
    target: float
    achieved: float | None  # None: the cohort has no patient the target is about
    tolerance: float
    ok: bool  # verdict == "passed"
    n: int  # patients (or rows) the achieved value rests on
    source: str  # the publication the target comes from
    verdict: Verdict | None = None  # None only in reports made before verdicts (read ``ok``)
    lower: float | None = None  # the achieved value's confidence interval; upper is None
    upper: float | None = None  # also for a median survival whose upper bound is not reached
    confidence: float = 0.95  # the interval's level


class StageSurvival(msgspec.Struct, frozen=True, kw_only=True):
    """Kaplan-Meier overall survival by clinical stage (cTNM, A/B groups pooled)."""

    stage: str
    patients: int
    deaths: int
    survival: dict[str, float | None]  # "1y", "3y", "5y"


class Privacy(msgspec.Struct, frozen=True, kw_only=True):
    """Disclosure risk against real training data: only meaningful for a profile fitted to data."""

    status: str
    metrics: dict[str, float] = msgspec.field(default_factory=dict)


class FidelityReport(msgspec.Struct, frozen=True, kw_only=True):
    profile: str
    version: str
    patients: int
    all_ok: bool  # every target passed
    targets: list[TargetResult]
    survival_by_stage: list[StageSurvival]
    km_svg: str  # Kaplan-Meier curves by clinical stage
    privacy: Privacy
    failed: int = 0  # targets whose whole interval lies outside target ± tolerance
    insufficient: int = 0  # targets with too few patients to judge


class DatasetFile(msgspec.Struct, frozen=True, kw_only=True):
    """One stored file of a dataset."""

    name: str  # "patients.parquet", "cohort.ndjson"
    table: str | None  # None for the FHIR NDJSON (every table in one)
    format: str  # "parquet", "csv" or "ndjson"
    key: str  # in the datasets bucket
    rows: int
    bytes: int
    sha256: str


class DatasetInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A dataset's metadata, as ``GET /api/v1/datasets/{id}`` shows it. Fields of the other
    kind stay ``UNSET`` (falsy, and left out of the document)."""

    id: str
    kind: str  # "synthetic" (generated) or "collected"
    origin: str  # "synthetic" or "real"
    created_at: str  # ISO 8601
    # a generated dataset's
    profile: str | UnsetType = UNSET
    profile_version: str | UnsetType = UNSET
    seed: int | UnsetType = UNSET
    n: int | UnsetType = UNSET
    quotas: list[dict[str, Any]] | UnsetType = UNSET
    outputs: list[str] | UnsetType = UNSET
    generator_version: str | UnsetType = UNSET
    files: list[DatasetFile] | UnsetType = UNSET
    rows: dict[str, int] | UnsetType = UNSET
    fidelity: dict[str, Any] | UnsetType = UNSET
    # generated from a profile fitted to real patients: the source, profile and ε spent, and
    # its release (held for researchers until its privacy report passes or a steward decides)
    derived_from: dict[str, Any] | UnsetType = UNSET
    release: dict[str, Any] | UnsetType = UNSET
    # a collected dataset's
    source: str | UnsetType = UNSET
    connector: str | UnsetType = UNSET
    config: dict[str, Any] | UnsetType = UNSET
    research_only: bool | UnsetType = UNSET
    started_at: str | UnsetType | None = UNSET
    finished_at: str | UnsetType = UNSET
    counts: dict[str, int] | UnsetType = UNSET
    payloads: list[dict[str, Any]] | UnsetType = UNSET

    def file(self, name: str) -> DatasetFile | None:
        """The file called ``name``, if the dataset has one."""
        return next((f for f in self.files or [] if f.name == name), None)

    def tables(self, fmt: str = "parquet") -> dict[str, DatasetFile]:
        """Table name -> its file in format ``fmt`` (a collected dataset has none)."""
        return {f.table: f for f in self.files or [] if f.table in TABLES and f.format == fmt}


class DatasetHeld(Forbidden):
    """A dataset derived from real patients, not released to researchers yet."""


def check_release(info: DatasetInfo, *, researcher_only: bool) -> None:
    """Researchers read (and train on) a dataset derived from real patients only once it is
    released; ``DatasetHeld`` (403) otherwise."""
    release = info.release or {}
    if researcher_only and release and release.get("status") != "released":
        raise DatasetHeld(
            f"dataset {info.id} is derived from real patients and held until its privacy report "
            "passes the data steward's thresholds or a data steward releases it"
        )


# --- facades -------------------------------------------------------------------------------


class DatasetsApi(Protocol):
    """The datasets: metadata in the ``dataset_metadata`` collection, files in the ``datasets``
    bucket. The only way other modules read or write either; keys are made here."""

    async def describe(self, dataset_id: str) -> DatasetInfo:
        """The dataset's metadata. Raises ``DatasetNotFound`` (404) for an unknown id."""
        ...

    async def latest(self, *, limit: int = 200, skip: int = 0) -> list[DatasetInfo]:
        """Datasets, newest first (``created_at`` descending), at most ``limit`` after the
        first ``skip``."""
        ...

    async def register(self, info: DatasetInfo) -> None:
        """Write a dataset's metadata; idempotent: registering the same id again (a retried
        job) replaces it."""
        ...

    async def read_file(self, dataset_id: str, name: str) -> bytes:
        """The whole bytes of the dataset's file ``name`` (as listed in ``info.files``).
        Raises ``DatasetNotFound`` for an unknown dataset or file."""
        ...

    def upload_key(self, upload_id: str, filename: str | None = None) -> str:
        """The key in the ``datasets`` bucket where an upload's raw bytes go
        (``collection/upload/<id>/payload``; the filename is kept in the upload's record)."""
        ...

    def payload_key(self, job_id: str, page: int) -> str:
        """The key of a collection job's raw page ``page`` (``collection/run/<job>/page-NNNNN.json``)."""
        ...

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        """Store ``data`` at ``key`` (a key made by ``upload_key`` or ``payload_key``)."""
        ...

    async def put_stream(self, key: str, chunks: AsyncIterator[bytes], *, content_type: str) -> int:
        """Store the chunks at ``key`` as they arrive, never whole in memory; the bytes stored.
        An exception raised by ``chunks`` leaves no object behind."""
        ...

    def stream(self, key: str) -> AsyncIterator[bytes]:
        """The object at ``key``, chunk by chunk."""
        ...


class KnobChange(msgspec.Struct, frozen=True, kw_only=True):
    """A calibrated value: its paths in the profile (moved together), before and after."""

    paths: list[str]  # moved together
    before: float
    after: float


class TargetChange(msgspec.Struct, frozen=True, kw_only=True):
    """A target's achieved value before and after a calibration."""

    name: str
    target: float
    tolerance: float
    before: float | None
    after: float | None
    use_before: float | None  # |achieved - target| / tolerance; above 1 is outside
    use_after: float | None


class Calibration(msgspec.Struct, frozen=True, kw_only=True):
    """What ``GeneratorApi.calibrate`` found (``generation.calibration`` says how)."""

    profile: str
    patients: int
    seed: int
    evaluations: int
    knobs: list[KnobChange]
    targets: list[TargetChange]
    objective_before: float
    objective_after: float


class GeneratorApi(Protocol):
    """Synthetic cohorts without a server. ``profile`` arguments take a shipped profile's
    name, a ``.toml`` path, or a ``Profile``; ``quotas`` take ``Quota``s, dicts or JSON text."""

    def profile(self, name_or_path: str | Any) -> Any:
        """The ``Profile``; ``ProfileNotFound`` / ``ProfileInvalid`` naming the field."""
        ...

    def profiles(self) -> list[Any]:
        """The shipped profiles, by name."""
        ...

    def parse_profile(self, text: str, *, source: str = "<text>") -> Any:
        """A profile written in TOML, checked; ``ProfileInvalid`` names every field to fix."""
        ...

    def quotas(self, quotas: Sequence[Quota | Mapping[str, Any] | str]) -> list[Quota]:
        """The quotas, read; ``Invalid`` naming ``quotas[i]`` for a malformed one."""
        ...

    def generate(
        self,
        profile: str | Any,
        n: int,
        *,
        seed: int = 0,
        quotas: Sequence[Quota | Mapping[str, Any] | str] = (),
    ) -> dict[str, pl.DataFrame]:
        """The whole cohort in memory, one DataFrame per table (``TABLES``)."""
        ...

    def chunks(
        self,
        profile: str | Any,
        n: int,
        *,
        seed: int = 0,
        quotas: Sequence[Quota | Mapping[str, Any] | str] = (),
        chunk_size: int = 50_000,
    ) -> Iterator[Any]:
        """The cohort as consecutive ``Cohort`` chunks (``.frames()``, ``.size``); the same
        bytes whatever ``chunk_size``. An impossible quota raises before the first chunk."""
        ...

    def to_records(self, cohort: Any) -> list[dict[str, Any]]:
        """A chunk as clinical-record dicts (``PatientCreate``'s shape)."""
        ...

    def fidelity_report(self, profile: str | Any, frames: Any) -> FidelityReport:
        """Each target against the profile's tolerance, survival by stage and its SVG.
        ``frames``: a ``Cohort``, its frames by table, or concatenated ``fidelity_frame``s."""
        ...

    def fidelity_frame(self, cohort: Any) -> pl.DataFrame:
        """A chunk reduced to the one row per patient ``fidelity_report`` reads."""
        ...

    def calibrate(
        self,
        profile: str,
        knobs: Sequence[str],
        *,
        targets: Sequence[str] = (),
        patients: int = 100_000,
        seed: int = 2024,
        max_evaluations: int = 60,
        progress: Callable[[int, float], None] | None = None,
    ) -> Calibration:
        """Values of a profile's free parameters (``knobs``: dotted paths into its TOML) that
        bring its targets (names starting with one of ``targets``; all when empty) toward
        their figures, judged on cohorts of ``patients`` generated with ``seed``; ``Invalid``
        for a path that names no positive number. Nothing is written: the values are for the
        profile's author to put in it, with their source."""
        ...

    def write_files(
        self,
        profile: str | Any,
        n: int,
        *,
        seed: int = 0,
        out: Path,
        quotas: Sequence[Quota | Mapping[str, Any] | str] = (),
        on_chunk: Callable[[int], Any] | None = None,
    ) -> tuple[list[Path], FidelityReport]:
        """Generate into ``out`` (``.parquet``, ``.csv`` or ``.ndjson``; each other table beside
        it as ``<stem>.<table><suffix>``) chunk by chunk; the paths and the fidelity report."""
        ...


class LoadedCohort(msgspec.Struct, frozen=True, kw_only=True):
    """A cohort loaded into the clinical database outside a job: its dataset record's id
    (``GET /api/v1/datasets/{id}``) and the patients loaded."""

    dataset_id: str
    loaded: int


class GenerationApi(Protocol):
    """Generation's bound use cases other edges (the CLI) call."""

    async def load_cohort(
        self,
        *,
        profile: str | Any,
        n: int,
        seed: int = 0,
        quotas: Sequence[Quota | Mapping[str, Any] | str] = (),
        on_chunk: Callable[[int], Any] | None = None,
        by: str = "cli",
    ) -> LoadedCohort:
        """Generate and load the cohort into the clinical database chunk by chunk, one
        transaction each, through the same path as a job's ``database`` output; recorded as
        a dataset (with its fidelity report) as a job's is, and audited as done ``by`` that
        user. Refused before anything is written while the audit store is down."""
        ...


class ProfileFittingApi(Protocol):
    """Profiles fitted to stored patients (bound), for edges outside a request (the CLI)."""

    async def fit_profile(
        self,
        *,
        name: str,
        source: str | None,
        prior: str = "global",
        epsilon: float | None = None,
        by: str = "cli",
        cohort_id: str | None = None,
    ) -> dict[str, Any]:
        """Fit ``prior`` to the patients of ``source`` and/or of the saved cohort ``cohort_id``
        (ε-DP with ``epsilon``, spending the source's privacy budget) and store it as profile
        ``name``; its provenance. Audited as done ``by`` that user; refused before anything is
        read while the audit store is down."""
        ...


def report_lines(report: FidelityReport) -> list[str]:
    """The fidelity summary as the CLI prints it."""
    targets = report.targets
    passed = sum(t.verdict == "passed" for t in targets)
    lines = [
        f"fidelity: {passed} of {len(targets)} targets within the profile's tolerance, "
        f"{report.failed} failed, {report.insufficient} with too few patients to judge"
        + (f" (intervals at {targets[0].confidence:.2%})" if targets else "")
    ]
    for t in targets:
        if t.verdict != "passed":
            label = "FAILED" if t.verdict == "failed" else "TOO FEW"
            lines.append(
                f"  {label} {t.name}: {_interval(t)} vs {t.target:.3f} ± {t.tolerance:.3f} (n={t.n})"
            )
    return lines


def _interval(t: TargetResult) -> str:
    if t.achieved is None:
        return "no estimate"
    upper = "not reached" if t.upper is None else f"{t.upper:.3f}"
    lower = "-" if t.lower is None else f"{t.lower:.3f}"
    return f"{t.achieved:.3f} [{lower}, {upper}]"


__all__ = [
    "BUCKET",
    "DATASETS",
    "FIT_NAMES",
    "GENERATOR_VERSION",
    "MODULE",
    "PROFILES",
    "TABLES",
    "Calibration",
    "DatasetFile",
    "DatasetInfo",
    "DatasetNotFound",
    "DatasetsApi",
    "FidelityReport",
    "GenerationApi",
    "GeneratorApi",
    "KnobChange",
    "LoadedCohort",
    "Privacy",
    "ProfileFittingApi",
    "ProfileInvalid",
    "ProfileNotFound",
    "Quota",
    "StageSurvival",
    "TargetChange",
    "TargetResult",
    "report_lines",
]
