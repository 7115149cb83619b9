"""A cohort's tables (as ``PatientsApi.cohort_tables`` or the generator gives them) reduced to
the one row per patient a fit reads: sex, histology, location, clinical stage group, treatment
pathway, age at diagnosis (years, from the year of birth: no birth date is needed), follow-up
time (months) and whether the patient died."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

MONTH = 30.4375  # days
FIT_COLUMNS = ("id", "sex", "histology", "location", "stage_group", "pathway", "age", "time", "event")
# The pathway a patient's treatments show, most specific first (as the fidelity report reads it).
_PATHWAYS = (
    ("CROSS", pl.col("intent") == "neoadjuvant"),
    ("FLOT", pl.col("intent") == "perioperative"),
    ("endoscopic_resection", pl.col("kind") == "endoscopic_resection"),
    ("definitive_CRT", (pl.col("kind") == "radiotherapy") & (pl.col("intent") == "definitive")),
    ("esophagectomy", pl.col("kind") == "surgery"),
    ("palliative_systemic", pl.col("intent") == "palliative"),
)


def _pathways(treatments: pl.DataFrame) -> pl.DataFrame:
    if treatments.is_empty():
        return pl.DataFrame(schema={"id": pl.String, "pathway": pl.String})
    flags = treatments.group_by("patient_id").agg(*[f.any().alias(name) for name, f in _PATHWAYS])
    chosen = pl.lit("best_supportive_care")
    for name, _ in reversed(_PATHWAYS):
        chosen = pl.when(pl.col(name)).then(pl.lit(name)).otherwise(chosen)
    return flags.select(pl.col("patient_id").cast(pl.String).alias("id"), chosen.alias("pathway"))


def _first(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return (
        frame.sort("patient_id")
        .group_by("patient_id", maintain_order=True)
        .first()
        .select(pl.col("patient_id").cast(pl.String).alias("id"), *columns)
    )


def cohort_frame(tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per diagnosed patient (``FIT_COLUMNS``); patients without a diagnosis or a
    clinical stage are left out (a fit cannot place them)."""
    patients = tables["patients"]
    birth_year = (
        pl.col("birth_year").cast(pl.Int32)
        if "birth_year" in patients.columns
        else pl.col("birth_date").cast(pl.Date).dt.year()
    )
    people = patients.select(
        pl.col("id").cast(pl.String),
        pl.col("sex").cast(pl.String),
        birth_year.alias("birth_year"),
        pl.col("vital_status").cast(pl.String),
        pl.col("death_date").cast(pl.Date),
        pl.col("last_follow_up").cast(pl.Date),
    )
    conditions = _first(
        tables["conditions"].with_columns(pl.col("diagnosis_date").cast(pl.Date)),
        "histology",
        "location",
        "diagnosis_date",
    )
    clinical = _first(tables["staging"].filter(pl.col("kind") == "clinical"), "stage_group")
    joined = (
        people.join(conditions, on="id", how="inner")
        .join(clinical, on="id", how="inner")
        .join(_pathways(tables["treatments"]), on="id", how="left")
        .filter(pl.col("diagnosis_date").is_not_null())
    )
    end = pl.coalesce("death_date", "last_follow_up", "diagnosis_date")
    return joined.select(
        "id",
        "sex",
        "histology",
        "location",
        "stage_group",
        pl.col("pathway").fill_null("best_supportive_care"),
        age=(pl.col("diagnosis_date").dt.year() - pl.col("birth_year")).cast(pl.Float64),
        time=((end - pl.col("diagnosis_date")).dt.total_days() / MONTH).clip(lower_bound=0.0),
        event=(pl.col("vital_status") == "dead").cast(pl.Int8),
    )
