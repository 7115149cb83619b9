"""What a generated cohort achieves on each target: one row per patient (``analysis_frame``),
then a share, an age statistic or a Kaplan-Meier estimate over the patients a target names,
each with its confidence interval at the size of the group it rests on:

share             Wilson score interval
mean age          mean ± z·sd/√n
median age        distribution-free interval between two order statistics
survival at t     the Kaplan-Meier log(-log) Greenwood band at t (the clinical core's)
median survival   the Brookmeyer-Crowley interval (upper bound +inf when not reached)
relative survival observed / expected (Ederer II) ± z·se, the se Greenwood's for the
                  observed actuarial survival divided by the expected
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
import polars as pl

from inescape.modules.generation.codes import ECOG_LOINC, HER2_POSITIVE
from inescape.modules.generation.engine.frames import CANCER_DEATH, RISK_COLUMNS
from inescape.modules.generation.engine.mortality import LifeTable
from inescape.modules.generation.profiles.model import Trial
from inescape.modules.generation.targets import SURVIVAL_TIMES, TargetSpec
from inescape.modules.patients.api import ClinicalCodecs

MONTH = 30.4375  # days, as the clinical core's survival_frame
# Pathway of a patient read back from the treatments, most specific first. Neoadjuvant therapy
# is the CROSS pathway and perioperative therapy the FLOT pathway, whichever regimen their era
# gave (cisplatin/fluorouracil chemoradiation before CROSS, ECF before FLOT).
_PATHWAY_FLAGS = (
    ("CROSS", pl.col("intent") == "neoadjuvant"),
    ("FLOT", pl.col("intent") == "perioperative"),
    ("endoscopic_resection", pl.col("kind") == "endoscopic_resection"),
    ("definitive_CRT", (pl.col("kind") == "radiotherapy") & (pl.col("intent") == "definitive")),
    ("esophagectomy", pl.col("kind") == "surgery"),  # before palliative: a line may follow at progression
    ("palliative_systemic", pl.col("intent") == "palliative"),
)
_RISK = {  # metric → (value, whether recorded)
    "tobacco_ever": (pl.col("rf_tobacco").is_in(["former", "current"]), pl.col("rf_tobacco") != "unknown"),
    "tobacco_current": (pl.col("rf_tobacco") == "current", pl.col("rf_tobacco") != "unknown"),
    "obesity": (pl.col("rf_bmi") >= 30, pl.col("rf_bmi").is_not_null()),
    "ses_low": (pl.col("rf_socioeconomic_status") == "low", pl.col("rf_socioeconomic_status") != "unknown"),
    "alcohol_80plus": (pl.col("rf_alcohol_g_per_day") >= 80, pl.col("rf_alcohol_g_per_day").is_not_null()),
}
_SUMMARY = {  # SEER summary stage from cTNM: localized = confined (T <= T3, N0, M0)
    "distant": pl.col("m") == "M1",
    "localized": (pl.col("m") == "M0") & (pl.col("n") == "N0") & ~pl.col("t").is_in(["T4a", "T4b"]),
}


# What a trial arm's eligibility and endpoint read (months are from the diagnosis).
TRIAL_COLUMNS = ("ecog", "regimen", "start_time", "adjuvant_time", "recurrence_time")
ANALYSIS_COLUMNS = (
    "sex",
    "histology",
    "location",
    "t",
    "n",
    "m",
    "stage_group",
    *RISK_COLUMNS,
    "her2",
    "msi",
    "pdl1_cps",
    "pdl1_tps",
    "margin",
    "pcr",
    "pathway",
    "age",
    "year",
    "time",
    "event",
    "cancer_event",
    *TRIAL_COLUMNS,
)


def _pathways(treatments: pl.DataFrame) -> pl.DataFrame:
    flags = treatments.group_by("patient_id").agg(*[f.any().alias(name) for name, f in _PATHWAY_FLAGS])
    chosen = pl.lit("best_supportive_care")
    for name, _ in reversed(_PATHWAY_FLAGS):
        chosen = pl.when(pl.col(name)).then(pl.lit(name)).otherwise(chosen)
    return flags.select(pl.col("patient_id").alias("id"), chosen.alias("pathway"))


def _biomarker_columns(biomarkers: pl.DataFrame) -> pl.DataFrame:
    wide = biomarkers.group_by("patient_id").agg(
        *[
            pl.col("value").filter(pl.col("kind") == k).first().alias(k)
            for k in ("her2", "msi", "pdl1_cps", "pdl1_tps")
        ]
    )
    return wide.select(
        pl.col("patient_id").alias("id"),
        "her2",
        "msi",
        pl.col("pdl1_cps").cast(pl.Int16),
        pl.col("pdl1_tps").cast(pl.Int16),
    )


def _months(since: str | pl.Expr, until: str | pl.Expr) -> pl.Expr:
    until = pl.col(until) if isinstance(until, str) else until
    since = pl.col(since) if isinstance(since, str) else since
    return (until - since).dt.total_days() / MONTH


def _care(frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """ECOG at diagnosis, the first systemic regimen, and when treatment and adjuvant therapy
    started."""
    ecog = (
        frames["observations"]
        .filter(pl.col("code") == ECOG_LOINC)
        .sort("observed_on")
        .group_by("patient_id")
        .agg(pl.col("value").first().cast(pl.Int8).alias("ecog"))
    )
    treatments = frames["treatments"].sort("start_date")
    care = treatments.group_by("patient_id").agg(
        pl.col("start_date").min().alias("start_date"),
        pl.col("regimen").filter(pl.col("kind") == "systemic").first().alias("regimen"),
        pl.col("start_date").filter(pl.col("intent") == "adjuvant").first().alias("adjuvant_date"),
    )
    return ecog.join(care, on="patient_id", how="full", coalesce=True).rename({"patient_id": "id"})


def analysis_frame(frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """One narrow row per patient with everything a target or the survival table reads: clinical
    stage, pathway, age, time (months) and event, risk factors, biomarkers, resection margin and
    pathologic response. Chunks can be reduced to it one by one and concatenated."""
    clinical = (
        frames["staging"]
        .filter(pl.col("kind") == "clinical")
        .select(pl.col("patient_id").alias("id"), "t", "n", "m", "stage_group")
    )
    condition = frames["conditions"].select(
        pl.col("patient_id").alias("id"), "histology", "location", "diagnosis_date"
    )
    surgery = (
        frames["treatments"]
        .filter(pl.col("kind") == "surgery")
        .select(pl.col("patient_id").alias("id"), "margin", pcr="pathologic_complete_response")
    )
    end = pl.coalesce("death_date", "last_follow_up")
    people = (
        frames["patients"]
        .select(
            "id",
            "sex",
            "birth_date",
            "death_date",
            "last_follow_up",
            "vital_status",
            "cause_of_death",
            "recurrence_date",
            *RISK_COLUMNS,
        )
        .join(condition, on="id", how="left")
        .join(clinical, on="id", how="left")
        .join(_pathways(frames["treatments"]), on="id", how="left")
        .join(_biomarker_columns(frames["biomarkers"]), on="id", how="left")
        .join(surgery, on="id", how="left")
        .join(_care(frames), on="id", how="left")
    )
    dead = pl.col("vital_status") == "dead"
    return people.select(
        *ANALYSIS_COLUMNS[: -6 - len(TRIAL_COLUMNS)],
        pathway=pl.col("pathway").fill_null("best_supportive_care"),
        age=(pl.col("diagnosis_date") - pl.col("birth_date")).dt.total_days() / 365.25,
        year=pl.col("diagnosis_date").dt.year() + (pl.col("diagnosis_date").dt.ordinal_day() - 0.5) / 365.25,
        time=_months("diagnosis_date", end),
        event=dead.cast(pl.Int8),
        # A death of unrecorded cause counts as a cancer death (the conservative reading).
        cancer_event=(dead & (pl.col("cause_of_death").fill_null(CANCER_DEATH) == CANCER_DEATH)).cast(
            pl.Int8
        ),
        ecog=pl.col("ecog"),
        regimen=pl.col("regimen"),
        start_time=_months("diagnosis_date", "start_date"),
        adjuvant_time=_months("diagnosis_date", "adjuvant_date"),
        recurrence_time=_months("diagnosis_date", "recurrence_date"),
    )


class Estimate(NamedTuple):
    """A target's value in the cohort, the patients it rests on and its confidence interval
    (``None`` everywhere but ``n`` when there is nothing to estimate)."""

    value: float | None
    n: int
    lower: float | None = None
    upper: float | None = None


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: float, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (Wilson 1927; Agresti & Coull 1998): unlike
    p ± z·se it stays within [0, 1] and keeps its coverage near 0 and 1 and at small n."""
    z = _z(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def _population(spec: TargetSpec) -> pl.Expr:
    keep = pl.lit(True)
    if spec.histology:
        keep &= pl.col("histology") == spec.histology
    if spec.sex:
        keep &= pl.col("sex") == spec.sex
    return keep


def _stage(metric: str) -> pl.Expr:
    """cTNM group test: I, II, III, IV also count their A/B/C groups (targets.stage_matches)."""
    if metric in _SUMMARY:
        return _SUMMARY[metric]
    if metric == "regional":
        return ~_SUMMARY["distant"] & ~_SUMMARY["localized"]
    if metric in ("0", "I", "II", "III", "IV"):
        return pl.col("stage_group").str.replace(r"[ABC]$", "") == metric
    return pl.col("stage_group") == metric


def _share(
    frame: pl.DataFrame, value: pl.Expr, confidence: float, recorded: pl.Expr | None = None
) -> Estimate:
    chosen = frame.filter(recorded) if recorded is not None else frame
    if chosen.height == 0:
        return Estimate(None, 0)
    n = chosen.height
    share = float(chosen.select(value.cast(pl.Float64).mean()).item())
    return Estimate(share, n, *wilson(share * n, n, confidence))


def _age(chosen: pl.DataFrame, metric: str, confidence: float) -> Estimate:
    ages = chosen["age"].drop_nulls().sort()
    n = ages.len()
    if n == 0:
        return Estimate(None, 0)
    z = _z(confidence)
    if metric == "mean":
        mean = float(ages.mean())  # type: ignore[arg-type]
        sd = float(ages.std()) if n > 1 else math.inf  # type: ignore[arg-type]
        half = z * sd / math.sqrt(n)
        return Estimate(mean, n, mean - half, mean + half)
    # Order statistics of ranks n/2 - z·√n/2 and 1 + n/2 + z·√n/2 (the normal approximation to
    # the binomial count below the median; Conover, Practical Nonparametric Statistics).
    low = max(0, math.floor(n / 2 - z * math.sqrt(n) / 2) - 1)
    high = min(n - 1, math.ceil(n / 2 + z * math.sqrt(n) / 2))
    return Estimate(float(ages.median()), n, float(ages[low]), float(ages[high]))  # type: ignore[arg-type]


def _biomarker(people: pl.DataFrame, metric: str, confidence: float) -> Estimate:
    column, value = {
        "her2_positive": ("her2", pl.col("her2").is_in(HER2_POSITIVE)),
        "msi_high": ("msi", pl.col("msi") == "MSI-H"),
        "pdl1_cps_5": ("pdl1_cps", pl.col("pdl1_cps") >= 5),
        "pdl1_tps_1": ("pdl1_tps", pl.col("pdl1_tps") >= 1),
    }[metric]
    return _share(people, value, confidence, pl.col(column).is_not_null())


def survival_at(codecs: ClinicalCodecs, frame: pl.DataFrame, months: float) -> float | None:
    """Kaplan-Meier survival at ``months`` (None when nobody is followed that long)."""
    return _survival_band(codecs, frame, months, 0.95).value


def _survival_band(codecs: ClinicalCodecs, frame: pl.DataFrame, months: float, confidence: float) -> Estimate:
    if frame.height == 0 or frame["time"].max() < months:  # type: ignore[operator]
        return Estimate(None, frame.height)
    curve = codecs.kaplan_meier(frame.select("time", "event"), confidence=confidence)
    row = curve.filter(pl.col("time") <= months).row(-1, named=True)
    return Estimate(float(row["survival"]), frame.height, float(row["lower"]), float(row["upper"]))


def _median(codecs: ClinicalCodecs, chosen: pl.DataFrame, confidence: float) -> Estimate:
    row = codecs.median_survival(chosen.select("time", "event"), confidence=confidence).row(0, named=True)
    if row["median"] is None:
        return Estimate(None, chosen.height)
    upper = math.inf if row["upper"] is None else float(row["upper"])
    return Estimate(float(row["median"]), chosen.height, float(row["lower"]), upper)


def relative_survival(
    frame: pl.DataFrame, months: float, table: LifeTable | None, confidence: float = 0.95
) -> Estimate:
    """Cumulative relative survival at ``months`` as SEER*Stat computes it by default: annual
    intervals, actuarial observed survival (censored patients at risk for half their interval),
    expected survival by Ederer II (the mean of the life table's survival over each interval
    among the patients alive at its start; Ederer & Heise 1959), and R = Π p_obs / Π p_exp.
    Without a life table the expected survival is 1 (R is the actuarial observed survival)."""
    years = round(months / 12)
    if frame.height == 0 or frame["time"].max() < months:  # type: ignore[operator]
        return Estimate(None, frame.height)
    t = frame["time"].to_numpy() / 12
    event = frame["event"].to_numpy().astype(bool)
    if table is None:
        expected = np.ones((frame.height, years))
    else:
        female = (frame["sex"] == "female").to_numpy()
        expected = table.expected(female, frame["age"].to_numpy(), frame["year"].to_numpy(), years)
    observed = expected_total = 1.0
    greenwood = 0.0
    for j in range(years):  # a handful of intervals; each step is vectorised over patients
        at_risk = t >= j
        inside = at_risk & (t < j + 1)
        deaths = float((inside & event).sum())
        effective = float(at_risk.sum()) - float((inside & ~event).sum()) / 2
        if effective <= deaths or effective <= 0:
            return Estimate(None, frame.height)
        observed *= 1 - deaths / effective
        greenwood += deaths / (effective * (effective - deaths))
        expected_total *= float(expected[at_risk, j].mean())
    if expected_total <= 0:
        return Estimate(None, frame.height)
    value = observed / expected_total
    half = _z(confidence) * observed * math.sqrt(greenwood) / expected_total
    return Estimate(value, frame.height, max(0.0, value - half), value + half)


def _survival(
    codecs: ClinicalCodecs,
    people: pl.DataFrame,
    spec: TargetSpec,
    confidence: float,
    table: LifeTable | None = None,
) -> Estimate:
    group = spec.group or "overall"
    chosen = people
    if group.startswith("stage_"):
        chosen = people.filter(_stage(group.removeprefix("stage_")))
    elif group != "overall":
        chosen = people.filter(
            _stage(group) if group in ("localized", "regional", "distant") else pl.col("pathway") == group
        )
    if chosen.height == 0:
        return Estimate(None, 0)
    if spec.family == "relative_survival":
        return relative_survival(chosen, SURVIVAL_TIMES[spec.metric], table, confidence)
    if spec.family == "cancer_specific_survival":
        chosen = chosen.with_columns(event=pl.col("cancer_event"))
    if spec.metric == "median_months":
        return _median(codecs, chosen, confidence)
    return _survival_band(codecs, chosen, SURVIVAL_TIMES[spec.metric], confidence)


def _within(column: str, values: list[str]) -> pl.Expr:
    return pl.col(column).is_in(values) if values else pl.lit(True)


def trial_arm(people: pl.DataFrame, trial: Trial) -> pl.DataFrame:
    """The arm's eligible, treated patients with ``time`` and ``event`` of its endpoint, counted
    from the start of the arm's treatment."""
    keep = (
        _within("pathway", trial.pathway)
        & _within("regimen", trial.regimen)
        & _within("histology", trial.histology)
        & _within("t", trial.t)
        & _within("n", trial.n)
        & _within("m", trial.m)
        & (pl.col("ecog") <= trial.ecog_max)
        & pl.col("age").is_between(trial.age_min, trial.age_max)
    )
    if trial.adjuvant:
        keep &= pl.col("adjuvant_time").is_not_null()
    if trial.her2_positive is not None:
        keep &= pl.col("her2").is_in(HER2_POSITIVE) == trial.her2_positive
    if trial.pdl1_cps_min is not None:
        keep &= pl.col("pdl1_cps") >= trial.pdl1_cps_min
    if trial.pdl1_tps_min is not None:
        keep &= pl.col("pdl1_tps") >= trial.pdl1_tps_min
    origin = pl.col("adjuvant_time") if trial.adjuvant else pl.col("start_time")
    if trial.endpoint == "disease_free":
        relapsed = pl.col("recurrence_time").is_not_null()
        until = pl.when(relapsed).then(pl.col("recurrence_time")).otherwise(pl.col("time"))
        event = (relapsed | (pl.col("event") == 1)).cast(pl.Int8)
    else:
        until, event = pl.col("time"), pl.col("event")
    chosen = people.filter(keep.fill_null(False))
    return chosen.with_columns(time=(until - origin).clip(0.0), event=event)


def _trial(
    codecs: ClinicalCodecs, people: pl.DataFrame, spec: TargetSpec, trial: Trial, confidence: float
) -> Estimate:
    chosen = trial_arm(people, trial)
    if chosen.height == 0:
        return Estimate(None, 0)
    if spec.metric == "median_months":
        return _median(codecs, chosen, confidence)
    return _survival_band(codecs, chosen, SURVIVAL_TIMES[spec.metric], confidence)


def achieved(
    codecs: ClinicalCodecs,
    people: pl.DataFrame,
    spec: TargetSpec,
    *,
    confidence: float = 0.95,
    table: LifeTable | None = None,
    trials: Mapping[str, Trial] | None = None,
) -> Estimate:
    """The cohort's value for a target, how many patients it rests on and its ``confidence``
    interval (survival through the clinical core's Kaplan-Meier estimate; relative survival
    with ``table``, the profile's life table, for the expected survival); a ``trial`` target
    reads its arm from ``trials`` (the profile's)."""
    if spec.family == "trial":
        arm = (trials or {}).get(spec.group or "")
        return Estimate(None, 0) if arm is None else _trial(codecs, people, spec, arm, confidence)
    chosen = people.filter(_population(spec))
    column = {"histology": "histology", "sex": "sex", "location": "location", "treatment": "pathway"}
    if spec.family in column:
        return _share(chosen, pl.col(column[spec.family]) == spec.metric, confidence)
    if spec.family == "age":
        return _age(chosen, spec.metric, confidence)
    if spec.family == "stage":
        return _share(chosen, _stage(spec.metric), confidence)
    if spec.family == "risk":
        value, recorded = _RISK.get(
            spec.metric, (pl.col(f"rf_{spec.metric}"), pl.col(f"rf_{spec.metric}").is_not_null())
        )
        return _share(chosen, value, confidence, recorded)
    if spec.family == "biomarker":
        return _biomarker(chosen, spec.metric, confidence)
    if spec.family in ("pcr", "r0"):
        value = pl.col("pcr") if spec.family == "pcr" else pl.col("margin") == "R0"
        resected = chosen.filter(pl.col("pathway") == spec.metric)
        return _share(resected, value, confidence, pl.col("margin").is_not_null())
    return _survival(codecs, chosen, spec, confidence, table)
