"""Kaplan-Meier estimates, numbers at risk and median survival, overall or by group."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from statistics import NormalDist

import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.patients.analytics._inputs import check_confidence, check_times, survival_input

# Stands in for the group column when there is none, so one code path serves both cases.
_COHORT = "__cohort__"
# S(t) is a product of fractions; allow for rounding when asking whether it reached 1/2.
_HALF = 0.5 + 1e-12


def kaplan_meier(
    frame: pl.DataFrame,
    *,
    time: str = "time",
    event: str = "event",
    group: str | None = None,
    confidence: float = 0.95,
    weight: str | None = None,
) -> pl.DataFrame:
    """The Kaplan-Meier survival curve, one row per distinct time (per group).

    Columns: the group column (when ``group`` is given), ``time``, ``n_at_risk``,
    ``n_events``, ``n_censored``, ``survival``, ``lower`` and ``upper``. Each curve starts
    with a row at time 0 (survival 1, everyone at risk); when deaths are recorded at time 0
    that row carries them instead.

    ``n_at_risk`` counts the rows still followed just before ``time``: those censored at a
    time are counted at risk for the events at that same time (events come first).

    The band is pointwise: Greenwood's variance of log S(t) carried through the log(-log)
    transform, ``S ** exp(±z·se)``, as R's ``survfit(conf.type="log-log")``, Stata and
    lifelines do. It stays within [0, 1], is [1, 1] before the first event and [0, 0] once
    the curve reaches 0 (where the variance is undefined).

    ``weight`` names a column counting the patients each row stands for (a tallied cohort,
    as ``cohort.survival_tallies`` reads it); the curve is the one of the patients themselves.
    """
    check_confidence(confidence)
    data = survival_input(frame, time=time, event=event, group=group, weight=weight)
    data, keys = _with_keys(data, group)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    curve = pl.concat([_start_rows(data, keys), _event_rows(data, keys, z)], how="vertical")
    return curve.sort([*keys, "time"]).drop(_COHORT, strict=False)


def number_at_risk(
    frame: pl.DataFrame,
    *,
    times: Sequence[float],
    time: str = "time",
    event: str = "event",
    group: str | None = None,
    weight: str | None = None,
) -> pl.DataFrame:
    """How many are still followed at each of ``times`` (those with follow-up ≥ t), per group.

    Columns: the group column (when given), ``time`` and ``n_at_risk``; the table printed
    under a Kaplan-Meier plot. ``weight`` as for ``kaplan_meier``.
    """
    wanted = check_times(times)
    data = survival_input(frame, time=time, event=event, group=group, weight=weight)
    data, keys = _with_keys(data, group)
    table = at_risk_table(data, keys, wanted, _followed_to)
    return table.drop(_COHORT, strict=False)


def _followed_to(t: float) -> pl.Expr:
    return pl.col("weight").filter(pl.col("time") >= t).sum()


def summarise_curve(
    curve: pl.DataFrame, *, group: str | None = None, points: int | None = None
) -> pl.DataFrame:
    """A ``kaplan_meier`` frame with only the rows a reader needs: where the curve steps, its
    start and its last follow-up. Each row gives the curve from its ``time`` until the next
    row: ``n_at_risk`` just before ``time``, and ``n_events`` and ``n_censored`` from ``time``
    until the next row, so totals are kept. With ``points``, a curve with more rows keeps at
    most about that many: the first row in each of ``points`` equal slices of the time axis,
    the events and censorings of the others folded into it.
    """
    if points is not None and points < 2:
        raise Invalid(
            f"points must be at least 2, not {points}", errors=[{"field": "points", "message": ">= 2"}]
        )
    data, keys = _with_keys(curve.sort([*([group] if group else []), "time"]), group)
    data = _fold(data, keys, _ends(keys) | (pl.col("n_events") > 0))
    if points is not None and data.height > points:
        width = max(float(data["time"].cast(pl.Float64).max() or 0.0), 1e-9) / points  # type: ignore[arg-type]
        slot = (pl.col("time") / width).floor()
        data = _fold(data, keys, _ends(keys) | (slot != slot.shift(1)).over(keys).fill_null(True))
    return data.drop(_COHORT, strict=False)


def _ends(keys: list[str]) -> pl.Expr:
    """The first and the last row of each curve."""
    position = pl.int_range(pl.len()).over(keys)
    return (position == 0) | (position == pl.len().over(keys) - 1)


def _fold(data: pl.DataFrame, keys: list[str], keep: pl.Expr) -> pl.DataFrame:
    """The rows ``keep`` marks, each with the counts of the rows after it that it stands for."""
    columns = [c for c in data.columns if c not in (*keys, "n_events", "n_censored")]
    return (
        data.with_columns(_segment=keep.cast(pl.Int64).cum_sum().over(keys))
        .group_by([*keys, "_segment"], maintain_order=True)
        .agg(
            *[pl.col(c).first() for c in columns],
            n_events=pl.col("n_events").sum(),
            n_censored=pl.col("n_censored").sum(),
        )
        .select(data.columns)
    )


def at_risk_from_curve(curve: pl.DataFrame, group: str | None, times: Sequence[float]) -> pl.DataFrame:
    """The same table read off a ``kaplan_meier`` frame (the plot has only that)."""
    data, keys = _with_keys(curve, group)
    # n_at_risk falls with time, so the first row at or after t holds the largest count.
    table = at_risk_table(
        data, keys, list(times), lambda t: pl.col("n_at_risk").filter(pl.col("time") >= t).max()
    )
    return table.drop(_COHORT, strict=False)


def at_risk_table(
    data: pl.DataFrame, keys: list[str], times: list[float], count: Callable[[float], pl.Expr]
) -> pl.DataFrame:
    slots = [f"_t{i}" for i in range(len(times))]
    wide = data.group_by(keys, maintain_order=True).agg(
        count(t).alias(slot) for t, slot in zip(times, slots, strict=True)
    )
    long = wide.unpivot(slots, index=keys, variable_name="_slot", value_name="n_at_risk")
    at = pl.DataFrame({"_slot": slots, "time": times}, schema={"_slot": pl.String, "time": pl.Float64})
    return (
        long.join(at, on="_slot")
        .select(*keys, "time", pl.col("n_at_risk").fill_null(0).cast(pl.Int64))
        .sort([*keys, "time"], maintain_order=True)
    )


def median_survival(
    frame: pl.DataFrame,
    *,
    time: str = "time",
    event: str = "event",
    group: str | None = None,
    confidence: float = 0.95,
    weight: str | None = None,
) -> pl.DataFrame:
    """Median survival with its Brookmeyer-Crowley interval, per group.

    Columns: the group column (when given), ``n``, ``n_events``, ``median``, ``lower``,
    ``upper``. The median is the first time the curve is at or below 1/2; the interval
    holds the times whose band (the ``kaplan_meier`` log(-log) band) contains 1/2, so
    ``lower`` is where the lower band first reaches 1/2 and ``upper`` where the upper band
    does. Each is null when not reached during follow-up.
    """
    curve = kaplan_meier(frame, time=time, event=event, group=group, confidence=confidence, weight=weight)
    data, keys = _with_keys(curve, group)
    summary = data.group_by(keys, maintain_order=True).agg(
        n=pl.col("n_at_risk").max(),
        n_events=pl.col("n_events").sum(),
        median=_first_time_at_half("survival"),
        lower=_first_time_at_half("lower"),
        upper=_first_time_at_half("upper"),
    )
    return summary.sort(keys).drop(_COHORT, strict=False)


def _first_time_at_half(column: str) -> pl.Expr:
    return pl.col("time").filter(pl.col(column) <= _HALF).min()


def _with_keys(data: pl.DataFrame, group: str | None) -> tuple[pl.DataFrame, list[str]]:
    if group is None:
        return data.with_columns(pl.lit(0).alias(_COHORT)), [_COHORT]
    return data, [group]


def _start_rows(data: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Time 0 with everyone at risk, for the groups whose first record comes later."""
    return (
        data.group_by(keys)
        .agg(n_at_risk=pl.col("weight").sum().cast(pl.Int64), first=pl.col("time").min())
        .filter(pl.col("first") > 0)
        .select(
            *keys,
            time=pl.lit(0.0, pl.Float64),
            n_at_risk="n_at_risk",
            n_events=pl.lit(0, pl.Int64),
            n_censored=pl.lit(0, pl.Int64),
            survival=pl.lit(1.0, pl.Float64),
            lower=pl.lit(1.0, pl.Float64),
            upper=pl.lit(1.0, pl.Float64),
        )
    )


