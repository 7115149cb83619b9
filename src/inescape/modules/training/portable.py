"""A survival model in a form the web process evaluates without torch: ``inescape.cox.v1``.

A proportional-hazards model as JSON: its features (how each is made from a patient's facts),
the coefficients and their covariance, and the baseline cumulative hazard at the centred
covariates. Training (Lightning) exports to it; decision support reads it with plain Python.

    S(t | x) = exp(-H0(t) * exp(lp)),  lp = sum_i beta_i * (x_i - mean_i)

The interval is the delta method on the linear predictor (var lp = x' Sigma x), with the
baseline hazard taken as known: it reflects the uncertainty of the coefficients, not of H0.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import msgspec

from inescape.kernel.errors import Invalid

FORMAT = "inescape.cox.v1"
Z = {0.9: 1.6448536269514722, 0.95: 1.959963984540054, 0.99: 2.5758293035489004}


class Feature(msgspec.Struct, frozen=True, kw_only=True):
    name: str  # "age", "histology=adenocarcinoma"
    fact: str  # the fact it is made from: "age", "histology"
    kind: Literal["numeric", "indicator"]
    mean: float = 0.0  # what the coefficient is centred on (the training mean)
    value: str | None = None  # for an indicator: the fact's value that makes it 1


class Baseline(msgspec.Struct, frozen=True, kw_only=True):
    months: list[float]
    cumulative_hazard: list[float]


class CoxModel(msgspec.Struct, frozen=True, kw_only=True):
    format: Literal["inescape.cox.v1"]
    features: list[Feature]
    coefficients: list[float]
    covariance: list[list[float]]
    baseline: Baseline

    def __post_init__(self) -> None:
        n = len(self.features)
        square = len(self.covariance) == n and all(len(row) == n for row in self.covariance)
        if len(self.coefficients) != n or not square:
            raise msgspec.ValidationError("coefficients and covariance must match the features")
        months = self.baseline.months
        if len(months) != len(self.baseline.cumulative_hazard) or months != sorted(months):
            raise msgspec.ValidationError("the baseline must be sorted months with one hazard each")


class SurvivalPoint(msgspec.Struct, frozen=True, kw_only=True):
    months: float
    survival: float | None  # None beyond the model's follow-up
    lower: float | None
    upper: float | None


def load_model(data: bytes) -> CoxModel:
    try:
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
