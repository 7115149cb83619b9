"""The torch-free survival model format: predictions equal the Cox formula worked by hand,
intervals bracket them, and a model or facts it cannot use are refused with the reason."""

from __future__ import annotations

import math

import msgspec
import pytest

from inescape.kernel.errors import Invalid
from inescape.modules.training.api import Baseline, CoxModel, Feature
from inescape.modules.training.portable import PortableModels

SURVIVAL = PortableModels()  # the SurvivalModels facade (library)
predict, load_portable, dump_portable = SURVIVAL.predict, SURVIVAL.load_portable, SURVIVAL.dump_portable

MODEL = CoxModel(
    format="inescape.cox.v1",
    features=[
        Feature(name="age", fact="age", kind="numeric", mean=60.0),
        Feature(
            name="histology=adenocarcinoma",
            fact="histology",
            kind="indicator",
            mean=0.5,
            value="adenocarcinoma",
        ),
    ],
    coefficients=[0.03, -0.2],
    covariance=[[0.0001, 0.0], [0.0, 0.01]],
    baseline=Baseline(months=[6, 12, 36, 60], cumulative_hazard=[0.1, 0.2, 0.5, 0.8]),
)


def test_survival_is_the_cox_formula_at_each_horizon():
    points = predict(MODEL, {"age": 70, "histology": "adenocarcinoma"}, months=[12, 36, 60])

    lp = 0.03 * (70 - 60) + (-0.2) * (1 - 0.5)  # 0.2
    expected = [math.exp(-h * math.exp(lp)) for h in (0.2, 0.5, 0.8)]
    assert [p.survival for p in points] == pytest.approx(expected)
    assert points[0].survival == pytest.approx(0.78327, abs=1e-5)  # exp(-0.2 e^0.2)


def test_the_interval_brackets_the_estimate_and_widens_with_uncertainty():
    facts = {"age": 70, "histology": "squamous_cell_carcinoma"}
    narrow = predict(MODEL, facts, months=[36])[0]
    wide_model = msgspec.structs.replace(MODEL, covariance=[[0.0004, 0.0], [0.0, 0.04]])
    wide = predict(wide_model, facts, months=[36])[0]

    assert narrow.lower < narrow.survival < narrow.upper
    assert wide.survival == pytest.approx(narrow.survival)
    assert wide.upper - wide.lower > narrow.upper - narrow.lower


def test_a_horizon_past_the_models_follow_up_has_no_estimate():
    (point,) = predict(MODEL, {"age": 50, "histology": "adenocarcinoma"}, months=[120])

    assert point.survival is None
    assert point.lower is None


def test_missing_or_mistyped_facts_are_named():
    with pytest.raises(Invalid) as missing:
        predict(MODEL, {"age": 70}, months=[12])
    with pytest.raises(Invalid) as mistyped:
        predict(MODEL, {"age": "seventy", "histology": "adenocarcinoma"}, months=[12])

    assert missing.value.errors[0]["field"] == "histology"
    assert mistyped.value.errors[0]["field"] == "age"


def test_a_model_round_trips_and_a_malformed_one_is_refused():
    assert load_portable(dump_portable(MODEL)) == MODEL
    broken = msgspec.json.decode(dump_portable(MODEL))
    broken["coefficients"] = [0.03]

    with pytest.raises(Invalid, match="coefficients and covariance"):
        load_portable(msgspec.json.encode(broken))
    with pytest.raises(Invalid, match=r"inescape\.cox\.v1"):
        load_portable(b'{"format": "pickle"}')


def test_a_model_is_read_from_its_decoded_json_as_well():
    assert load_portable(msgspec.json.decode(dump_portable(MODEL))) == MODEL
    with pytest.raises(Invalid, match=r"inescape\.cox\.v1"):
        load_portable({"format": "pickle"})
