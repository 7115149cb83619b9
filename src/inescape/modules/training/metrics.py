"""Evaluation of survival predictions (numpy only): Harrell's C-index, time-dependent AUC and
Brier score with inverse probability of censoring weights, the integrated Brier score,
calibration by decile, and percentile-bootstrap intervals.

- **C-index** (Harrell): over pairs where the earlier time is an event (or equal times with the
  earlier an event and the other censored), the share where the higher risk died first; tied
  risks count one half.
- **Time-dependent AUC at t** (cumulative/dynamic, Uno et al. 2007): cases died by t, weighted
  by 1/G(T−); controls still alive after t.
- **Brier score at t** (Graf et al. 1999): squared error of S(t|x), IPCW-weighted; the
  integrated Brier score is its average over the follow-up grid.
- **Calibration at t**: patients in tenths of predicted S(t); each tenth's Kaplan-Meier S(t)
  against its mean prediction; the calibration error is their mean absolute difference,
  weighted by size.

G is the Kaplan-Meier estimate of the censoring distribution on the evaluated data.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np


def concordance(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:  # noqa: C901
    """Harrell's C; ``nan`` when no pair is comparable. O(n log n) (a Fenwick tree of risk
    ranks over the patients still at risk)."""
    time, event, risk = np.asarray(time, float), np.asarray(event, bool), np.asarray(risk, float)
    ranks = np.searchsorted(np.unique(risk), risk) + 1  # 1-based, equal risks share a rank
    size = int(ranks.max()) + 1 if len(ranks) else 1
    tree = [0] * (size + 1)

    def add(i: int) -> None:
        while i <= size:
            tree[i] += 1
            i += i & -i

    def below(i: int) -> int:  # how many in the tree have rank <= i
        s = 0
        while i > 0:
            s += tree[i]
            i -= i & -i
        return s

    order = np.lexsort((event, -time))  # latest first; at equal times censored before events
    t_sorted, e_sorted, r_sorted = time[order], event[order], ranks[order]
    concordant = 0.0
    comparable = 0
    in_tree = 0
    n = len(order)
    k = 0
    while k < n:
        j = k
        while j < n and t_sorted[j] == t_sorted[k]:
            j += 1
        group = range(k, j)
        for g in group:  # censored at this time count as surviving it
            if not e_sorted[g]:
                add(int(r_sorted[g]))
                in_tree += 1
        for g in group:
            if e_sorted[g]:
                r = int(r_sorted[g])
                less, equal_or_less = below(r - 1), below(r)
                concordant += less + 0.5 * (equal_or_less - less)
                comparable += in_tree
        for g in group:
            if e_sorted[g]:
                add(int(r_sorted[g]))
                in_tree += 1
        k = j
    return concordant / comparable if comparable else float("nan")


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct times and the survival just after each."""
    times, survival, _ = kaplan_meier_greenwood(time, event)
    return times, survival


