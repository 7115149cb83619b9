"""Checks on the frames the analytics receive; every failure names the column to fix."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from inescape.kernel.errors import Invalid

# Columns the survival functions produce; a group column must not shadow one of them.
SURVIVAL_COLUMNS = (
    "time",
    "event",
    "weight",
    "n_at_risk",
    "n_events",
    "n_censored",
    "survival",
    "lower",
    "upper",
)


def invalid(column: str, problem: str) -> Invalid:
    """An ``Invalid`` whose message and ``errors`` both name ``column``."""
    return Invalid(f"column {column!r}: {problem}", errors=[{"field": column, "message": problem}])


def require_columns(frame: pl.DataFrame, columns: Sequence[str]) -> None:
    for column in columns:
        if column not in frame.columns:
            raise invalid(column, f"no such column (the frame has {', '.join(frame.columns) or 'none'})")


def survival_input(
    frame: pl.DataFrame, *, time: str, event: str, group: str | None, weight: str | None = None
) -> pl.DataFrame:
    """The rows as ``time`` (Float64), ``event`` (Int64), ``weight`` (Int64) and the group
    column, all checked.

    Time and event are renamed to their canonical names so the rest of the code has one
    vocabulary; the group column keeps its name because it is part of the output.
    ``weight`` names a column of how many patients each row stands for (a tallied cohort: one
    row per group, time and event); without it every row is one patient.
    """
    named = [time, event] if group is None else [time, event, group]
    require_columns(frame, named if weight is None else [*named, weight])
    if group is not None and (group in (time, event) or group in SURVIVAL_COLUMNS):
        raise invalid(group, "a group column must differ from the time, event and output columns")
    if frame.height == 0:
        raise invalid(time, "the frame has no rows")
    _check_time(frame, time)
    _check_event(frame, event)
    if group is not None and frame[group].null_count():
        raise invalid(group, f"{frame[group].null_count()} null group values; fill or drop them first")
    if weight is not None:
        _check_weight(frame, weight)
    groups = [] if group is None else [pl.col(group)]
    return frame.select(
        *groups,
        pl.col(time).cast(pl.Float64).alias("time"),
        pl.col(event).cast(pl.Int64).alias("event"),
        (pl.lit(1, pl.Int64) if weight is None else pl.col(weight).cast(pl.Int64)).alias("weight"),
    )


def _check_weight(frame: pl.DataFrame, weight: str) -> None:
    values = frame[weight]
    if not values.dtype.is_integer():
        raise invalid(weight, f"weights count patients: whole numbers, not {values.dtype}")
    if values.null_count() or (values < 0).any():
        raise invalid(weight, "weights count patients: no nulls and none negative")


def _check_time(frame: pl.DataFrame, time: str) -> None:
    values = frame[time]
    if not values.dtype.is_numeric():
        raise invalid(time, f"times must be numeric, not {values.dtype}")
    if values.null_count():
        raise invalid(time, f"{values.null_count()} null times; every row needs a follow-up time")
    as_float = values.cast(pl.Float64)
    if not as_float.is_finite().all():
        raise invalid(time, "times must be finite (no NaN or infinity)")
    if (as_float < 0).any():
        raise invalid(time, f"{(as_float < 0).sum()} negative times; follow-up cannot end before it starts")


def _check_event(frame: pl.DataFrame, event: str) -> None:
    values = frame[event]
    if not (values.dtype.is_numeric() or values.dtype == pl.Boolean):
        raise invalid(event, f"events must be 0/1 or boolean, not {values.dtype}")
    if values.null_count():
        raise invalid(event, f"{values.null_count()} null events; use 1 for an event and 0 for censored")
    if not values.cast(pl.Float64).is_in([0.0, 1.0]).all():
        raise invalid(event, "events must be 1 (event observed) or 0 (censored)")


def check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise Invalid(
            f"confidence must lie strictly between 0 and 1, not {confidence}",
            errors=[{"field": "confidence", "message": "must be in (0, 1)"}],
        )


def check_times(times: Sequence[float], *, field: str = "times") -> list[float]:
    values = [float(t) for t in times]
    if not values or any(not t >= 0 for t in values):
        raise Invalid(
            f"{field} must be a non-empty list of non-negative numbers",
            errors=[{"field": field, "message": "non-negative numbers required"}],
        )
    return values
