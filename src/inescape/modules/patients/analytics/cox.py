"""Hazard ratios between groups: a Cox proportional-hazards model with the group as its only
(categorical) covariate, against a reference group."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

from inescape.modules.patients.analytics._inputs import check_confidence, invalid, survival_input
from inescape.modules.patients.analytics.log_rank import risk_sets

_MAX_STEPS = 50
_TOLERANCE = 1e-9
_BLOCK = 1 << 16  # (time, tie) rows per block of the likelihood
_DIVERGED = 20.0  # |log hazard ratio| or standard error beyond this: no finite estimate

Array = np.ndarray[Any, np.dtype[np.float64]]


def hazard_ratios(
    frame: pl.DataFrame,
    *,
    time: str = "time",
    event: str = "event",
    group: str,
    reference: Any = None,
    confidence: float = 0.95,
    weight: str | None = None,
) -> pl.DataFrame:
    """Each group's hazard ratio against ``reference`` (default: the first group in sort order).

    Columns: the group column, ``n``, ``n_events``, ``hazard_ratio``, ``lower``, ``upper``
    (Wald interval at ``confidence``) and ``p_value`` (Wald); the reference row has ratio 1 and
    no interval. The partial likelihood handles tied times by Efron's method (R's ``coxph``
    and lifelines' default), maximised by Newton-Raphson on the risk sets, so the work grows
    with the groups and the event times, not with the patients. A group without events (or the
    reference without events) has no finite ratio: null. ``weight`` as for ``kaplan_meier``.
    """
    check_confidence(confidence)
    data = survival_input(frame, time=time, event=event, group=group, weight=weight)
    risk = risk_sets(data, group)
    labels = risk.labels
    if len(labels) < 2:
        raise invalid(group, f"hazard ratios need at least 2 groups, found {len(labels)}")
    chosen = labels[0] if reference is None else reference
    if chosen not in labels:
        raise invalid(group, f"no group {chosen!r} to compare with (groups: {', '.join(map(str, labels))})")
    base = labels.index(chosen)
    events = risk.deaths.sum(axis=0)
    fitted = [j for j in range(len(labels)) if events[j] > 0]
    ratios: dict[int, tuple[float, float, float, float]] = {}
    if base in fitted and len(fitted) > 1:
        # A group without events has coefficient -inf: leaving it out of the risk sets is the limit.
        free = [j for j in fitted if j != base]
        beta, covariance = _fit(risk.at_risk[:, [base, *free]], risk.deaths[:, [base, *free]])
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        for i, j in enumerate(free):
            se = math.sqrt(covariance[i, i]) if covariance[i, i] > 0 else math.inf
            if not abs(beta[i]) < _DIVERGED or not se < _DIVERGED:
                continue  # separated: this group's ratio runs off to 0 or infinity
            wald = abs(beta[i]) / se if se > 0 else math.inf
            p_value = 2 * NormalDist().cdf(-wald)
            ratios[j] = (math.exp(beta[i]), math.exp(beta[i] - z * se), math.exp(beta[i] + z * se), p_value)
    rows = []
    for j, label in enumerate(labels):
        hr, lower, upper, p_value = ratios.get(j, (math.nan,) * 4)
        if j == base:
            hr = 1.0
        rows.append(
            {
                group: label,
                "n": int(risk.sizes[j]),
                "n_events": int(events[j]),
                "hazard_ratio": None if math.isnan(hr) else hr,
                "lower": None if math.isnan(lower) else lower,
                "upper": None if math.isnan(upper) else upper,
                "p_value": None if math.isnan(p_value) else p_value,
                "reference": j == base,
            }
        )
    schema: dict[str, Any] = {
        group: data.schema[group],
        "n": pl.Int64,
        "n_events": pl.Int64,
        "hazard_ratio": pl.Float64,
        "lower": pl.Float64,
        "upper": pl.Float64,
        "p_value": pl.Float64,
        "reference": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _fit(at_risk: Array, deaths: Array) -> tuple[Array, Array]:
    """Coefficients of groups 1..k-1 against group 0 and their covariance (inverse information)."""
    # Start from the one-step estimate log(O/E) against the reference's, which is close to the
    # maximum when the groups are large: Newton then needs two or three steps, not six.
    total = deaths.sum(axis=1)
    expected = (at_risk * (total / at_risk.sum(axis=1))[:, None]).sum(axis=0)
    observed = deaths.sum(axis=0)
    beta = np.log(observed[1:] / expected[1:]) - math.log(observed[0] / expected[0])
    if not np.all(np.isfinite(beta)):
        beta = np.zeros(at_risk.shape[1] - 1)
    ties = _Ties(deaths)
    loglik, gradient, information = _efron(at_risk, deaths, beta, ties)
    for _ in range(_MAX_STEPS):
        try:
            step = np.linalg.solve(information, gradient)
        except np.linalg.LinAlgError:
            break
        step = np.clip(step, -_DIVERGED, _DIVERGED)
        candidate = beta + step
        new_loglik, new_gradient, new_information = _efron(at_risk, deaths, candidate, ties)
        halvings = 0
        while new_loglik < loglik - 1e-12 and halvings < 30:  # step halving keeps the ascent
            step /= 2
            candidate = beta + step
            new_loglik, new_gradient, new_information = _efron(at_risk, deaths, candidate, ties)
            halvings += 1
        beta, done = candidate, abs(new_loglik - loglik) < _TOLERANCE * (1 + abs(loglik))
        loglik, gradient, information = new_loglik, new_gradient, new_information
        if done:
            break
    try:
        return beta, np.asarray(np.linalg.inv(information), dtype=np.float64)
    except np.linalg.LinAlgError:
        return beta, np.full_like(information, math.inf)


# Where the dying are a small share of the risk set, Efron's per-level sums have a fast series.
_SERIES_TERMS = 12
_SERIES_REACH = 0.05  # the dying's share of the risk set up to which the series is used
_SERIES_MAX_DEATHS = 1 << 16  # deaths at one time up to which their power sums are tabled


class _Ties:
    """What the tie levels of each event time need whatever the coefficients: the number of
    deaths D at each time (Efron's levels l = 0..D-1), and the power sums Σ_l l^m of those
    levels for m = 0..``_SERIES_TERMS`` + 1, for the times with at most
    ``_SERIES_MAX_DEATHS`` deaths (the rest are always summed level by level)."""

    def __init__(self, deaths: Array) -> None:
        self.total = deaths.sum(axis=1)
        self.levels = np.ceil(self.total).astype(np.int64)
        self.tabled = self.levels <= _SERIES_MAX_DEATHS
        most = int(self.levels[self.tabled].max(initial=1))
        # P_m(D) = Σ_{l<D} l^m, as cumulative sums of positive terms: no cancellation.
        level = np.arange(most, dtype=np.float64)
        powers = np.cumsum(level[None, :] ** np.arange(_SERIES_TERMS + 2)[:, None], axis=1)
        table = np.concatenate([np.zeros((_SERIES_TERMS + 2, 1)), powers], axis=1)
        self.powers = table[:, np.where(self.tabled, self.levels, 0)]


def _efron(
    at_risk: Array, deaths: Array, beta: Array, ties: _Ties | None = None
) -> tuple[float, Array, Array]:
    """Efron's log partial likelihood, its gradient and the information, for dummy covariates.

    The l-th of D tied deaths at a time sees the risk set less l/D of the dying: its size is
    s(l) = S0 - (l/D) Sd, where S0 and Sd weigh the groups at risk and the dying by their
    relative hazards. The group shares at that l are linear in l over s(l), so the sums over the
    tie levels reduce to five per-time sums of 1/s, l/s, 1/s², l/s² and l²/s², and the
    likelihood to one of log s.

    With q = Sd/(D·S0), s(l) = S0(1 - lq), and where the dying are a small share of the risk set
    (Dq = Sd/S0 ≤ ``_SERIES_REACH``, every time but the last few of a large cohort) each sum is
    a geometric series in lq of positive terms: Σ_l l^j/(1 - lq) = Σ_k q^k P_{j+k}(D) and
    Σ_l l^j/(1 - lq)² = Σ_k (k+1) q^k P_{j+k}(D), with the power sums P of ``_Ties``. Each term
    is at most Dq times the one before, so ``_SERIES_TERMS`` terms leave under 1e-14 of the
    sum: the work is a few operations per event time, however many patients died at it. The
    other times are summed level by level, one row per (time, level), in blocks of about
    ``_BLOCK`` rows, so the memory stays bounded however many patients died on one day.
    """
    ties = ties or _Ties(deaths)
    risk = np.exp(np.concatenate([[0.0], beta]))
    total = ties.total
    s0_all, sd_all = at_risk @ risk, deaths @ risk
    loglik = float((deaths[:, 1:] @ beta).sum())
    sums = np.zeros((5, total.size))  # per time: Σ 1/s, Σ l/s, Σ 1/s², Σ l/s², Σ l²/s²
    series = ties.tabled & (sd_all <= _SERIES_REACH * s0_all)
    if series.any():
        loglik -= _series_sums(sums, series, s0_all, sd_all, ties)
    loglik -= _level_sums(sums, np.flatnonzero(~series), s0_all, sd_all, ties)
    one, by_level, one_sq, by_level_sq, by_level2_sq = sums
    held, dying, scale = at_risk[:, 1:], deaths[:, 1:] / total[:, None], risk[1:]
    # Σ_l of each group's share of the risk set, and of the products of two groups' shares.
    shares = (held * one[:, None] - dying * by_level[:, None]) * scale
    cross = (
        held.T @ (held * one_sq[:, None])
        - held.T @ (dying * by_level_sq[:, None])
        - dying.T @ (held * by_level_sq[:, None])
        + dying.T @ (dying * by_level2_sq[:, None])
    ) * np.outer(scale, scale)
    gradient = deaths[:, 1:].sum(axis=0) - shares.sum(axis=0)
    information = np.diag(shares.sum(axis=0)) - cross
    return loglik, np.asarray(gradient, dtype=np.float64), np.asarray(information, dtype=np.float64)


def _series_sums(sums: Array, chosen: Any, s0_all: Array, sd_all: Array, ties: _Ties) -> float:
    """The five sums at the ``chosen`` times by the series (see ``_efron``); returns Σ log s."""
    s0, levels = s0_all[chosen], ties.levels[chosen]
    q = sd_all[chosen] / (levels * s0)
    powers = ties.powers[:, chosen]  # P_0..P_{K+1} at each chosen time
    k = np.arange(_SERIES_TERMS)[:, None]
    q_k = q[None, :] ** k  # q^k, k = 0..K-1
    first = [(q_k * powers[j : j + _SERIES_TERMS]).sum(axis=0) for j in (0, 1)]
    second = [((k + 1) * q_k * powers[j : j + _SERIES_TERMS]).sum(axis=0) for j in (0, 1, 2)]
    sums[0, chosen], sums[1, chosen] = first[0] / s0, first[1] / s0
    sums[2, chosen], sums[3, chosen], sums[4, chosen] = (v / s0**2 for v in second)
    # Σ_l log(1 - lq) = -Σ_{k≥1} q^k P_k / k
    log_terms = (q_k[1:] * q * powers[2 : _SERIES_TERMS + 1] / (k[1:] + 1)).sum(axis=0) + q * powers[1]
    return float((levels * np.log(s0)).sum() - log_terms.sum())


def _level_sums(sums: Array, chosen: Any, s0_all: Array, sd_all: Array, ties: _Ties) -> float:
    """The five sums at the ``chosen`` times level by level; returns Σ log s."""
    log_sizes = 0.0
    levels, total = ties.levels[chosen], ties.total[chosen]
    ends = np.cumsum(levels)
    first = 0
    while first < chosen.size:
        start = ends[first] - levels[first]
        last = max(int(np.searchsorted(ends, start + _BLOCK, side="right")), first + 1)
        rows = np.repeat(np.arange(first, last), levels[first:last])
        tied = np.arange(rows.size) - np.repeat(
            ends[first:last] - levels[first:last] - start, levels[first:last]
        )
        times = chosen[rows]
        size = s0_all[times] - tied / total[rows] * sd_all[times]
        log_sizes += float(np.log(size).sum())
        inverse = 1 / size
        for row, values in enumerate(
            (inverse, tied * inverse, inverse**2, tied * inverse**2, tied**2 * inverse**2)
        ):
            sums[row, chosen[first:last]] = np.bincount(rows - first, weights=values, minlength=last - first)
        first = last
    return log_sizes