def kaplan_meier_greenwood(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct times, the survival just after each, and its Greenwood variance."""
    time, event = np.asarray(time, float), np.asarray(event, bool)
    times, inverse = np.unique(time, return_inverse=True)
    deaths = np.bincount(inverse, weights=event.astype(float), minlength=len(times))
    leaving = np.bincount(inverse, minlength=len(times)).astype(float)
    at_risk = len(time) - np.concatenate([[0.0], np.cumsum(leaving)[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - deaths / at_risk, 1.0)
        terms = np.where(at_risk > deaths, deaths / (at_risk * (at_risk - deaths)), 0.0)
    survival = np.cumprod(factor)
    return times, survival, survival**2 * np.cumsum(terms)


def step(times: np.ndarray, values: np.ndarray, at: np.ndarray | float, *, left: bool = False) -> np.ndarray:
    """A right-continuous step function (1 before the first time) at ``at``; ``left``: the
    limit from the left."""
    idx = np.searchsorted(times, at, side="left" if left else "right") - 1
    padded = np.concatenate([[1.0], values])
    return np.asarray(padded[np.asarray(idx) + 1])


class Censoring:
    """G, the censoring distribution's Kaplan-Meier, floored so weights stay finite."""

    def __init__(self, time: np.ndarray, event: np.ndarray, floor: float = 0.05) -> None:
        self.times, self.values = kaplan_meier(time, 1 - np.asarray(event, int))
        self.floor = floor

    def __call__(self, at: np.ndarray | float, *, left: bool = False) -> np.ndarray:
        return np.asarray(np.maximum(step(self.times, self.values, at, left=left), self.floor))


def time_auc(time: np.ndarray, event: np.ndarray, risk: np.ndarray, t: float, g: Censoring) -> float:
    time, event, risk = np.asarray(time, float), np.asarray(event, bool), np.asarray(risk, float)
    cases = (time <= t) & event
    controls = np.sort(risk[time > t])
    if not cases.any() or len(controls) == 0:
        return float("nan")
    weights = 1.0 / g(time[cases], left=True)
    below = np.searchsorted(controls, risk[cases], side="left")
    ties = np.searchsorted(controls, risk[cases], side="right") - below
    wins = below + 0.5 * ties
    return float(np.sum(weights * wins) / (np.sum(weights) * len(controls)))


def brier(time: np.ndarray, event: np.ndarray, survival_at_t: np.ndarray, t: float, g: Censoring) -> float:
    time, event, s = np.asarray(time, float), np.asarray(event, bool), np.asarray(survival_at_t, float)
    died = (time <= t) & event
    alive = time > t
    score = np.zeros(len(time))
    score[died] = s[died] ** 2 / g(time[died], left=True)
    score[alive] = (1.0 - s[alive]) ** 2 / g(t)
    return float(score.mean()) if len(time) else float("nan")


def integrated_brier(
    time: np.ndarray, event: np.ndarray, survival: np.ndarray, grid: np.ndarray, g: Censoring
) -> float:
    """``survival``: one column per time of ``grid`` (months)."""
    scores = np.array([brier(time, event, survival[:, k], float(t), g) for k, t in enumerate(grid)])
    span = float(grid[-1] - grid[0])
    return float(np.trapezoid(scores, grid) / span) if span > 0 else float(scores.mean())


class CalibrationBin(msgspec.Struct, frozen=True, kw_only=True):
    n: int
    predicted: float
    observed: float
    se: float  # Greenwood standard error of ``observed``


def calibration(
    time: np.ndarray, event: np.ndarray, survival_at_t: np.ndarray, t: float, bins: int = 10
) -> tuple[list[CalibrationBin], float, float]:
    """Tenths of predicted S(t): (bins, size-weighted mean |predicted - observed|, the part of
    that error sampling alone explains: the weighted mean of E|N(0, se)| = se·sqrt(2/π))."""
    time, event = np.asarray(time, float), np.asarray(event, bool)
    s = np.asarray(survival_at_t, float)
    order = np.argsort(s, kind="stable")
    found = []
    for part in np.array_split(order, bins):
        if len(part) == 0:
            continue
        times, values, variance = kaplan_meier_greenwood(time[part], event[part])
        observed = float(step(times, values, t))
        idx = int(np.searchsorted(times, t, side="right")) - 1
        se = float(np.sqrt(variance[idx])) if idx >= 0 else 0.0
        found.append(CalibrationBin(n=len(part), predicted=float(s[part].mean()), observed=observed, se=se))
    total = sum(b.n for b in found)
    if not total:
        return found, float("nan"), float("nan")
    error = sum(b.n * abs(b.predicted - b.observed) for b in found) / total
    noise = sum(b.n * b.se for b in found) / total * float(np.sqrt(2 / np.pi))
    return found, float(error), float(noise)


def bootstrap(
    metric: Callable[[np.ndarray], float], n: int, *, seed: int, reps: int = 200, level: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of ``metric(indices)`` over ``reps`` resamples of ``n`` rows."""
    rng = np.random.default_rng(seed)
    values = np.array([metric(rng.integers(0, n, n)) for _ in range(reps)])
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    return float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))


def auc(label: np.ndarray, score: np.ndarray) -> float:
    """The ROC AUC of a binary classifier (Mann-Whitney, ties one half)."""
    label, score = np.asarray(label, bool), np.asarray(score, float)
    positives, negatives = score[label], np.sort(score[~label])
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan")
    below = np.searchsorted(negatives, positives, side="left")
    ties = np.searchsorted(negatives, positives, side="right") - below
    return float(np.sum(below + 0.5 * ties) / (len(positives) * len(negatives)))


__all__ = [
    "CalibrationBin",
    "Censoring",
    "auc",
    "bootstrap",
    "brier",
    "calibration",
    "concordance",
    "integrated_brier",
    "kaplan_meier",
    "time_auc",
]
