"""A survival model in a form the web process evaluates without torch: ``inescape.cox.v1``.

A proportional-hazards model as JSON (``api.CoxModel``): its features (how each is made from a
patient's facts), the coefficients and their covariance, and the baseline cumulative hazard at
the centred covariates. Training (Lightning) exports to it; decision support reads it with plain
Python.

    S(t | x) = exp(-H0(t) * exp(lp)),  lp = sum_i beta_i * (x_i - mean_i)

The interval is the delta method on the linear predictor (var lp = x' Sigma x), with the
baseline hazard taken as known: it reflects the uncertainty of the coefficients, not of H0.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from inescape.kernel.errors import Invalid
from inescape.modules.training.api import FORMAT, Baseline, CoxModel, SurvivalPoint

Z = {0.9: 1.6448536269514722, 0.95: 1.959963984540054, 0.99: 2.5758293035489004}


def load_model(data: bytes | Mapping[str, Any]) -> CoxModel:
    try:
        if isinstance(data, Mapping):
            return msgspec.convert(data, CoxModel)
        return msgspec.json.decode(data, type=CoxModel)
    except msgspec.ValidationError as exc:
        raise Invalid(f"not an {FORMAT} model: {exc}") from None


def dump_model(model: CoxModel) -> bytes:
    return msgspec.json.encode(model)


def missing_facts(model: CoxModel, facts: Mapping[str, Any]) -> list[str]:
    """The facts the model needs that ``facts`` lacks (None counts as missing)."""
    needed = dict.fromkeys(f.fact for f in model.features)
    return [fact for fact in needed if facts.get(fact) is None]


def _design(model: CoxModel, facts: Mapping[str, Any]) -> list[float]:
    row = []
    for feature in model.features:
        raw = facts[feature.fact]
        if feature.kind == "numeric":
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise Invalid(
                    f"{feature.fact} must be a number for this model",
                    errors=[{"field": feature.fact, "message": "not a number"}],
                )
            x = float(raw)
        else:
            x = 1.0 if str(raw) == feature.value else 0.0
        row.append(x - feature.mean)
    return row


def predict(
    model: CoxModel, facts: Mapping[str, Any], *, months: Sequence[float], confidence: float = 0.95
) -> list[SurvivalPoint]:
    """Survival at each of ``months`` with its interval; ``Invalid`` naming a missing fact."""
    absent = missing_facts(model, facts)
    if absent:
        raise Invalid(
            f"The model needs {', '.join(absent)}",
            errors=[{"field": f, "message": "required by the production model"} for f in absent],
        )
    x = _design(model, facts)
    lp = math.fsum(b * xi for b, xi in zip(model.coefficients, x, strict=True))
    variance = math.fsum(
        xi * xj * cov
        for xi, row in zip(x, model.covariance, strict=True)
        for xj, cov in zip(x, row, strict=True)
    )
    se = math.sqrt(max(variance, 0.0))
    z = Z.get(round(confidence, 2), 1.959963984540054)
    return [_point(model.baseline, t, lp, z * se) for t in months]


def _point(baseline: Baseline, t: float, lp: float, half_width: float) -> SurvivalPoint:
    if not baseline.months or t > baseline.months[-1]:
        return SurvivalPoint(months=t, survival=None, lower=None, upper=None)
    at = bisect_right(baseline.months, t) - 1
    h0 = baseline.cumulative_hazard[at] if at >= 0 else 0.0

    def s(linear: float) -> float:
        return math.exp(-h0 * math.exp(linear))

    return SurvivalPoint(months=t, survival=s(lp), lower=s(lp + half_width), upper=s(lp - half_width))


class PortableModels:
    """``SurvivalModels``: the functions above as the library facade."""

    def load_portable(self, data: bytes | Mapping[str, Any]) -> CoxModel:
        return load_model(data)

    def dump_portable(self, model: CoxModel) -> bytes:
        return dump_model(model)

    def missing_facts(self, model: CoxModel, facts: Mapping[str, Any]) -> list[str]:
        return missing_facts(model, facts)

    def predict(
        self, model: CoxModel, facts: Mapping[str, Any], *, months: Sequence[float], confidence: float = 0.95
    ) -> list[SurvivalPoint]:
        return predict(model, facts, months=months, confidence=confidence)
