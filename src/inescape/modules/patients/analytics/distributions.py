"""The chi-square tail, written out so the analytics need no scipy."""

from __future__ import annotations

import math

from inescape.kernel.errors import Invalid

_EPSILON = 1e-15
_TINY = 1e-300
_MAX_TERMS = 10_000


def chi2_sf(x: float, df: float) -> float:
    """P(X > x) for X ~ chi-square with ``df`` degrees of freedom: Q(df/2, x/2)."""
    if not df > 0:
        raise Invalid(
            f"degrees of freedom must be positive, not {df}", errors=[{"field": "df", "message": "> 0"}]
        )
    return regularized_gamma_q(df / 2, max(x, 0.0) / 2)


def chi2_log10_sf(x: float, df: float) -> float:
    """log10 P(X > x), finite where P itself is below the smallest float (a huge statistic
    on a large cohort): the continued fraction's prefactor is kept in logs."""
    a, half = df / 2, max(x, 0.0) / 2
    if half < a + 1 or math.isinf(half):
        q = chi2_sf(x, df)
        return math.log10(q) if q > 0 else -math.inf
    log_q = math.log(_continued_fraction(a, half)) + a * math.log(half) - half - math.lgamma(a)
    return log_q / math.log(10)


def regularized_gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a), the upper regularized incomplete gamma function.

    Below ``x = a + 1`` the series for P converges fast and Q = 1 - P loses nothing that
    matters (Q is not small there); above it the continued fraction for Q converges fast
    and keeps the relative precision of tiny p-values.
    """
    if not a > 0 or not x >= 0:
        raise Invalid(f"Q(a, x) needs a > 0 and x >= 0, not a={a}, x={x}")
    if x == 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    if x < a + 1:
        return max(0.0, 1.0 - _lower_series(a, x))
    return _upper_continued_fraction(a, x)


def _prefactor(a: float, x: float) -> float:
    """x^a e^-x / Γ(a), in logs so large arguments do not overflow."""
    return math.exp(a * math.log(x) - x - math.lgamma(a))


def _lower_series(a: float, x: float) -> float:
    """P(a, x) = x^a e^-x / Γ(a) · Σ x^n / (a (a+1) … (a+n))."""
    term = total = 1.0 / a
    denominator = a
    for _ in range(_MAX_TERMS):
        denominator += 1
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPSILON:
            break
    return total * _prefactor(a, x)


def _upper_continued_fraction(a: float, x: float) -> float:
    """Q(a, x) by Legendre's continued fraction, evaluated with the modified Lentz method."""
    return _continued_fraction(a, x) * _prefactor(a, x)


def _continued_fraction(a: float, x: float) -> float:
    """Q(a, x) over its prefactor x^a e^-x / Γ(a)."""
    b = x + 1 - a
    c = 1 / _TINY
    d = 1 / b
    fraction = d
    for i in range(1, _MAX_TERMS):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1 / d
        step = d * c
        fraction *= step
        if abs(step - 1) < _EPSILON:
            break
    return fraction