def _event_rows(data: pl.DataFrame, keys: list[str], z: float) -> pl.DataFrame:
    tallies = (
        data.group_by([*keys, "time"])
        .agg(
            n_events=(pl.col("event") * pl.col("weight")).sum().cast(pl.Int64),
            n_rows=pl.col("weight").sum().cast(pl.Int64),
        )
        .sort([*keys, "time"])
    )
    at_risk = pl.col("n_rows").reverse().cum_sum().reverse().over(keys)
    rows = tallies.with_columns(n_at_risk=at_risk, n_censored=pl.col("n_rows") - pl.col("n_events"))
    d, n = pl.col("n_events"), pl.col("n_at_risk")
    rows = rows.with_columns(
        survival=(1 - d / n).cum_prod().over(keys),
        # Greenwood's sum; infinite once every one at risk died (then S = 0).
        greenwood=pl.when(d == 0).then(0.0).otherwise(d / (n * (n - d))).cum_sum().over(keys),
    )
    return rows.select(*keys, "time", "n_at_risk", "n_events", "n_censored", "survival", *_band(z))


def _band(z: float) -> tuple[pl.Expr, pl.Expr]:
    s = pl.col("survival")
    # se of log(-log S) is sqrt(greenwood) / |log S|; S is decreasing in log(-log S).
    spread = (z * pl.col("greenwood").sqrt() / s.log().abs()).exp()
    settled = (s >= 1) | (s <= 0)
    lower = pl.when(settled).then(s).otherwise(s.pow(spread))
    upper = pl.when(settled).then(s).otherwise(s.pow(1 / spread))
    return lower.alias("lower"), upper.alias("upper")
