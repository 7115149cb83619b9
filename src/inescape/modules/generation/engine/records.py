"""A cohort as dicts shaped like ``PatientCreate``, for the clinical core's bulk path."""

from __future__ import annotations

from typing import Any

import polars as pl

from inescape.modules.generation.engine.frames import (
    GENERATED_COLUMNS,
    OUTCOME_COLUMNS,
    RISK_COLUMNS,
    SCHEMAS,
    Cohort,
)

_CHILDREN = ("conditions", "staging", "biomarkers", "treatments", "observations")
# The patient row's columns that are not PatientCreate fields: the id travels in
# source_record_id's place only when the caller wants it, so PatientCreate stays strict; the
# true treatment effect is the generator's, for oracle metrics, not a fact of the record.
_DROPPED = ("id", "synthetic_effect", *GENERATED_COLUMNS)


def _nested(cohort: Cohort, name: str) -> pl.DataFrame:
    fields = [c for c in SCHEMAS[name] if c != "patient_id"]
    frame: pl.DataFrame = getattr(cohort, name)
    return frame.group_by("patient_id", maintain_order=True).agg(pl.struct(fields).alias(name))


def to_records(cohort: Cohort) -> list[dict[str, Any]]:
    """One dict per patient, in order, that ``msgspec.convert(record, PatientCreate)`` accepts."""
    frame = cohort.patients.with_columns(
        risk_factors=pl.struct([pl.col(c).alias(c.removeprefix("rf_")) for c in RISK_COLUMNS]),
        outcome=pl.struct(OUTCOME_COLUMNS),
    )
    for name in _CHILDREN:
        frame = frame.join(_nested(cohort, name), left_on="id", right_on="patient_id", how="left")
        frame = frame.with_columns(pl.col(name).fill_null(pl.lit([], dtype=frame.schema[name])))
    frame = frame.drop(*RISK_COLUMNS, *OUTCOME_COLUMNS, *_DROPPED)
    records = frame.to_dicts()
    for record in records:  # drop None so the struct's defaults apply (tobacco "unknown" is set)
        record["risk_factors"] = {k: v for k, v in record["risk_factors"].items() if v is not None}
    return records
