"""From a cohort's tables to one row per patient: the features, the outcome and the labels.

**Prediction time** is the treatment decision: the start of the first treatment (for a patient
never treated, the end of the work-up: the clinical staging date, else the diagnosis date). A
feature is made only from what is recorded on or before it: the diagnosis, the clinical (cTNM)
staging, ECOG and BMI measured by then, the patient's risk factors, and the first-line plan
(which pathway, and whether it adds immunotherapy or trastuzumab). Nothing recorded later is
read: not the surgical margin, the pathologic response, post-neoadjuvant or pathological
staging, adjuvant treatment, later lines, recurrence, or any date of the outcome.
``tests/modules/training/test_features.py`` changes every later record and
checks that no feature moves.

The outcome is overall survival from diagnosis: ``time`` in months to death (``event`` 1) or to
the last follow-up (``event`` 0). ``pcr`` is the label of the pathologic-complete-response
classifier: the resection specimen's response after a neoadjuvant or perioperative plan (null for
everyone else). ``synthetic_risk`` (a synthetic cohort's true log cumulative hazard at 5 years)
is kept for the oracle C-index and ``synthetic_effect`` (its true individual treatment effect, a
log hazard ratio) for the oracle benefit; neither is ever a feature.

The tables are those ``generation.api.generate`` returns or ``patients.api.load_cohort`` reads
from the clinical database (their patient rows differ: risk factors as ``rf_*`` columns or as one
``risk_factors`` object, ``birth_date`` or ``birth_year``); both give the same frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import msgspec
import polars as pl

from inescape.kernel.errors import Invalid

MONTH_DAYS = 30.4375
ECOG_LOINC = "89247-1"
BMI_LOINC = "39156-5"
ICI_AGENTS = ("nivolumab", "pembrolizumab", "tislelizumab", "toripalimab", "camrelizumab", "sintilimab")


class FeatureSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One model input: ``numeric`` (imputed with the training median, then scaled) or
    ``categorical`` (one indicator per level seen in training, the commonest as reference)."""

    name: str
    kind: Literal["numeric", "categorical"]
    description: str


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec(name="age", kind="numeric", description="age at diagnosis, years"),
    FeatureSpec(name="sex", kind="categorical", description="female / male / other"),
    FeatureSpec(name="histology", kind="categorical", description="squamous cell / adenocarcinoma / other"),
    FeatureSpec(name="location", kind="categorical", description="cervical, upper, middle, lower, EGJ"),
    FeatureSpec(name="grade", kind="categorical", description="G1-G3, GX"),
    FeatureSpec(name="tumour_length_cm", kind="numeric", description="at diagnosis"),
    FeatureSpec(name="t", kind="categorical", description="clinical T (cT)"),
    FeatureSpec(name="n", kind="categorical", description="clinical N (cN)"),
    FeatureSpec(name="m", kind="categorical", description="clinical M (cM)"),
    FeatureSpec(name="stage_group", kind="categorical", description="AJCC 8th clinical stage group"),
    FeatureSpec(name="ecog", kind="numeric", description="ECOG performance status, last by prediction time"),
    FeatureSpec(name="bmi", kind="numeric", description="kg/m2, last by prediction time (else the recorded)"),
    FeatureSpec(name="tobacco", kind="categorical", description="never / former / current"),
    FeatureSpec(name="pack_years", kind="numeric", description="tobacco exposure"),
    FeatureSpec(name="alcohol_g_per_day", kind="numeric", description="alcohol intake"),
    FeatureSpec(name="opium", kind="categorical", description="opium use"),
    FeatureSpec(name="hot_beverages", kind="categorical", description="hot tea / beverages"),
    FeatureSpec(name="gerd", kind="categorical", description="reflux disease"),
    FeatureSpec(name="barretts", kind="categorical", description="Barrett's esophagus"),
    FeatureSpec(name="family_history", kind="categorical", description="of esophageal cancer"),
    FeatureSpec(name="socioeconomic_status", kind="categorical", description="low / middle / high"),
    FeatureSpec(name="pathway", kind="categorical", description="first-line plan (see plan_of)"),
    FeatureSpec(
        name="first_line_ici", kind="categorical", description="plan includes a checkpoint inhibitor"
    ),
    FeatureSpec(name="first_line_trastuzumab", kind="categorical", description="plan includes trastuzumab"),
)
# What decision support knows of a patient (cds ClinicalFacts): a model made only of these can
# answer POST /api/v1/cds/risk.
CLINICAL = ("age", "sex", "histology", "location", "grade", "t", "n", "m", "stage_group", "ecog")
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "full": tuple(f.name for f in FEATURES),
    "clinical": CLINICAL,
}
BY_NAME = {f.name: f for f in FEATURES}
OUTCOME = ("time", "event")
KEPT = ("id", "origin", "diagnosis_date", "prediction_date", "synthetic_risk", "synthetic_effect", "pcr")


