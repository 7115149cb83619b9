"""Treatment effects a clinician would check against the trials, and the heterogeneity a profile
declares: on 100,000 patients the trial-eligible patients given each trial's treatment survive as
long as that trial's arm did, while the stage-level targets still hold; each patient carries the
true effect of the add-on treatment their pathway weighs, and it varies the way the subgroup
analyses say (PD-L1 CPS and a PD-1 inhibitor)."""

from __future__ import annotations

from importlib import resources

import polars as pl
import pytest

from inescape.modules.generation.api import FidelityReport, GeneratorApi, ProfileInvalid
from inescape.modules.generation.engine import Cohort, concat
from inescape.modules.generation.fidelity import fidelity_frame
from inescape.modules.generation.fidelity_metrics import trial_arm
from inescape.modules.generation.library import Generator
from inescape.runtime import library

GEN: Generator = library(GeneratorApi)  # type: ignore[assignment]
N = 100_000


@pytest.fixture(scope="module")
def us_seer() -> Cohort:
    return concat(GEN.chunks("us-seer", N, seed=77))


@pytest.fixture(scope="module")
def report(us_seer: Cohort) -> FidelityReport:
    return GEN.fidelity_report("us-seer", us_seer)


def _us_seer_text() -> str:
    folder = resources.files("inescape.modules.generation").joinpath("profiles")
    return folder.joinpath("us-seer.toml").read_text(encoding="utf-8")


def _target(report: FidelityReport, name: str):
    return next(t for t in report.targets if t.name == name)


@pytest.mark.parametrize(
    "name",
    [
        "trial.cross_scc.median_months",  # Shapiro 2015: 81.6 months
        "trial.cross_adeno.median_months",  # 43.2
        "trial.cross_surgery_scc.median_months",  # 21.1
        "trial.cross_surgery_adeno.median_months",  # 27.1
        "trial.esopec_flot.3y",  # 57.4 %
        "trial.definitive_crt.median_months",  # RTOG 85-01: 14.1 months
        "trial.definitive_crt.5y",  # 26 %
        "trial.checkmate577.median_months",  # disease-free survival 22.4 months after residual disease
    ],
)
def test_curative_arms_survive_as_long_as_in_their_trial(report, name):  # or stay free of disease
    target = _target(report, name)

    assert target.achieved is not None, target
    assert abs(target.achieved - target.target) <= target.tolerance, target
    assert target.verdict != "failed"


def test_stage_level_survival_still_holds_beside_the_trial_arms(report):
    # us-seer's stage-level figures are SEER's relative survival
    stage = [t for t in report.targets if t.name.startswith(("survival.", "relative_survival."))]

    assert stage
    assert [t for t in stage if t.verdict != "passed"] == []


def test_cross_beats_surgery_alone_in_the_same_eligible_patients(us_seer):
    people = fidelity_frame(us_seer)
    trials = GEN.profile("us-seer").trials

    # CROSS against surgery alone: HR 0.48 in squamous cell carcinoma, 0.73 in adenocarcinoma
    # (Shapiro 2015); crude death rates over all follow-up dilute them a little.
    for cross, surgery, below in (
        ("cross_scc", "cross_surgery_scc", 0.7),
        ("cross_adeno", "cross_surgery_adeno", 0.9),
    ):
        treated, alone = trial_arm(people, trials[cross]), trial_arm(people, trials[surgery])
        assert treated.height > 500
        assert alone.height > 300
        assert _deaths_per_month(treated) < below * _deaths_per_month(alone)


def _deaths_per_month(arm: pl.DataFrame) -> float:
    return float(arm["event"].sum() / arm["time"].sum())


def test_each_patient_keeps_the_true_effect_and_cps_modifies_the_pd1_benefit(us_seer):
    cps = us_seer.biomarkers.filter(pl.col("kind") == "pdl1_cps").select(
        "patient_id", cps=pl.col("value").cast(pl.Int16)
    )
    treated = us_seer.treatments
    curative = treated.filter(pl.col("intent") != "palliative")["patient_id"]  # palliative after it
    palliative = treated.filter(
        (pl.col("intent") == "palliative") & ~pl.col("patient_id").is_in(curative.implode())
    )
    adeno = us_seer.conditions.filter(pl.col("histology") == "adenocarcinoma")["patient_id"]
    people = (
        us_seer.patients.select(pl.col("id").alias("patient_id"), "synthetic_effect")
        .join(cps, on="patient_id")
        .filter(pl.col("patient_id").is_in(palliative["patient_id"].implode()))
        .filter(pl.col("patient_id").is_in(adeno.implode()))
    )
    her2 = us_seer.biomarkers.filter((pl.col("kind") == "her2") & pl.col("value").is_in(["3+", "2+ ISH+"]))
    people = people.filter(~pl.col("patient_id").is_in(her2["patient_id"].implode()))

    high = people.filter(pl.col("cps") >= 10)["synthetic_effect"]
    none = people.filter(pl.col("cps") < 1)["synthetic_effect"]
    assert high.len() > 200
    assert none.len() > 50
    assert high.null_count() == 0
    assert none.null_count() == 0
    # log hazard ratios: CPS >= 10 gain more from a PD-1 inhibitor than CPS < 1 (CheckMate 649)
    assert high.mean() < none.mean() - 0.2  # type: ignore[operator]
    assert us_seer.patients["synthetic_effect"].null_count() > 0  # null where no add-on is weighed


def test_the_true_effect_is_no_clinical_fact_of_the_record(us_seer):
    records = GEN.to_records(concat(GEN.chunks("us-seer", 50, seed=3)))

    assert all("synthetic_effect" not in r for r in records)
    assert "synthetic_effect" in us_seer.patients.columns


def test_a_declared_effect_changes_the_survival_of_the_patients_it_names():
    text = _us_seer_text()
    harsher = GEN.parse_profile(
        text + '\n[[survival.effects]]\nname = "ECOG 0"\nwhen = { ecog = ["0"] }\nhr = 3.0\nsource = "test"\n'
    )
    base, changed = (
        fidelity_frame(concat(GEN.chunks(p, 20_000, seed=5))) for p in (GEN.profile("us-seer"), harsher)
    )

    def rate(frame: pl.DataFrame, ecog: int) -> float:
        return _deaths_per_month(frame.filter(pl.col("ecog") == ecog))

    assert rate(changed, 0) > 2 * rate(base, 0)
    assert rate(changed, 2) == pytest.approx(rate(base, 2), rel=0.15)


@pytest.mark.parametrize(
    ("addition", "field"),
    [
        (
            '\n[[targets]]\nname = "trial.nowhere.3y"\nvalue = 0.5\ntolerance = 0.1\nsource = "x"\n',
            "targets[",
        ),
        (
            '\n[[survival.effects]]\nname = "x"\nwhen = { blood_group = ["A"] }\nhr = 2.0\nsource = "x"\n',
            "survival.effects[",
        ),
        ('\n[[survival.effects]]\nname = "x"\ntreatment = "aspirin"\nhr = 2.0\nsource = "x"\n', ".treatment"),
    ],
)
def test_a_profile_naming_an_unknown_arm_or_effect_column_is_refused_naming_the_field(addition, field):
    text = _us_seer_text()

    with pytest.raises(ProfileInvalid) as refused:
        GEN.parse_profile(text + addition)

    assert any(field in e["field"] for e in refused.value.errors), refused.value.errors
