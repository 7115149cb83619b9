"""The platform from a notebook, without a server::

    from inescape.notebook import generate, fit, stage, recommend, load_cohort, kaplan_meier

    frames = generate("us-seer", 20_000, seed=1)
    model = fit(frames, model="deepsurv", seed=1)
    stage(kind="clinical", histology="adenocarcinoma", t="T3", n="N1", m="M0")
    km = kaplan_meier(load_cohort(wide=True), group="histology")

Each function is a module's facade, built by the composition root: the backend-free ones from
the module's ``library`` (staging, generation, fitting, survival estimates, FHIR codecs), and
``load_cohort`` from the same settings and key-ring rule as ``inescape serve``.
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar, cast

from inescape.modules.cds.api import StagingApi
from inescape.modules.generation.api import GeneratorApi
from inescape.modules.patients.api import ClinicalCodecs, unknown_filters
from inescape.modules.training.api import FittingApi, SurvivalModels
from inescape.runtime.wiring import library, open_cohort_reader

F = TypeVar("F")


_built: dict[type, Any] = {}


def _face(face: type[F]) -> F:
    """The library facade, built once per process."""
    if face not in _built:
        _built[face] = library(face)
    return cast(F, _built[face])


# --- decision support -------------------------------------------------------------------------
def stage(**inputs: Any) -> Any:
    """AJCC 8th stage group: ``stage(kind="pathological", histology=..., t=..., n=..., m=...,
    grade=..., location=...)``; ``StagingError`` names what is missing or invalid."""
    return _face(StagingApi).stage(**inputs)


def recommend(facts: Any = None, **values: Any) -> Any:
    """Guideline options for a patient's facts, with what more data would decide."""
    return _face(StagingApi).recommend(facts, **values)


# --- synthetic cohorts ------------------------------------------------------------------------
def generate(profile: Any, n: int, *, seed: int = 0, quotas: Any = ()) -> dict[str, Any]:
    """A synthetic cohort in memory, one polars DataFrame per table."""
    return _face(GeneratorApi).generate(profile, n, seed=seed, quotas=quotas)


def list_profiles() -> list[Any]:
    """The shipped generator profiles."""
    return _face(GeneratorApi).profiles()


def get_profile(name_or_path: Any) -> Any:
    """A shipped profile by name, or a profile file."""
    return _face(GeneratorApi).profile(name_or_path)


def fidelity_report(profile: Any, frames: Any) -> Any:
    """Each target of ``profile`` against a generated cohort, with survival by stage."""
    return _face(GeneratorApi).fidelity_report(profile, frames)


# --- training ---------------------------------------------------------------------------------
def fit(data: Any, model: str = "deepsurv", **options: Any) -> Any:
    """Fit ``model`` (cox, deepsurv, logistic_hazard, pcr) on a cohort's tables (needs the
    ``ml`` extra); metrics on the held-out split, ``predict_survival``, ``save``."""
    return _face(FittingApi).fit(data, model, **options)


def load_model(source: Any) -> Any:
    """A model saved with ``save``."""
    return _face(FittingApi).load_model(source)


def cohort_frame(tables: Any) -> Any:
    """The features at the treatment decision, one row per patient."""
    return _face(FittingApi).cohort_frame(tables)


def load_portable(data: Any) -> Any:
    """A torch-free ``inescape.cox.v1`` survival model."""
    return _face(SurvivalModels).load_portable(data)


def predict(model: Any, facts: Any, **options: Any) -> Any:
    """Survival points of a portable model for one patient's facts."""
    return _face(SurvivalModels).predict(model, facts, **options)


# --- the clinical record and its analytics ----------------------------------------------------
def load_cohort(
    *, wide: bool = False, identifiers: bool = False, settings: Any = None, **filters: Any
) -> Any:
    """The stored cohort ``filters`` selects (the list endpoint's: ``histology``,
    ``stage_group``, ``sex``, ``min_age``...) from the configured database: one DataFrame per
    table, or with ``wide=True`` one row per patient with ``time`` (months) and ``event``,
    ready for ``kaplan_meier``. Identifying columns only with ``identifiers=True``, which needs
    the installation's encryption keys."""
    unknown_filters(filters)  # before any connection: a typo is not a whole-cohort read
    with open_cohort_reader(settings, identifiers=identifiers) as connection:
        return _face(ClinicalCodecs).read_cohort(
            connection, today=date.today(), wide=wide, identifiers=identifiers, filters=filters
        )