def feature_names(selection: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """A named set (``full``, ``clinical``) or an explicit list, each name checked."""
    names = FEATURE_SETS.get(selection) if isinstance(selection, str) else tuple(selection)
    if names is None:
        raise Invalid(
            f"unknown feature set {selection!r}; choose one of {', '.join(FEATURE_SETS)} or list features",
            errors=[{"field": "features", "message": "unknown feature set"}],
        )
    unknown = [n for n in names if n not in BY_NAME]
    if unknown or not names:
        known = ", ".join(BY_NAME)
        raise Invalid(
            f"unknown features {', '.join(unknown) or '(none given)'}; the features are {known}",
            errors=[{"field": "features", "message": f"unknown: {', '.join(unknown)}"}],
        )
    return names


def _table(
    tables: Mapping[str, pl.DataFrame], name: str, schema: Mapping[str, pl.DataType | type[pl.DataType]]
) -> pl.DataFrame:
    frame = tables.get(name)
    if frame is None or frame.height == 0:
        return pl.DataFrame(schema=dict(schema))
    missing = [c for c in schema if c not in frame.columns]
    if missing:
        raise Invalid(f"the {name} table lacks {', '.join(missing)}")
    return frame.select([pl.col(c).cast(t) for c, t in schema.items()])


def _risk_factors(patients: pl.DataFrame) -> pl.DataFrame:
    """``rf_*`` columns, from the generator's flat columns or the database's JSON object."""
    if "risk_factors" in patients.columns and not any(c.startswith("rf_") for c in patients.columns):
        column = patients["risk_factors"]
        if column.dtype == pl.String:
            column = column.str.json_decode()
        if isinstance(column.dtype, pl.Struct):
            unnested = column.struct.unnest()
            return patients.with_columns(unnested.rename({c: f"rf_{c}" for c in unnested.columns}))
    return patients


def _rf(patients: pl.DataFrame, name: str, dtype: type[pl.DataType]) -> pl.Expr:
    column = f"rf_{name}"
    if column not in patients.columns:
        return pl.lit(None, dtype=dtype).alias(name)
    expr = pl.col(column)
    if dtype is pl.String:
        expr = expr.cast(pl.String)
    return expr.cast(dtype).alias(name)


def plan_of(treatments: pl.DataFrame) -> pl.DataFrame:
    """Per patient, the first-line plan from the treatments starting on the first treatment day:
    ``endoscopic_resection``, ``esophagectomy``, ``neoadjuvant_crt``, ``perioperative_chemo``,
    ``definitive_crt``, ``palliative_systemic``, ``other``; and whether it adds a checkpoint
    inhibitor or trastuzumab. Later treatments (surgery after neoadjuvant therapy, adjuvant,
    later lines) are after the prediction time."""
    if treatments.height == 0:
        return pl.DataFrame(
            schema={
                "patient_id": pl.String,
                "prediction_date": pl.Date,
                "pathway": pl.String,
                "first_line_ici": pl.String,
                "first_line_trastuzumab": pl.String,
            }
        )
    first = treatments.filter(pl.col("start_date") == pl.col("start_date").min().over("patient_id"))
    agents = pl.col("agents").list.join(" ").str.to_lowercase().fill_null("")
    regimen = pl.col("regimen").fill_null("").str.to_lowercase()
    plan = (
        first.with_columns(text=pl.concat_str([regimen, agents], separator=" "))
        .group_by("patient_id")
        .agg(
            prediction_date=pl.col("start_date").min(),
            kinds=pl.col("kind").unique(),
            intents=pl.col("intent").drop_nulls().unique(),
            text=pl.col("text").str.join(" "),
        )
    )
    kinds, intents = pl.col("kinds"), pl.col("intents")
    pathway = (
        pl.when(kinds.list.contains("endoscopic_resection"))
        .then(pl.lit("endoscopic_resection"))
        .when(kinds.list.contains("surgery"))
        .then(pl.lit("esophagectomy"))
        .when(intents.list.contains("neoadjuvant") & kinds.list.contains("radiotherapy"))
        .then(pl.lit("neoadjuvant_crt"))
        .when(intents.list.contains("neoadjuvant") | intents.list.contains("perioperative"))
        .then(pl.lit("perioperative_chemo"))
        .when(intents.list.contains("definitive") & kinds.list.contains("radiotherapy"))
        .then(pl.lit("definitive_crt"))
        .when(intents.list.contains("palliative"))
        .then(pl.lit("palliative_systemic"))
        .otherwise(pl.lit("other"))
    )
    ici = pl.col("text").str.contains("|".join(ICI_AGENTS))
    return plan.select(
        "patient_id",
        "prediction_date",
        pathway.alias("pathway"),
        pl.when(ici).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("first_line_ici"),
        pl.when(pl.col("text").str.contains("trastuzumab"))
        .then(pl.lit("yes"))
        .otherwise(pl.lit("no"))
        .alias("first_line_trastuzumab"),
    )


def _last_observation(observations: pl.DataFrame, code: str, name: str, when: pl.DataFrame) -> pl.DataFrame:
    """The last value of ``code`` observed on or before each patient's prediction date."""
    return (
        observations.filter(pl.col("code") == code)
        .join(when, left_on="patient_id", right_on="id")
        .filter(pl.col("observed_on") <= pl.col("prediction_date"))
        .sort("observed_on")
        .group_by("patient_id")
        .agg(pl.col("value").last().alias(name))
    )


def _pcr(treatments: pl.DataFrame, plans: pl.DataFrame) -> pl.DataFrame:
    """The resection's pathologic response, for a neoadjuvant or perioperative plan only."""
    resected = (
        treatments.filter(
            (pl.col("kind") == "surgery") & pl.col("pathologic_complete_response").is_not_null()
        )
        .sort("start_date")
        .group_by("patient_id")
        .agg(pl.col("pathologic_complete_response").first().cast(pl.Int8).alias("pcr"))
    )
    neoadjuvant = plans.filter(pl.col("pathway").is_in(["neoadjuvant_crt", "perioperative_chemo"]))
    return neoadjuvant.select("patient_id").join(resected, on="patient_id", how="inner")


Schema = dict[str, pl.DataType | type[pl.DataType]]
CONDITION_SCHEMA: Schema = {
    "patient_id": pl.String,
    "diagnosis_date": pl.Date,
    "histology": pl.String,
    "location": pl.String,
    "grade": pl.String,
    "tumour_length_cm": pl.Float64,
}
STAGING_SCHEMA: Schema = {
    "patient_id": pl.String,
    "kind": pl.String,
    "t": pl.String,
    "n": pl.String,
    "m": pl.String,
    "stage_group": pl.String,
    "assessed_on": pl.Date,
}
TREATMENT_SCHEMA: Schema = {
    "patient_id": pl.String,
    "kind": pl.String,
    "start_date": pl.Date,
    "intent": pl.String,
    "regimen": pl.String,
    "agents": pl.List(pl.String),
    "pathologic_complete_response": pl.Boolean,
}
OBSERVATION_SCHEMA: Schema = {
    "patient_id": pl.String,
    "code": pl.String,
    "value": pl.Float64,
    "observed_on": pl.Date,
}


def cohort_frame(tables: Mapping[str, pl.DataFrame], *, today: object | None = None) -> pl.DataFrame:
    """One row per diagnosed patient: ``id``, every feature of ``FEATURES``, ``time``, ``event``,
    ``pcr``, ``synthetic_risk`` and ``synthetic_effect`` (null on real data), ``origin``, the
    diagnosis and prediction dates. A patient without a diagnosis, or with no follow-up at all, is
    left out."""
    if "patients" not in tables:
        raise Invalid("a cohort needs at least its patients table (and conditions, staging...)")
    patients = _risk_factors(tables["patients"])
    for column in ("id", "sex", "vital_status"):
        if column not in patients.columns:
            raise Invalid(f"the patients table lacks {column}")
    conditions = _table(tables, "conditions", CONDITION_SCHEMA)
    staging = _table(tables, "staging", STAGING_SCHEMA)
    treatments = _table(tables, "treatments", TREATMENT_SCHEMA)
    observations = _table(tables, "observations", OBSERVATION_SCHEMA)

    diagnosis = conditions.sort("diagnosis_date").group_by("patient_id").first()
    clinical = (
        staging.filter(pl.col("kind") == "clinical")
        .sort("assessed_on")
        .group_by("patient_id")
        .agg(pl.col("t", "n", "m", "stage_group", "assessed_on").first())
    )
    plans = plan_of(treatments)
    birth_year = (
        pl.col("birth_year").cast(pl.Int32)
        if "birth_year" in patients.columns
        else pl.col("birth_date").cast(pl.Date).dt.year()
    )
    base = (
        patients.select(
            pl.col("id").cast(pl.String),
            pl.col("sex").cast(pl.String),
            birth_year.alias("birth_year"),
            (pl.col("origin") if "origin" in patients.columns else pl.lit("unknown"))
            .cast(pl.String)
            .alias("origin"),
            (pl.col("synthetic_risk") if "synthetic_risk" in patients.columns else pl.lit(None))
            .cast(pl.Float64)
            .alias("synthetic_risk"),
            (pl.col("synthetic_effect") if "synthetic_effect" in patients.columns else pl.lit(None))
            .cast(pl.Float64)
            .alias("synthetic_effect"),
            pl.col("vital_status").cast(pl.String),
            *[pl.col(c).cast(pl.Date) for c in ("last_follow_up", "death_date") if c in patients.columns],
            _rf(patients, "tobacco", pl.String),
            _rf(patients, "pack_years", pl.Float64),
            _rf(patients, "alcohol_g_per_day", pl.Float64),
            _rf(patients, "opium", pl.String),
            _rf(patients, "hot_beverages", pl.String),
            _rf(patients, "gerd", pl.String),
            _rf(patients, "barretts", pl.String),
            _rf(patients, "family_history", pl.String),
            _rf(patients, "socioeconomic_status", pl.String),
            _rf(patients, "bmi", pl.Float64).alias("recorded_bmi"),
        )
        .join(diagnosis, left_on="id", right_on="patient_id", how="inner")
        .join(clinical, left_on="id", right_on="patient_id", how="left")
        .join(plans, left_on="id", right_on="patient_id", how="left")
    )
    for column in ("last_follow_up", "death_date"):
        if column not in base.columns:
            base = base.with_columns(pl.lit(None, dtype=pl.Date).alias(column))
    base = base.with_columns(
        prediction_date=pl.coalesce("prediction_date", "assessed_on", "diagnosis_date"),
        pathway=pl.col("pathway").fill_null("no_treatment"),
        first_line_ici=pl.col("first_line_ici").fill_null("no"),
        first_line_trastuzumab=pl.col("first_line_trastuzumab").fill_null("no"),
    )
    when = base.select("id", "prediction_date")
    ecog = _last_observation(observations, ECOG_LOINC, "ecog", when)
    bmi = _last_observation(observations, BMI_LOINC, "observed_bmi", when)
    end = pl.coalesce(pl.col("death_date"), pl.col("last_follow_up"))
    frame = (
        base.join(ecog, left_on="id", right_on="patient_id", how="left")
        .join(bmi, left_on="id", right_on="patient_id", how="left")
        .join(_pcr(treatments, plans), left_on="id", right_on="patient_id", how="left")
        .with_columns(
            age=(pl.col("diagnosis_date").dt.year() - pl.col("birth_year")).cast(pl.Float64),
            bmi=pl.coalesce("observed_bmi", "recorded_bmi"),
            time=((end - pl.col("diagnosis_date")).dt.total_days() / MONTH_DAYS).clip(lower_bound=0.0),
            event=(pl.col("vital_status") == "dead").cast(pl.Int8),
        )
        .filter(pl.col("time").is_not_null())
    )
    return frame.select(*KEPT, *(f.name for f in FEATURES), *OUTCOME).sort("id")


__all__ = ["CLINICAL", "FEATURES", "FEATURE_SETS", "FeatureSpec", "cohort_frame", "feature_names", "plan_of"]
