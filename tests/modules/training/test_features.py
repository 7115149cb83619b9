"""The training frame: one row per patient, features only from what is known at the treatment
decision (a change to anything recorded later moves no feature), the same frame from the
generator's tables and from the clinical database's, and the first-line plan as recorded."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from inescape.kernel.errors import Invalid
from inescape.modules.training.features import FEATURES, cohort_frame, feature_names, plan_of
from inescape.modules.training.preprocess import fit_preprocessor, stratified_split
from inescape.notebook import generate

NAMES = [f.name for f in FEATURES]


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return generate("us-seer", 800, seed=5)


def test_one_row_per_diagnosed_patient_with_every_feature_and_the_outcome(tables):
    frame = cohort_frame(tables)

    assert frame.height == tables["patients"].height
    assert frame["id"].n_unique() == frame.height
    assert set(NAMES) <= set(frame.columns)
    assert frame["time"].min() >= 0
    assert set(frame["event"].unique()) <= {0, 1}
    assert frame["ecog"].null_count() == 0  # measured at the work-up, on or before the decision
    assert (frame["prediction_date"] >= frame["diagnosis_date"]).all()


def test_nothing_recorded_after_the_prediction_time_moves_a_feature(tables):
    before = cohort_frame(tables)
    when = dict(before.select("id", "prediction_date").iter_rows())
    later = pl.col("patient_id").replace_strict(when, return_dtype=pl.Date)

    treatments = tables["treatments"].with_columns(
        after=pl.col("start_date") > later,
    )
    changed_treatments = treatments.with_columns(
        margin=pl.when("after").then(pl.lit("R2")).otherwise("margin"),
        pathologic_complete_response=pl.when("after").then(True).otherwise("pathologic_complete_response"),
        regimen=pl.when("after").then(pl.lit("nivolumab + trastuzumab")).otherwise("regimen"),
        agents=pl.when("after").then(pl.lit(["nivolumab", "trastuzumab"])).otherwise("agents"),
    ).drop("after")
    extra_ecog = (
        tables["observations"]
        .filter(pl.col("code") == "89247-1")
        .with_columns(value=pl.lit(4.0), observed_on=later + timedelta(days=1))
    )
    restaged = tables["staging"].with_columns(
        t=pl.when(pl.col("kind") != "clinical").then(pl.lit("T4b")).otherwise("t"),
        stage_group=pl.when(pl.col("kind") != "clinical").then(pl.lit("IVB")).otherwise("stage_group"),
    )
    changed = {
        **tables,
        "treatments": changed_treatments,
        "observations": pl.concat([tables["observations"], extra_ecog]),
        "staging": restaged,
        "patients": tables["patients"].with_columns(
            recurrence_date=pl.lit(date(2020, 1, 1)), recurrence_site=pl.lit("distant")
        ),
    }
    after = cohort_frame(changed)

    assert changed_treatments["margin"].to_list() != tables["treatments"]["margin"].to_list()
    assert after.select("id", *NAMES).equals(before.select("id", *NAMES))


def test_an_observation_before_the_decision_is_used(tables):
    before = cohort_frame(tables)
    first = before.row(0, named=True)
    earlier = pl.DataFrame(
        {
            "patient_id": [first["id"]],
            "code": ["89247-1"],
            "value": [3.0],
            "observed_on": [first["prediction_date"]],
            "unit": ["{score}"],
        }
    )
    frame = cohort_frame({**tables, "observations": pl.concat([tables["observations"], earlier])})

    assert frame.filter(pl.col("id") == first["id"])["ecog"].item() == 3.0


def test_the_database_shape_gives_the_same_frame(tables):
    patients = tables["patients"]
    risk = [c for c in patients.columns if c.startswith("rf_")]
    stored = patients.with_columns(
        birth_year=pl.col("birth_date").dt.year(),
        risk_factors=pl.struct([pl.col(c).alias(c.removeprefix("rf_")) for c in risk]),
    ).drop("birth_date", *risk)

    assert cohort_frame({**tables, "patients": stored}).equals(cohort_frame(tables))


def test_the_first_line_plan_is_read_from_the_first_treatment_day():
    d = date(2020, 1, 1)
    rows = [
        ("a", "systemic", d, "neoadjuvant", "CROSS", ["carboplatin", "paclitaxel"]),
        ("a", "radiotherapy", d, "neoadjuvant", "CROSS", []),
        ("a", "surgery", d + timedelta(days=90), "definitive", None, []),
        ("b", "systemic", d, "palliative", "nivolumab + FOLFOX", ["nivolumab", "oxaliplatin"]),
        ("c", "systemic", d, "perioperative", "FLOT", ["docetaxel"]),
        ("d", "surgery", d, "definitive", None, []),
        ("e", "radiotherapy", d, "definitive", "definitive CRT", []),
        ("f", "systemic", d, "palliative", "trastuzumab + cisplatin/capecitabine", ["trastuzumab"]),
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "patient_id": pl.String,
            "kind": pl.String,
            "start_date": pl.Date,
            "intent": pl.String,
            "regimen": pl.String,
            "agents": pl.List(pl.String),
        },
        orient="row",
    )
    plans = {r["patient_id"]: r for r in plan_of(frame).iter_rows(named=True)}

    assert {k: v["pathway"] for k, v in plans.items()} == {
        "a": "neoadjuvant_crt",
        "b": "palliative_systemic",
        "c": "perioperative_chemo",
        "d": "esophagectomy",
        "e": "definitive_crt",
        "f": "palliative_systemic",
    }
    assert plans["b"]["first_line_ici"] == "yes"
    assert plans["f"]["first_line_trastuzumab"] == "yes"
    assert plans["a"]["prediction_date"] == d


def test_an_unknown_feature_or_set_is_refused_naming_it():
    with pytest.raises(Invalid, match="shoe_size"):
        feature_names(["age", "shoe_size"])
    with pytest.raises(Invalid, match="full, clinical"):
        feature_names("everything")


def test_preprocessing_learns_from_the_training_rows_only(tables):
    frame = cohort_frame(tables)
    train, _, test = stratified_split(frame, seed=1)
    fitted = fit_preprocessor(frame[train], ["age", "histology"])
    shifted = frame.with_columns(
        age=pl.when(pl.arange(0, frame.height).is_in(test)).then(500.0).otherwise("age")
    )

    assert fit_preprocessor(shifted[train], ["age", "histology"]) == fitted
    assert fitted.transform(frame[test]).shape == (len(test), len(fitted.columns))


def test_the_split_is_stratified_and_follows_the_seed(tables):
    frame = cohort_frame(tables)
    train, val, test = stratified_split(frame, seed=3)

    assert len(set(train) | set(val) | set(test)) == frame.height
    assert not set(train) & set(test)
    share = frame["event"].mean()
    assert abs(frame[test]["event"].mean() - share) < 0.02
    assert [a.tolist() for a in stratified_split(frame, seed=3)] == [
        train.tolist(),
        val.tolist(),
        test.tolist(),
    ]
    assert stratified_split(frame, seed=4)[2].tolist() != test.tolist()
