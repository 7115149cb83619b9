"""Counts by category and the age distribution of a cohort."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence

import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.patients.analytics._inputs import invalid, require_columns

_BAND = 10  # years; the usual width of age bands in cancer registries


def counts(frame: pl.DataFrame, by: str | Sequence[str]) -> pl.DataFrame:
    """Patients per category (e.g. ``"histology"`` or ``["stage", "sex"]``): ``n`` and ``share``.

    Missing values form their own category: how much is unrecorded matters to the reader.
    Largest categories first; ``share`` is a fraction of all rows, so shares sum to 1.
    """
    keys = [by] if isinstance(by, str) else list(by)
    if not keys:
        raise Invalid("counts needs at least one column", errors=[{"field": "by", "message": "empty"}])
    require_columns(frame, keys)
    for key in keys:
        if key in ("n", "share"):
            raise invalid(key, "rename it first: 'n' and 'share' are the output columns")
    tallied = frame.group_by(keys).len(name="n").with_columns(pl.col("n").cast(pl.Int64))
    total = max(frame.height, 1)
    return tallied.with_columns(share=pl.col("n") / total).sort(
        ["n", *keys], descending=[True] + [False] * len(keys), nulls_last=True
    )


def age_distribution(
    frame: pl.DataFrame,
    *,
    age: str = "age",
    bins: int | Sequence[float] | None = None,
    weight: str | None = None,
) -> pl.DataFrame:
    """Histogram of ``age``: one row per bin with ``lower``, ``upper``, ``n`` and ``share``.

    ``bins`` is None for 10-year bands covering the data, a number of equal-width bins, or
    the bin edges. Bins hold ``lower <= age < upper`` (the last one also its upper edge).
    Missing ages are left out (``age_summary`` counts them). Pair it with ``age_summary``
    for mean, SD, median and IQR, and draw it with ``histogram_svg``.
    """
    values, weights = _weighted_ages(frame, age, weight)
    edges = _edges(values, bins, age)
    outside = int((((values < edges[0]) | (values > edges[-1])) * weights).sum())
    if outside:
        raise invalid(age, f"{outside} ages fall outside the bins [{edges[0]:g}, {edges[-1]:g}]")
    last = len(edges) - 2
    n = [
        int((((values >= low) & ((values < high) | ((values == high) & (i == last)))) * weights).sum())
        for i, (low, high) in enumerate(itertools.pairwise(edges))
    ]
    return pl.DataFrame(
        {"lower": edges[:-1], "upper": edges[1:], "n": n},
        schema={"lower": pl.Float64, "upper": pl.Float64, "n": pl.Int64},
    ).with_columns(share=pl.col("n") / weights.sum())


def age_summary(frame: pl.DataFrame, *, age: str = "age", weight: str | None = None) -> pl.DataFrame:
    """One row: ``n``, ``n_missing``, ``mean``, ``sd``, ``min``, ``q1``, ``median``, ``q3``, ``iqr``, ``max``.

    Quartiles interpolate linearly (numpy's and R's default); ``sd`` is the sample SD.
    """
    if weight is not None:
        return _weighted_summary(frame, age, weight)
    _ages(frame, age)
    column = pl.col(age).cast(pl.Float64)
    summary = frame.select(
        n=column.count().cast(pl.Int64),
        n_missing=column.null_count().cast(pl.Int64),
        mean=column.mean(),
        sd=column.std(ddof=1),
        min=column.min(),
        q1=column.quantile(0.25, interpolation="linear"),
        median=column.median(),
        q3=column.quantile(0.75, interpolation="linear"),
        max=column.max(),
    )
    return summary.with_columns(iqr=pl.col("q3") - pl.col("q1")).select(
        "n", "n_missing", "mean", "sd", "min", "q1", "median", "q3", "iqr", "max"
    )


def _weighted_ages(frame: pl.DataFrame, age: str, weight: str | None) -> tuple[pl.Series, pl.Series]:
    """The recorded ages and how many patients each stands for (1 without ``weight``)."""
    if weight is None:
        values = _ages(frame, age)
        return values, pl.Series(weight, [1] * values.len(), dtype=pl.Int64)
    require_columns(frame, [weight])
    if not frame[weight].dtype.is_integer() or frame[weight].null_count() or (frame[weight] < 0).any():
        raise invalid(weight, "weights count patients: whole numbers, none missing or negative")
    kept = frame.filter(pl.col(age).is_not_null() & (pl.col(weight) > 0))
    _ages(kept, age)
    return kept[age].cast(pl.Float64), kept[weight].cast(pl.Int64)


def _weighted_summary(frame: pl.DataFrame, age: str, weight: str) -> pl.DataFrame:
    """``age_summary`` of a tallied frame (one row per age with its count of patients)."""
    values, weights = _weighted_ages(frame, age, weight)
    table = pl.DataFrame({"age": values, "n": weights}).group_by("age").agg(pl.col("n").sum()).sort("age")
    ages, n = table["age"].to_list(), table["n"].to_list()
    total = sum(n)
    missing = int(frame.filter(pl.col(age).is_null())[weight].sum())
    mean = sum(a * k for a, k in zip(ages, n, strict=True)) / total
    spread = sum(k * (a - mean) ** 2 for a, k in zip(ages, n, strict=True))
    ends = list(itertools.accumulate(n))

    def at(position: int) -> float:  # the value at 0-based ``position`` of the sorted patients
        return float(ages[bisect.bisect_right(ends, position)])

    def quantile(q: float) -> float:  # linear interpolation, as numpy and R (type 7)
        h = (total - 1) * q
        low = math.floor(h)
        return float(at(low) + (h - low) * (at(min(low + 1, total - 1)) - at(low)))

    q1, q3 = quantile(0.25), quantile(0.75)
    row = {
        "n": total,
        "n_missing": missing,
        "mean": mean,
        "sd": math.sqrt(spread / (total - 1)) if total > 1 else None,
        "min": float(ages[0]),
        "q1": q1,
        "median": quantile(0.5),
        "q3": q3,
        "iqr": q3 - q1,
        "max": float(ages[-1]),
    }
    floats = {k: pl.Float64 for k in row if k not in ("n", "n_missing")}
    return pl.DataFrame([row], schema={"n": pl.Int64, "n_missing": pl.Int64, **floats}, orient="row")


def _ages(frame: pl.DataFrame, age: str) -> pl.Series:
    """The recorded ages as floats, checked; at least one."""
    require_columns(frame, [age])
    column = frame[age]
    if not column.dtype.is_numeric():
        raise invalid(age, f"ages must be numeric, not {column.dtype}")
    values = column.drop_nulls().cast(pl.Float64)
    if values.len() == 0:
        raise invalid(age, "no recorded ages")
    if not values.is_finite().all() or (values < 0).any():
        raise invalid(age, "ages must be finite and not negative")
    return values


def _edges(values: pl.Series, bins: int | Sequence[float] | None, age: str) -> list[float]:
    ordered = values.sort()
    low, high = float(ordered[0]), float(ordered[-1])
    if bins is None:
        first, last = math.floor(low / _BAND), math.floor(high / _BAND) + 1
        return [float(band * _BAND) for band in range(first, last + 1)]
    if isinstance(bins, int):
        if bins < 1:
            raise Invalid(
                f"bins must be at least 1, not {bins}", errors=[{"field": "bins", "message": ">= 1"}]
            )
        if high == low:  # one age only: centre a unit-wide range on it, as numpy does
            low, high = low - 0.5, high + 0.5
        return [low + (high - low) * i / bins for i in range(bins)] + [high]
    edges = [float(edge) for edge in bins]
    if len(edges) < 2 or any(b <= a for a, b in itertools.pairwise(edges)):
        raise Invalid(
            f"bin edges for {age!r} must be at least two increasing numbers",
            errors=[{"field": "bins", "message": "increasing edges required"}],
        )
    return edges