def cohort_survival(
    *,
    group: str | None = None,
    endpoint: str = "os",
    scheme: str | None = None,
    settings: Any = None,
    **filters: Any,
) -> Any:
    """The stored cohort's survival as the database tallies it (what the cohort endpoints
    read): one row per ``group`` value, ``time`` (months) and ``event`` with ``n`` patients,
    for ``kaplan_meier(frame, group=..., weight="n")`` and the rest. ``endpoint`` is os, pfs,
    dfs or css; ``scheme`` (clinical, pathological, post_neoadjuvant) for ``stage_group``."""
    options = {"group": group, "endpoint": endpoint, "scheme": scheme}
    with open_cohort_reader(settings) as connection:
        return _face(ClinicalCodecs).read_tallies(
            connection, today=date.today(), kind="survival", filters=filters, **options
        )


def cohort_counts(by: Any, *, scheme: str | None = None, settings: Any = None, **filters: Any) -> Any:
    """Diagnosed patients of the stored cohort per value of ``by`` (one ``GROUP BY``)."""
    columns = [by] if isinstance(by, str) else list(by)
    with open_cohort_reader(settings) as connection:
        return _face(ClinicalCodecs).read_tallies(
            connection, today=date.today(), kind="counts", filters=filters, by=columns, scheme=scheme
        )


def hazard_ratios(frame: Any, **options: Any) -> Any:
    """Cox hazard ratios of each group against a reference group (``reference``)."""
    return _face(ClinicalCodecs).hazard_ratios(frame, **options)


def kaplan_meier(frame: Any, **options: Any) -> Any:
    """Kaplan-Meier estimates (with confidence bands) of a survival frame, by ``group``."""
    return _face(ClinicalCodecs).kaplan_meier(frame, **options)


def median_survival(frame: Any, **options: Any) -> Any:
    """Median survival with its confidence interval, by ``group``."""
    return _face(ClinicalCodecs).median_survival(frame, **options)


def log_rank(frame: Any, **options: Any) -> Any:
    """The log-rank test between the groups of a survival frame."""
    return _face(ClinicalCodecs).log_rank(frame, **options)


def number_at_risk(frame: Any, **options: Any) -> Any:
    """Patients still at risk at given times, by group."""
    return _face(ClinicalCodecs).number_at_risk(frame, **options)


def km_svg(km_frame: Any, **options: Any) -> str:
    """A Kaplan-Meier plot as SVG."""
    return _face(ClinicalCodecs).km_svg(km_frame, **options)


def counts(frame: Any, by: Any) -> Any:
    """Patients per value of ``by``."""
    return _face(ClinicalCodecs).counts(frame, by)


def to_bundle(record: Any, **options: Any) -> dict[str, Any]:
    """A patient record as a FHIR R4 Bundle (mCODE profiles)."""
    return _face(ClinicalCodecs).to_bundle(record, **options)


def from_bundle(bundle: dict[str, Any]) -> Any:
    """A FHIR Bundle read into a patient record (``Invalid`` naming each problem)."""
    return _face(ClinicalCodecs).from_bundle(bundle)


__all__ = [
    "cohort_counts",
    "cohort_frame",
    "cohort_survival",
    "counts",
    "fidelity_report",
    "fit",
    "from_bundle",
    "generate",
    "get_profile",
    "hazard_ratios",
    "kaplan_meier",
    "km_svg",
    "list_profiles",
    "load_cohort",
    "load_model",
    "load_portable",
    "log_rank",
    "median_survival",
    "number_at_risk",
    "predict",
    "recommend",
    "stage",
    "to_bundle",
]
