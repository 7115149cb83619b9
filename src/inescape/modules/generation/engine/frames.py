"""A generated cohort as polars DataFrames, one per part of the clinical record.

Columns are the fields of ``PatientCreate`` and its children; child frames carry ``patient_id``.
``patients`` flattens the risk factors (prefixed ``rf_``) and the outcome (``cause_of_death``:
``CANCER_DEATH`` or ``OTHER_DEATH``), and adds ``id`` (the patient's UUID), ``synthetic_risk``
(the true log cumulative cancer hazard at 5 years), ``synthetic_effect`` (the true individual
treatment effect, a log hazard ratio: ``engine.effects``) and ``GENERATED_COLUMNS``. The two
``synthetic_`` columns are the generator's truth, for oracle metrics: no clinical fact, and not
part of a clinical record (``records.to_records`` leaves ``synthetic_effect`` out).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

import polars as pl

RISK_COLUMNS = (
    "rf_tobacco",
    "rf_pack_years",
    "rf_alcohol_g_per_day",
    "rf_opium",
    "rf_hot_beverages",
    "rf_gerd",
    "rf_barretts",
    "rf_bmi",
    "rf_family_history",
    "rf_socioeconomic_status",
)
OUTCOME_COLUMNS = (
    "vital_status",
    "last_follow_up",
    "death_date",
    "cause_of_death",
    "recurrence_date",
    "recurrence_site",
    "progression_date",  # patients not made disease-free
)
# What the generator knows beyond the clinical record (``PatientCreate``): whether curative
# treatment left the patient without disease and a clinical complete response after definitive
# chemoradiation (null for other pathways). They travel in the dataset files, not into the
# clinical core.
GENERATED_COLUMNS = ("disease_free", "clinical_complete_response")
CANCER_DEATH = "esophageal cancer"
OTHER_DEATH = "other causes"
PATIENT_COLUMNS = (
    "id",
    "sex",
    "birth_date",
    "given_name",
    "family_name",
    "mrn",
    "national_id",
    "ethnicity",
    "country",
    "province",
    "address",
    "phone",
    "email",
    "origin",
    "source",
    "source_record_id",
    "synthetic_risk",
    "synthetic_effect",
    *RISK_COLUMNS,
    *OUTCOME_COLUMNS,
    *GENERATED_COLUMNS,
)
STRING_LIST = pl.List(pl.String)
SCHEMAS: dict[str, dict[str, pl.DataType | type[pl.DataType]]] = {
    "conditions": {
        "patient_id": pl.String,
        "diagnosis_date": pl.Date,
        "histology": pl.String,
        "morphology_code": pl.String,
        "topography_code": pl.String,
        "location": pl.String,
        "siewert": pl.String,
        "grade": pl.String,
        "tumour_length_cm": pl.Float64,
    },
    "staging": {
        "patient_id": pl.String,
        "kind": pl.String,
        "t": pl.String,
        "n": pl.String,
        "m": pl.String,
        "stage_group": pl.String,
        "assessed_on": pl.Date,
        "grade": pl.String,
        "location": pl.String,
        "method": pl.String,
    },
    "biomarkers": {"patient_id": pl.String, "kind": pl.String, "value": pl.String, "measured_on": pl.Date},
    "treatments": {
        "patient_id": pl.String,
        "kind": pl.String,
        "start_date": pl.Date,
        "end_date": pl.Date,
        "intent": pl.String,
        "procedure": pl.String,
        "regimen": pl.String,
        "agents": STRING_LIST,
        "line": pl.Int64,
        "margin": pl.String,
        "dose_gy": pl.Float64,
        "fractions": pl.Int64,
        "pathologic_complete_response": pl.Boolean,
        "tumour_regression_grade": pl.Int64,
    },
    "observations": {
        "patient_id": pl.String,
        "code": pl.String,
        "value": pl.Float64,
        "observed_on": pl.Date,
        "unit": pl.String,
    },
}


@dataclass(frozen=True)
class Cohort:
    """One chunk (or several, concatenated) of generated patients."""

    patients: pl.DataFrame
    conditions: pl.DataFrame
    staging: pl.DataFrame
    biomarkers: pl.DataFrame
    treatments: pl.DataFrame
    observations: pl.DataFrame

    def frames(self) -> dict[str, pl.DataFrame]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @property
    def size(self) -> int:
        return self.patients.height


def concat(cohorts: Iterable[Cohort]) -> Cohort:
    """Chunks put together, in order."""
    parts = list(cohorts)
    return Cohort(**{f.name: pl.concat([getattr(c, f.name) for c in parts]) for f in fields(Cohort)})
