"""The log-rank test of equal survival across two or more groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from inescape.modules.patients.analytics._inputs import invalid, survival_input
from inescape.modules.patients.analytics.distributions import chi2_log10_sf, chi2_sf
from inescape.modules.patients.api import GroupTally, LogRankResult

# A pivot this small next to the largest variance means that group adds no information.
_SINGULAR = 1e-10


def log_rank(
    frame: pl.DataFrame,
    *,
    time: str = "time",
    event: str = "event",
    group: str,
    weight: str | None = None,
) -> LogRankResult:
    """Compare survival between the groups of ``group`` (Mantel-Haenszel log-rank test).

    At each distinct event time the deaths are shared out in proportion to the numbers at
    risk (hypergeometric expectation and covariance); the statistic is
    (O - E)' V⁻ (O - E) with a generalised inverse of V, chi-square on rank(V) degrees of
    freedom, as R's ``survdiff`` computes it. Group labels are reported as strings;
    ``p_value_log10`` keeps the size of a p-value too small for a float. ``weight`` as for
    ``kaplan_meier``.
    """
    data = survival_input(frame, time=time, event=event, group=group, weight=weight)
    risk = risk_sets(data, group)
    if len(risk.labels) < 2:
        raise invalid(group, f"the log-rank test needs at least 2 groups, found {len(risk.labels)}")
    if not risk.deaths.any():
        raise invalid(event, "no events, so there is nothing to compare")
    observed, expected, covariance = _tallies(risk.at_risk, risk.deaths)
    statistic, df = _quadratic_form(covariance.tolist(), (observed - expected).tolist())
    tallies = tuple(
        GroupTally(group=str(label), n=int(n), observed=round(o), expected=float(e))
        for label, n, o, e in zip(risk.labels, risk.sizes, observed, expected, strict=True)
    )
    return LogRankResult(
        statistic=statistic,
        df=df,
        p_value=chi2_sf(statistic, max(df, 1)),
        groups=tallies,
        p_value_log10=chi2_log10_sf(statistic, max(df, 1)),
    )


@dataclass(frozen=True)
class RiskSets:
    """At each pooled event time (rows), who was at risk and who died, by group (columns)."""

    labels: list[Any]
    sizes: np.ndarray[Any, np.dtype[np.int64]]
    times: np.ndarray[Any, np.dtype[np.float64]]
    at_risk: np.ndarray[Any, np.dtype[np.float64]]
    deaths: np.ndarray[Any, np.dtype[np.float64]]


def risk_sets(data: pl.DataFrame, group: str) -> RiskSets:
    """The risk sets of a checked ``survival_input`` frame: memory grows with the groups and
    the distinct times, not with the patients a tallied frame stands for."""
    tallies = (
        data.group_by(group, "time")
        .agg(rows=pl.col("weight").sum(), died=(pl.col("event") * pl.col("weight")).sum())
        .sort(group, "time")
    )
    labels = tallies[group].unique().sort().to_list()
    times = np.sort(tallies.filter(pl.col("died") > 0)["time"].unique().to_numpy())
    at_risk = np.zeros((times.size, len(labels)))
    deaths = np.zeros((times.size, len(labels)))
    sizes = np.zeros(len(labels), dtype=np.int64)
    for j, label in enumerate(labels):
        rows = tallies.filter(pl.col(group) == label)
        followed = rows["time"].to_numpy()
        remaining = np.concatenate([np.cumsum(rows["rows"].to_numpy()[::-1])[::-1], [0]])
        sizes[j] = remaining[0]
        at_risk[:, j] = remaining[np.searchsorted(followed, times, side="left")]
        died = rows.filter(pl.col("died") > 0)
        where = np.searchsorted(times, died["time"].to_numpy())
        deaths[where, j] = died["died"].to_numpy()
    return RiskSets(labels, sizes, times, at_risk, deaths)


def _tallies(
    at_risk: np.ndarray[Any, np.dtype[np.float64]], deaths: np.ndarray[Any, np.dtype[np.float64]]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    n, d = at_risk.sum(axis=1), deaths.sum(axis=1)
    share = at_risk / n[:, None]
    # Hypergeometric variance factor; a risk set of one carries no information.
    weight = np.where(n > 1, d * (n - d) / np.maximum(n - 1, 1), 0.0)
    observed = deaths.sum(axis=0)
    expected = (share * d[:, None]).sum(axis=0)
    covariance = np.diag((weight[:, None] * share).sum(axis=0)) - (share * weight[:, None]).T @ share
    return observed, expected, covariance


def _quadratic_form(matrix: list[list[float]], u: list[float]) -> tuple[float, int]:
    """u' V⁻ u and rank(V) for a symmetric positive semi-definite V.

    An LDL' factorisation that zeroes pivots which are (numerically) dependent on earlier
    columns, as R's ``cholesky2`` does: V always is singular here (the O - E sum to zero),
    and any generalised inverse gives the same form because u lies in V's column space.
    """
    k = len(u)
    tolerance = _SINGULAR * max((matrix[i][i] for i in range(k)), default=0.0)
    lower = [[0.0] * k for _ in range(k)]
    pivots = [0.0] * k
    for i in range(k):
        pivot = matrix[i][i] - sum(lower[i][m] ** 2 * pivots[m] for m in range(i))
        if pivot <= tolerance:
            continue
        pivots[i] = pivot
        for j in range(i + 1, k):
            lower[j][i] = (
                matrix[j][i] - sum(lower[j][m] * lower[i][m] * pivots[m] for m in range(i))
            ) / pivot
    solved: list[float] = []
    for i in range(k):
        solved.append(u[i] - sum(lower[i][m] * solved[m] for m in range(i)))
    kept = [i for i in range(k) if pivots[i] > 0]
    return sum(solved[i] ** 2 / pivots[i] for i in kept), len(kept)
