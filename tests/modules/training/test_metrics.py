"""The evaluation metrics against their definitions: Harrell's C by brute force over pairs, the
Kaplan-Meier estimate by hand, AUC and Brier at their known extremes, calibration of a model
that is right and of one that is wrong, and bootstrap intervals that cover the estimate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inescape.modules.training import metrics as m


def brute_concordance(time, event, risk) -> float:
    num = den = 0.0
    for i in range(len(time)):
        if not event[i]:
            continue
        for j in range(len(time)):
            if time[j] > time[i] or (time[j] == time[i] and not event[j]):
                den += 1
                num += 1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0
    return num / den if den else float("nan")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 12), st.booleans(), st.integers(0, 5)),
        min_size=2,
        max_size=40,
    )
)
def test_concordance_is_harrells_over_comparable_pairs_ties_included(rows):
    time, event, risk = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    expected = brute_concordance(time, event.astype(bool), risk)

    found = m.concordance(time, event, risk)

    assert (np.isnan(found) and np.isnan(expected)) or found == pytest.approx(expected)


def test_concordance_at_its_extremes():
    time = np.arange(1.0, 11.0)
    event = np.ones(10)

    assert m.concordance(time, event, -time) == 1.0  # who dies first had the higher risk
    assert m.concordance(time, event, time) == 0.0
    assert m.concordance(time, event, np.zeros(10)) == 0.5


def test_kaplan_meier_matches_a_hand_computed_curve():
    # times 1,2,2,3,4 (censored at 2 and 4): S = 4/5 at 1, x 2/3... at 2 (one death of three at risk)
    times, survival = m.kaplan_meier(np.array([1, 2, 2, 3, 4.0]), np.array([1, 1, 0, 1, 0]))

    assert times.tolist() == [1, 2, 3, 4]
    assert survival == pytest.approx([0.8, 0.8 * 3 / 4, 0.8 * 3 / 4 * 1 / 2, 0.8 * 3 / 4 * 1 / 2])


def test_time_dependent_auc_and_brier_of_a_perfect_model():
    rng = np.random.default_rng(0)
    time = rng.uniform(1, 60, 400)
    event = np.ones(400)
    g = m.Censoring(time, event)
    truth_at_24 = (time > 24).astype(float)  # survival known for certain

    assert m.time_auc(time, event, -time, 24.0, g) == 1.0
    assert m.brier(time, event, truth_at_24, 24.0, g) == pytest.approx(0.0)
    assert m.brier(time, event, 1 - truth_at_24, 24.0, g) == pytest.approx(1.0)


def test_calibration_tells_a_right_model_from_a_wrong_one():
    rng = np.random.default_rng(1)
    hazard = rng.choice([0.01, 0.03, 0.08], size=6000)
    time = rng.exponential(1 / hazard)
    event = np.ones(6000)
    right = np.exp(-hazard * 12)

    _, error_right, noise = m.calibration(time, event, right, 12.0)
    _, error_wrong, _ = m.calibration(time, event, np.clip(right + 0.2, 0, 1), 12.0)

    assert error_right < 0.03
    assert error_right < 3 * noise  # what a perfect model shows is about sampling noise
    assert error_wrong > 0.15


def test_bootstrap_interval_covers_the_estimate_and_narrows_with_data():
    rng = np.random.default_rng(2)

    def interval(n: int) -> tuple[float, float, float]:
        time = rng.exponential(10, n)
        risk = -time + rng.normal(0, 10, n)
        event = np.ones(n)
        low, high = m.bootstrap(lambda i: m.concordance(time[i], event[i], risk[i]), n, seed=0, reps=100)
        return low, m.concordance(time, event, risk), high

    small, large = interval(200), interval(3000)

    assert small[0] < small[1] < small[2]
    assert large[0] < large[1] < large[2]
    assert large[2] - large[0] < small[2] - small[0]


def test_auc_of_a_classifier():
    label = np.array([0, 0, 1, 1])

    assert m.auc(label, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert m.auc(label, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert m.auc(label, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
