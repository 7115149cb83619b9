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
    k = at_risk.shape[1]
    beta = np.zeros(k - 1)
    loglik, gradient, information = _efron(at_risk, deaths, beta)
    for _ in range(_MAX_STEPS):
        try:
            step = np.linalg.solve(information, gradient)
        except np.linalg.LinAlgError:
            break
        step = np.clip(step, -_DIVERGED, _DIVERGED)
        candidate = beta + step
        new_loglik, new_gradient, new_information = _efron(at_risk, deaths, candidate)
        halvings = 0
        while new_loglik < loglik - 1e-12 and halvings < 30:  # step halving keeps the ascent
            step /= 2
            candidate = beta + step
            new_loglik, new_gradient, new_information = _efron(at_risk, deaths, candidate)
            halvings += 1
        beta, done = candidate, abs(new_loglik - loglik) < _TOLERANCE * (1 + abs(loglik))
        loglik, gradient, information = new_loglik, new_gradient, new_information
        if done:
            break
    try:
        return beta, np.asarray(np.linalg.inv(information), dtype=np.float64)
    except np.linalg.LinAlgError:
        return beta, np.full_like(information, math.inf)


def _efron(at_risk: Array, deaths: Array, beta: Array) -> tuple[float, Array, Array]:
    """Efron's log partial likelihood, its gradient and the information, for dummy covariates."""
    risk = np.exp(np.concatenate([[0.0], beta]))
    total = deaths.sum(axis=1)
    loglik = float((deaths[:, 1:] @ beta).sum())
    gradient = deaths[:, 1:].sum(axis=0).astype(float)
    information = np.zeros((beta.size, beta.size))
    # The l-th of D tied deaths sees the risk set less l/D of the dying: one pass per l.
    for tied in range(int(total.max())):
        live = total > tied
        share = (tied / total[live])[:, None]
        weighted = (at_risk[live] - share * deaths[live]) * risk  # S1 per group (dummy x = 1)
        s0 = weighted.sum(axis=1)
        loglik -= float(np.log(s0).sum())
        mean = weighted[:, 1:] / s0[:, None]
        gradient -= mean.sum(axis=0)
        information += np.diag(mean.sum(axis=0)) - mean.T @ mean
    return loglik, gradient, information
