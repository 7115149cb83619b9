"""The linear Cox decision support evaluates is an exact fit: a column that is a linear
combination of others (a stage group implied by T, N and M) gets no coefficient of its own, and
the intervals come from the exact information matrix, so they are narrow enough to inform."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from inescape.modules.training.baseline import independent_columns
from inescape.notebook import cohort_frame, fit, generate, load_portable, predict

FACTS = ("age", "sex", "histology", "location", "grade", "t", "n", "m", "stage_group", "ecog")


def test_a_column_made_of_the_columns_before_it_is_dropped():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200), (rng.random(200) < 0.3).astype(float)
    x = np.column_stack([a, b, 1.0 - b, 2 * a + b, np.ones(200), rng.normal(size=200)])

    assert independent_columns(x) == [0, 1, 5]


@pytest.fixture(scope="module")
def cohort() -> pl.DataFrame:
    return cohort_frame(generate("us-seer", 3000, seed=1))


def test_the_exported_cox_drops_collinear_columns_and_gives_informative_intervals(cohort):
    model = fit(cohort, "cox", features="clinical", seed=1, bootstrap=0)
    portable = load_portable(model.artifacts()["model.json"])
    patients = cohort.drop_nulls(list(FACTS)).head(40)

    dropped = model.report["collinear"]
    assert any(name.startswith("stage_group=") for name in dropped), dropped
    assert not {f.name for f in portable.features} & set(dropped)
    widths = []
    for row in patients.iter_rows(named=True):
        one_year = predict(portable, {f: row[f] for f in FACTS}, months=[12])[0]
        assert one_year.lower < one_year.survival < one_year.upper
        widths.append(one_year.upper - one_year.lower)
    # before: 0.05 to 0.9 for a stage III patient, from an unidentified direction
    assert float(np.median(widths)) < 0.2, widths
    assert max(widths) < 0.5, widths
