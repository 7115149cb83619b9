"""On a synthetic cohort a fitted model is reported beside the oracle: the C-index of the
generator's true risk on the same held-out patients, which no model beats by more than noise,
and the true benefit of the treatment a patient's pathway weighs, against the model's own
estimate of it."""

from __future__ import annotations

import pytest

from inescape.notebook import cohort_frame, fit, generate


@pytest.fixture(scope="module")
def cohort():
    return cohort_frame(generate("us-seer-heterogeneous", 6_000, seed=11))


def test_the_oracle_c_index_is_reported_and_not_beaten(cohort):
    model = fit(cohort, "cox", seed=1, bootstrap=0)

    m = model.metrics
    assert 0.6 < m["oracle_c_index"] <= 1
    assert m["c_index"] <= m["oracle_c_index"] + 0.005  # the truth orders the same patients best
    assert m["c_index_vs_oracle"] == pytest.approx(m["c_index"] / m["oracle_c_index"])


def test_the_oracle_benefit_is_reported_beside_the_models_estimate(cohort):
    model = fit(cohort, "cox", seed=1, bootstrap=0)

    m = model.metrics
    assert m["oracle_benefit_n"] >= 20
    assert m["oracle_benefit"] > 0  # the add-on treatments lower the hazard on average
    assert m["oracle_benefit_sd"] > 0.05  # and not equally for everyone (PD-L1, HER2, histology)
    assert "model_benefit" in m


def test_real_data_has_no_oracle(cohort):
    real = cohort.with_columns(synthetic_risk=None, synthetic_effect=None)
    model = fit(real, "cox", seed=1, bootstrap=0)

    assert "oracle_c_index" not in model.metrics
    assert "oracle_benefit" not in model.metrics
