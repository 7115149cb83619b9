"""Train-on-synthetic / test-on-real: a linear Cox model fitted to one cohort and judged by its
concordance (Harrell's C) on held-out real patients.

The model: the exact partial likelihood (Breslow ties) with a small ridge, maximised by
Newton-Raphson (each step capped), on the fit's columns (sex, histology, location, clinical stage group and
treatment pathway as indicators, one level of each left out as the reference; age in decades).
The levels come from the real training patients, so the real-trained and the synthetic-trained
model read the same design. The generation module answers in the web process, which never
imports torch (the training module's fit), and this model is small enough for numpy alone."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

COVARIATES = ("sex", "histology", "location", "stage_group", "pathway")
RIDGE = 1.0  # the penalty on each coefficient (about one pseudo-event's worth)
MAX_ITERATIONS = 60
MAX_STEP = 1.0  # the most a Newton step moves any coefficient: no overshoot on a small cohort


class Design:
    """The indicator levels (all but the most common, per column) the real patients show."""

    def __init__(self, real: pl.DataFrame) -> None:
        self.levels: dict[str, list[str]] = {}
        for column in COVARIATES:
            counts = real[column].fill_null("?").value_counts(sort=True)
            self.levels[column] = sorted(counts[column].to_list()[1:])

    def matrix(self, frame: pl.DataFrame) -> np.ndarray:
        parts = [
            (frame[c].fill_null("?").to_numpy()[:, None] == np.array(levels, dtype=object)[None, :]).astype(
                float
            )
            for c, levels in self.levels.items()
            if levels
        ]
        parts.append((frame["age"].fill_null(65.0).to_numpy().astype(float)[:, None] - 65.0) / 10.0)
        return np.hstack(parts)


def cox_fit(x: np.ndarray, time: np.ndarray, event: np.ndarray, *, ridge: float = RIDGE) -> np.ndarray:
    """The coefficients maximising the ridge-penalised Breslow partial likelihood."""
    order = np.argsort(-time, kind="stable")
    x, time, died = x[order], time[order], event[order].astype(bool)
    # each patient's risk set: everyone followed at least as long (a prefix, latest first)
    last = np.searchsorted(-time, -time, side="right") - 1
    beta = np.zeros(x.shape[1])
    if not died.any():
        return beta
    xd, lastd = x[died], last[died]
    outer = x[:, :, None] * x[:, None, :]
    for _ in range(MAX_ITERATIONS):
        eta = x @ beta
        w = np.exp(eta - eta.max())
        s0 = np.cumsum(w)[lastd]
        s1 = np.cumsum(w[:, None] * x, axis=0)[lastd] / s0[:, None]
        s2 = np.cumsum(w[:, None, None] * outer, axis=0)[lastd] / s0[:, None, None]
        gradient = (xd - s1).sum(axis=0) - ridge * beta
        information = (s2 - s1[:, :, None] * s1[:, None, :]).sum(axis=0) + ridge * np.eye(x.shape[1])
        step = np.linalg.solve(information, gradient)
        step *= min(1.0, MAX_STEP / max(float(np.abs(step).max()), 1e-12))
        beta = beta + step
        if np.abs(step).max() < 1e-7:
            break
    return beta if np.isfinite(beta).all() else np.zeros(x.shape[1])  # no fit: no skill (C = 0.5)


def concordance(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C: of the pairs whose earlier time is a death, the share the higher risk
    ordered first (equal risks count one half); 0.5 when no pair is comparable."""
    concordant = comparable = 0.0
    died = np.flatnonzero(event.astype(bool))
    for start in range(0, died.size, 256):
        i = died[start : start + 256]
        later = time[None, :] > time[i][:, None]
        higher = risk[i][:, None] > risk[None, :]
        equal = risk[i][:, None] == risk[None, :]
        comparable += float(later.sum())
        concordant += float((later & higher).sum()) + 0.5 * float((later & equal).sum())
    return concordant / comparable if comparable else 0.5


def tstr(real_train: pl.DataFrame, synthetic: pl.DataFrame, real_test: pl.DataFrame) -> dict[str, float]:
    """The C-index on ``real_test`` of a Cox model trained on the real training patients and of
    one trained on the synthetic records, and their ratio (synthetic over real)."""
    design = Design(real_train)
    test_x = design.matrix(real_test)
    test_time, test_event = _outcome(real_test)
    scores = []
    for frame in (real_train, synthetic):
        beta = cox_fit(design.matrix(frame), *_outcome(frame))
        scores.append(concordance(test_time, test_event, test_x @ beta))
    real_c, synthetic_c = scores
    return {
        "trtr_c_index": round(real_c, 4),
        "tstr_c_index": round(synthetic_c, 4),
        "tstr_ratio": round(synthetic_c / real_c, 4) if real_c > 0 else 0.0,
    }


def _outcome(frame: pl.DataFrame) -> Sequence[np.ndarray]:
    return frame["time"].fill_null(0.0).to_numpy().astype(float), frame["event"].fill_null(0).to_numpy()
