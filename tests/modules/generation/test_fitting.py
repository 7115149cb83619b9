"""A profile fitted to a cohort generated from a known profile (global), starting from another
one (us-seer) as the prior, recovers the known figures: without noise and with ε = 1."""

from __future__ import annotations

import json

import pytest

import inescape.notebook as nb
from inescape.modules.generation.api import GeneratorApi
from inescape.modules.generation.fitting import privacy
from inescape.modules.generation.fitting.cohort import cohort_frame
from inescape.modules.generation.fitting.fit import TARGET_FAMILIES, fit_profile
from inescape.modules.generation.fitting.toml import to_toml
from inescape.modules.generation.targets import parse_target


@pytest.fixture(scope="module")
def generator():
    return nb._face(GeneratorApi)


@pytest.fixture(scope="module")
def known_cohort(generator):
    return cohort_frame(generator.generate("global", 20_000, seed=1))


@pytest.mark.parametrize("epsilon", [None, 1.0])
def test_a_fit_to_20k_patients_recovers_the_known_profile(generator, known_cohort, epsilon):
    truth, prior = generator.profile("global"), generator.profile("us-seer")

    fit = fit_profile(prior, known_cohort, generator=generator, name="twin", source="test", epsilon=epsilon)
    fitted = generator.parse_profile(to_toml(fit.profile), source="fitted")  # stored and read back

    assert fitted == fit.profile
    for h, share in truth.histology.shares.items():
        assert fitted.histology.shares[h] == pytest.approx(share, abs=0.015)
    for h in ("squamous_cell_carcinoma", "adenocarcinoma"):
        assert fitted.sex[h].value == pytest.approx(truth.sex[h].value, abs=0.03)
        # shrinkage toward the prior moves adenocarcinoma's shares by about 0.01 (its data weight is
        # about 0.9); under ε = 1 the prior's estimated strength varies with the noise, so up to 0.03
        stage_tolerance = 0.02 if epsilon is None else 0.03
        for group, share in truth.stage[h].groups.items():
            assert fitted.stage[h].groups.get(group, 0.0) == pytest.approx(share, abs=stage_tolerance), (
                h,
                group,
            )
        for sex in ("female", "male"):  # ε = 1: about 400 women with adenocarcinoma, noisy 5-year bands
            age_tolerance = 2.0 if epsilon is None else 3.5
            assert fitted.age[h][sex].mean == pytest.approx(truth.age[h][sex].mean, abs=age_tolerance)
    # The prior's own figures are far from the truth: the data, not the prior, decides at this n.
    assert abs(prior.histology.shares["adenocarcinoma"] - truth.histology.shares["adenocarcinoma"]) > 0.3
    assert next(w for w in fit.weights if w.statistic == "histology").data_weight > 0.99
    assert fit.epsilon == epsilon
    assert fit.patients == (20_000 if epsilon is None else None)  # under ε-DP the count is private

    twin = generator.generate(fitted, 20_000, seed=2)
    report = generator.fidelity_report(truth, twin)  # judged on the known profile's own targets
    # The families the fit estimates, and the squamous trial arms (thousands of patients each):
    # the pathway hazard ratios are the prior's, so these test the refitted baselines under them.
    # The adenocarcinoma arms are a few hundred patients in a squamous profile at 20,000 (TOGA's
    # HER2-positive metastatic arm about 120): judged or not, and near or far, by the draw.
    # CROSS's squamous arm is the exception under ε = 1: its median (81.6 months) sits where the
    # arm's curve is nearly flat at 50%, so a slightly lower curve has its median years earlier.
    # Out of 100 noisy fits here, 95 gave about 80 months and 5 gave 46-52; the other targets
    # passed in all. Without noise the fit is deterministic and the arm is judged.
    squamous_arms = ("trial.cross_scc.", "trial.cross_surgery_scc.", "trial.definitive_crt.")
    shoulder = {"trial.cross_scc.median_months"} if epsilon is not None else set()
    judged = [
        t
        for t in report.targets
        if (parse_target(t.name).family in TARGET_FAMILIES or t.name.startswith(squamous_arms))
        and t.name not in shoulder
    ]
    assert {parse_target(t.name).family for t in judged} >= {"histology", "sex", "stage", "survival", "trial"}
    assert [(t.name, t.achieved, t.target) for t in judged if t.verdict != "passed"] == []


