"""Risk factors of each case, correlated through a Gaussian copula.

Every patient here has cancer, so each factor's levels are drawn from their shares among cases:
the population shares tilted by the odds ratios, p_case ∝ p × OR (exact for a rare disease).
One latent normal per factor, correlated as the profile says, picks the level by thresholds at
the case shares' normal quantiles: the marginals are exact and the correlations carry over.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import polars as pl

from inescape.modules.generation import codes
from inescape.modules.generation.engine.streams import Cat, Draws
from inescape.modules.generation.profiles.model import Profile, RiskFactor

_BOOLEAN = ("opium", "hot_beverages", "gerd", "barretts", "family_history")
_STANDARD = NormalDist()


def case_shares(factor: RiskFactor, levels: tuple[str, ...], histology: str) -> np.ndarray:
    odds = factor.odds_ratios.get(histology, {})
    weights = np.array([factor.population.get(level, 0.0) * odds.get(level, 1.0) for level in levels])
    return np.asarray(weights / weights.sum())


def _thresholds(shares: np.ndarray) -> np.ndarray:
    cumulative = np.cumsum(shares)[:-1]
    return np.array([_STANDARD.inv_cdf(min(max(c, 1e-12), 1 - 1e-12)) for c in cumulative])


def _cholesky(profile: Profile) -> np.ndarray:
    names = list(profile.risk_factors.factors)
    matrix = np.eye(len(names))
    for c in profile.risk_factors.correlations:
        a, b = names.index(c.between[0]), names.index(c.between[1])
        matrix[a, b] = matrix[b, a] = c.rho
    return np.linalg.cholesky(matrix)


# Acklam's rational approximation of the normal quantile (relative error < 1.2e-9).
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
      -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
      -1.328068155288572e01)  # fmt: skip
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
      4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)


def norm_ppf(p: np.ndarray) -> np.ndarray:
    """The standard normal quantile, vectorised: numpy has none, and scipy is not a dependency."""
    a, b, c, d = _A, _B, _C, _D
    p = np.clip(p, 1e-15, 1 - 1e-15)
    q = np.where(p < 0.5, p, 1 - p)
    tail = q < 0.02425
    r = np.sqrt(-2 * np.log(np.where(tail, q, 0.5)))
    x_tail = (((((c[0] * r + c[1]) * r + c[2]) * r + c[3]) * r + c[4]) * r + c[5]) / (
        (((d[0] * r + d[1]) * r + d[2]) * r + d[3]) * r + 1
    )
    s = q - 0.5
    t = s * s
    x_mid = (
        (((((a[0] * t + a[1]) * t + a[2]) * t + a[3]) * t + a[4]) * t + a[5])
        * s
        / (((((b[0] * t + b[1]) * t + b[2]) * t + b[3]) * t + b[4]) * t + 1)
    )
    x = np.where(tail, x_tail, x_mid)  # the quantile of q <= 0.5
    return np.where(p < 0.5, x, -x)


def normal_cdf(value: float, mean: float, sd: float) -> float:
    return 0.5 * (1 + math.erf((value - mean) / (sd * math.sqrt(2))))


def _levels(profile: Profile, histology: Cat, draws: Draws) -> dict[str, np.ndarray]:
    """Level index per factor (-1 = not recorded)."""
    factors = profile.risk_factors.factors
    latent = np.column_stack([draws.normal() for _ in factors]) @ _cholesky(profile).T
    out = {}
    for j, (name, factor) in enumerate(factors.items()):
        level = np.zeros(len(histology.codes), dtype=np.int64)
        for h in profile.histologies:
            rows = histology.is_(h)
            cuts = _thresholds(case_shares(factor, codes.RISK_LEVELS[name], h))
            level[rows] = np.searchsorted(cuts, latent[rows, j])
        out[name] = np.where(draws.uniform() < factor.missing, -1, level)
    return out


def _string(levels: np.ndarray, names: tuple[str, ...], missing: str) -> pl.Series:
    return pl.Series([*names, missing]).gather(np.where(levels < 0, len(names), levels))


def risk_factors(profile: Profile, histology: Cat, draws: Draws) -> pl.DataFrame:
    """The ``rf_`` columns (RiskFactors fields); a factor the profile does not record is null."""
    n = len(histology.codes)
    levels = _levels(profile, histology, draws)
    pack, alcohol_u, abstain_u, bmi_u = draws.normal(), draws.uniform(), draws.uniform(), draws.uniform()
    none = np.full(n, -1)
    tobacco = levels.get("tobacco", none)
    r = profile.risk_factors
    pack_years = np.where(
        tobacco > 0, np.minimum(r.pack_years.median * np.exp(r.pack_years.sigma * pack), 300), 0.0
    )
    columns: dict[str, pl.Series | np.ndarray] = {
        "rf_tobacco": _string(tobacco, codes.RISK_LEVELS["tobacco"], "unknown"),
        "rf_pack_years": pl.Series(pack_years).round(1).scatter(np.flatnonzero(tobacco < 0), None),
        "rf_alcohol_g_per_day": _alcohol(
            levels.get("alcohol", none), alcohol_u, abstain_u, r.alcohol_abstainers.value
        ),
        "rf_bmi": _bmi(profile, levels.get("bmi", none), bmi_u),
        "rf_socioeconomic_status": _string(
            levels.get("socioeconomic_status", none), codes.RISK_LEVELS["socioeconomic_status"], "unknown"
        ),
    }
    for name in _BOOLEAN:
        level = levels.get(name, none)
        columns[f"rf_{name}"] = pl.Series(level == 1).scatter(np.flatnonzero(level < 0), None)
    order = (
        "tobacco",
        "pack_years",
        "alcohol_g_per_day",
        *_BOOLEAN[:4],
        "bmi",
        "family_history",
        "socioeconomic_status",
    )
    return pl.DataFrame({f"rf_{k}": columns[f"rf_{k}"] for k in order})


def _alcohol(level: np.ndarray, u: np.ndarray, abstain: np.ndarray, abstainers: float) -> pl.Series:
    bands = np.array(list(codes.ALCOHOL_BANDS.values()))
    index = np.maximum(level, 0)
    grams = bands[index, 0] + u * (bands[index, 1] - bands[index, 0])
    grams = np.where((level == 0) & (abstain < abstainers), 0.0, grams)
    return pl.Series(grams).round(0).scatter(np.flatnonzero(level < 0), None)


def _bmi(profile: Profile, level: np.ndarray, u: np.ndarray) -> pl.Series:
    """Normal(mean, sd) cut to the level's band, by inverting its CDF: the band's edges are
    three pairs of scalars, so only the quantile is computed per patient."""
    bmi = profile.risk_factors.bmi
    edges = np.array(list(codes.BMI_BANDS.values()))
    cdf = np.array([[normal_cdf(v, bmi.mean, bmi.sd) for v in band] for band in edges])
    index = np.maximum(level, 0)
    low, high = cdf[index, 0], cdf[index, 1]
    value = bmi.mean + bmi.sd * norm_ppf(low + u * (high - low))
    # Floor to 0.1 inside the band, so that 29.96 stays below the obesity threshold of 30.
    value = np.floor(np.clip(value, edges[index, 0], edges[index, 1] - 0.1) * 10 + 1e-9) / 10
    return pl.Series(value).scatter(np.flatnonzero(level < 0), None)
