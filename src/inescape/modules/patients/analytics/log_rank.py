"""The log-rank test of equal survival across two or more groups."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

import polars as pl

from inescape.modules.patients.analytics._inputs import invalid, survival_input
from inescape.modules.patients.analytics.distributions import chi2_sf
from inescape.modules.patients.api import GroupTally, LogRankResult

# A pivot this small next to the largest variance means that group adds no information.
_SINGULAR = 1e-10


def log_rank(frame: pl.DataFrame, *, time: str = "time", event: str = "event", group: str) -> LogRankResult:
    """Compare survival between the groups of ``group`` (Mantel-Haenszel log-rank test).

    At each distinct event time the deaths are shared out in proportion to the numbers at
    risk (hypergeometric expectation and covariance); the statistic is
    (O - E)' V⁻ (O - E) with a generalised inverse of V, chi-square on rank(V) degrees of
    freedom, as R's ``survdiff`` computes it. Group labels are reported as strings.
    """
    data = survival_input(frame, time=time, event=event, group=group)
    labels = data[group].unique().sort().to_list()
    if len(labels) < 2:
        raise invalid(group, f"the log-rank test needs at least 2 groups, found {len(labels)}")
    if data["event"].sum() == 0:
        raise invalid(event, "no events, so there is nothing to compare")
    sizes, risk_sets = _risk_sets(data, group, labels)
    observed, expected, covariance = _tallies(risk_sets, len(labels))
    statistic, df = _quadratic_form(covariance, [o - e for o, e in zip(observed, expected, strict=True)])
    tallies = tuple(
        GroupTally(group=str(label), n=n, observed=round(o), expected=e)
        for label, n, o, e in zip(labels, sizes, observed, expected, strict=True)
    )
    return LogRankResult(statistic=statistic, df=df, p_value=chi2_sf(statistic, max(df, 1)), groups=tallies)


RiskSet = tuple[list[int], list[int]]  # numbers at risk and deaths, one entry per group


def _risk_sets(data: pl.DataFrame, group: str, labels: list[object]) -> tuple[list[int], list[RiskSet]]:
    """Group sizes, and at each pooled event time who was at risk and who died, by group."""
    event_times = data.filter(pl.col("event") == 1)["time"].unique().sort().to_list()
    followed, died = [], []
    for label in labels:
        rows = data.filter(pl.col(group) == label)
        followed.append(rows["time"].sort().to_list())
        died.append(rows.filter(pl.col("event") == 1)["time"].sort().to_list())
    risk_sets = [
        (
            [len(times) - bisect_left(times, t) for times in followed],
            [bisect_right(deaths, t) - bisect_left(deaths, t) for deaths in died],
        )
        for t in event_times
    ]
    return [len(times) for times in followed], risk_sets


def _tallies(risk_sets: list[RiskSet], k: int) -> tuple[list[float], list[float], list[list[float]]]:
    observed, expected = [0.0] * k, [0.0] * k
    covariance = [[0.0] * k for _ in range(k)]
    for at_risk, deaths in risk_sets:
        n, d = sum(at_risk), sum(deaths)
        share = [r / n for r in at_risk]
        # Hypergeometric variance factor; a risk set of one carries no information.
        weight = d * (n - d) / (n - 1) if n > 1 else 0.0
        for j in range(k):
            observed[j] += deaths[j]
            expected[j] += share[j] * d
            for m in range(k):
                covariance[j][m] += weight * ((share[j] if j == m else 0.0) - share[j] * share[m])
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