def test_a_small_cohort_borrows_strength_from_the_prior(generator, known_cohort):
    small = known_cohort.sample(150, seed=3)

    fit = fit_profile(generator.profile("global"), small, generator=generator, name="small", source="test")

    by_name = {w.statistic: w for w in fit.weights}
    assert by_name["sex.other"].data_weight < 0.1  # a handful of patients: mostly the prior
    assert by_name["histology"].data_weight < 1.0
    assert generator.parse_profile(to_toml(fit.profile)) == fit.profile


def test_epsilon_without_opendp_says_what_to_install(generator, known_cohort, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_opendp(name, *args, **kwargs):
        if name.startswith("opendp"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_opendp)
    with pytest.raises(privacy.PrivacyUnavailable, match=r"inescape\[privacy\]"):
        fit_profile(
            generator.profile("global"),
            known_cohort.head(500),
            generator=generator,
            name="x",
            source="t",
            epsilon=1.0,
        )


def test_the_privacy_report_tells_a_twin_from_a_copy_of_its_training_patients(generator, known_cohort):
    from inescape.modules.generation.fitting.report import Thresholds, privacy_report

    train, holdout = known_cohort.head(4000), known_cohort.slice(4000, 4000)
    fit = fit_profile(
        generator.profile("global"), train, generator=generator, name="t", source="t", epsilon=1.0
    )
    twin = cohort_frame(generator.generate(fit.profile, 4000, seed=5))

    honest = privacy_report(train, holdout, twin)
    leaky = privacy_report(train, holdout, train)  # "synthetic" records that are the patients

    assert honest.mia_advantage < 0.1
    assert honest.mia_p_value > 1e-4  # within what chance gives a twin with no membership signal
    assert honest.identical_share <= 0.01  # coarse columns: a few real patients match by chance
    # The noise makes some twins more concentrated than their patients: the ratio of distances
    # to the closest training record (synthetic over holdout) was 0.95 ± 0.075 in 150 fits, under
    # the default 0.8 in 3. A copy of the patients is at 0 (below); the test allows down to 0.6.
    assert honest.failures(Thresholds(min_dcr_ratio=0.6)) == []
    assert min(honest.marginal_fidelity.values()) > 0.9
    assert leaky.identical == leaky.synthetic
    assert leaky.mia_advantage > 0.9
    assert leaky.mia_p_value < 1e-100
    assert any("p = 0 that chance alone" in f for f in leaky.failures(Thresholds()))
    assert len(leaky.failures(Thresholds())) >= 3
    # attribute inference: the copy gives away whether its own patients died, the twin does not
    assert leaky.aia_members_gain > 0.08
    assert abs(honest.aia_members_gain) < 0.05
    assert honest.aia_attribute == "event"
    assert 0.5 < honest.aia_baseline < 1


def test_a_twin_trains_a_cox_model_nearly_as_well_as_the_real_patients_do(generator, known_cohort):
    from inescape.modules.generation.fitting.report import Thresholds, privacy_report

    train, holdout = known_cohort.head(4000), known_cohort.slice(4000, 4000)
    fit = fit_profile(generator.profile("global"), train, generator=generator, name="t", source="t")
    twin = cohort_frame(generator.generate(fit.profile, 4000, seed=6))
    # outcomes shuffled across patients: the marginals survive, the prognosis does not
    scrambled = twin.with_columns(twin.select("time", "event").sample(fraction=1.0, shuffle=True, seed=1))

    good = privacy_report(train, holdout, twin)
    bad = privacy_report(train, holdout, scrambled)

    assert good.trtr_c_index > 0.65  # stage, pathway and age predict survival in the known profile
    assert good.tstr_ratio > 0.95
    assert 0.4 < bad.tstr_c_index < 0.6
    assert good.failures(Thresholds(min_tstr_ratio=0.9)) == []
    (failure,) = bad.failures(Thresholds(min_tstr_ratio=0.9))
    assert "train-on-synthetic C-index" in failure


def test_an_exported_resource_names_its_origin_and_a_fit_without_privacy_names_no_epsilon():
    from inescape.modules.generation.fitting.provenance import stamp

    line = '{"resourceType":"Patient","id":"p1","meta":{"tag":[{"system":"s","code":"synthetic"}]}}\n'
    exact = {"origin": "real", "source": "registry-a", "profile": "twin", "epsilon": None}

    assert list(stamp([line], None, "d1")) == [line]  # not derived from real patients: unchanged
    (stamped,) = [json.loads(s) for s in stamp([line], exact, "d1")]
    assert [t["code"] for t in stamped["meta"]["tag"]] == ["synthetic", "derived-from-real"]
    (derivation,) = stamped["meta"]["extension"]
    assert {p["url"] for p in derivation["extension"]} == {"source", "profile", "dataset"}
