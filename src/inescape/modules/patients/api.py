"""Public surface of the clinical core: the record's DTOs, errors, and the functions a
notebook needs (``load_cohort`` and the survival analytics) without a server."""

from __future__ import annotations

from inescape.modules.patients.analytics import (
    LogRankResult,
    age_distribution,
    age_summary,
    counts,
    histogram_svg,
    kaplan_meier,
    km_svg,
    log_rank,
    median_survival,
    number_at_risk,
)
from inescape.modules.patients.cohort import load_cohort, survival_frame
from inescape.modules.patients.fhir import from_bundle, to_bundle, to_ndjson
from inescape.modules.patients.schemas import (
    Biomarker,
    Condition,
    Observation,
    Outcome,
    PatientCreate,
    PatientRecord,
    PatientSummary,
    PatientUpdate,
    RiskFactors,
    Staging,
    Treatment,
)
from inescape.modules.patients.service import PatientNotFound

MODULE = "patients"

__all__ = [
    "MODULE",
    "Biomarker",
    "Condition",
    "LogRankResult",
    "Observation",
    "Outcome",
    "PatientCreate",
    "PatientNotFound",
    "PatientRecord",
    "PatientSummary",
    "PatientUpdate",
    "RiskFactors",
    "Staging",
    "Treatment",
    "age_distribution",
    "age_summary",
    "counts",
    "from_bundle",
    "histogram_svg",
    "kaplan_meier",
    "km_svg",
    "load_cohort",
    "log_rank",
    "median_survival",
    "number_at_risk",
    "survival_frame",
    "to_bundle",
    "to_ndjson",
]
