"""ε-differentially private histograms through OpenDP (an optional extra: ``pip install
'inescape[privacy]'``). Each patient is one record of each histogram (bounded contributions:
a change of one patient moves one count of each), so the count-by-categories transformation
has L1 sensitivity 1 and the Laplace measurement at scale 1/ε spends ε on it; OpenDP's privacy
map checks that before any count is released. The categories are public (taken from the prior
profile's codes, never from the data); values outside them are counted in one extra category."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inescape.kernel.errors import Invalid

INSTALL = "pip install 'inescape[privacy]' (OpenDP)"


class PrivacyUnavailable(Invalid):
    """ε was asked for but OpenDP is not installed."""


def available() -> bool:
    try:
        import opendp.prelude  # noqa: F401
    except ImportError:
        return False
    return True


def _opendp() -> Any:
    try:
        import opendp.prelude as dp
    except ImportError:
        raise PrivacyUnavailable(
            f"a differentially private fit needs OpenDP: {INSTALL}; or fit without epsilon",
            errors=[{"field": "epsilon", "message": f"needs OpenDP ({INSTALL})"}],
        ) from None
    dp.enable_features("contrib")
    return dp


def exact_counts(values: Sequence[str], categories: Sequence[str]) -> list[float]:
    """The counts of each category (no noise)."""
    index = {c: i for i, c in enumerate(categories)}
    counts = [0.0] * len(categories)
    for value in values:
        i = index.get(value)
        if i is not None:
            counts[i] += 1
    return counts


def noisy_counts(values: Sequence[str], categories: Sequence[str], epsilon: float) -> list[float]:
    """The counts of each category with ε-DP Laplace noise (one value per patient)."""
    dp = _opendp()
    counting = dp.t.make_count_by_categories(
        dp.vector_domain(dp.atom_domain(T=str)),
        dp.symmetric_distance(),
        categories=list(categories),
        null_category=True,
    )
    measurement = counting >> dp.m.then_laplace(1.0 / epsilon)
    spent = measurement.map(1)
    if spent > epsilon * (1 + 1e-9):
        raise RuntimeError(f"the measurement would spend {spent}, more than {epsilon}")
    released = measurement(list(values))
    return [float(c) for c in released[: len(categories)]]  # the last one: outside the categories


def counts(values: Sequence[str], categories: Sequence[str], epsilon: float | None) -> list[float]:
    """Exact counts without ``epsilon``; ε-DP counts with it."""
    return exact_counts(values, categories) if epsilon is None else noisy_counts(values, categories, epsilon)
