"""Fidelity verdicts at the cohort's size: sampling noise alone fails no target of a shipped
profile, a shifted target is still caught, and too small a group is said to be too small."""

from __future__ import annotations

import math
import re

import msgspec
import polars as pl
import pytest

from inescape.modules.generation.api import FidelityReport, GeneratorApi, report_lines
from inescape.modules.generation.fidelity import fidelity_frame, report_confidence, verdict
from inescape.modules.generation.fidelity_metrics import Estimate, wilson
from inescape.modules.generation.library import Generator
from inescape.modules.generation.profiles.model import Profile
from inescape.runtime import library

SHIPPED = ("global", "iran-golestan", "us-seer")
SEEDS = (0, 1, 2, 3)
GEN: Generator = library(GeneratorApi)  # type: ignore[assignment]


def report(profile: str | Profile, n: int, seed: int) -> FidelityReport:
    chosen = GEN.profile(profile)
    return GEN.fidelity_report(
        chosen, pl.concat([fidelity_frame(c) for c in GEN.chunks(chosen, n, seed=seed)])
    )


def shifted(name: str, target: str, by: float) -> Profile:
    profile = GEN.profile(name)
    targets = [
        msgspec.structs.replace(t, value=t.value + by) if t.name == target else t for t in profile.targets
    ]
    return msgspec.structs.replace(profile, targets=targets)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", SHIPPED)
def test_a_500_patient_cohort_fails_no_target_for_sampling_noise(name, seed):
    result = report(name, 500, seed)

    failed = [
        f"{t.name}: {t.achieved} [{t.lower}, {t.upper}] vs {t.target} ± {t.tolerance}"
        for t in result.targets
        if t.verdict == "failed"
    ]
    assert failed == []
    assert result.failed == 0
    assert result.insufficient == sum(t.verdict == "insufficient" for t in result.targets)


@pytest.mark.parametrize("name", SHIPPED)
def test_each_check_says_its_n_interval_and_level(name):
    result = report(name, 500, seed=7)

    for t in result.targets:
        if t.name.startswith("trial.") and t.achieved is None:  # a trial's arm: a few patients at most
            assert t.verdict == "insufficient"
            continue
        assert t.n > 0
        assert t.achieved is not None
        assert t.lower is not None
        assert t.lower <= t.achieved
        assert t.upper is None or t.achieved <= t.upper
        assert t.confidence == pytest.approx(1 - 0.05 / len(result.targets))


def test_at_500_patients_a_pcr_share_on_a_few_dozen_resections_is_too_few_to_judge():
    result = report("us-seer", 500, seed=0)

    pcr = next(t for t in result.targets if t.name == "pcr.CROSS.squamous_cell_carcinoma")
    assert pcr.n < 100
    assert pcr.verdict == "insufficient"
    assert not pcr.ok
    assert any(
        line.startswith("  TOO FEW pcr.CROSS.squamous_cell_carcinoma") for line in report_lines(result)
    )


def test_a_large_cohort_passes_the_targets_the_small_one_could_not_judge():
    result = report("global", 20_000, seed=0)

    # the trial arms (a few hundred patients at 20,000) need more patients to judge
    assert [t.name for t in result.targets if t.verdict != "passed" and not t.name.startswith("trial.")] == []
    assert result.failed == 0


def test_a_target_shifted_well_beyond_its_tolerance_fails_even_at_500_patients():
    # us-seer generates about 60 % adenocarcinoma; this profile claims 40 %.
    result = report(shifted("us-seer", "histology.adenocarcinoma", -0.20), 500, seed=0)

    verdicts = {t.name: t.verdict for t in result.targets}
    assert verdicts["histology.adenocarcinoma"] == "failed"
    assert result.failed == 1
    assert not result.all_ok
    assert any(line.startswith("  FAILED histology.adenocarcinoma") for line in report_lines(result))


@pytest.mark.parametrize("seed", [0, 1])
def test_a_shift_of_a_few_tolerances_fails_once_the_cohort_is_large_enough_to_see_it(seed):
    # The distant share is judged ± 0.015; 500 patients cannot tell a shift of 0.06 from noise
    # every time, 20,000 always can.
    miscalibrated = shifted("us-seer", "stage.distant", 0.06)

    small = {t.name: t for t in report(miscalibrated, 500, seed).targets}["stage.distant"]
    large = {t.name: t for t in report(miscalibrated, 20_000, seed).targets}["stage.distant"]

    assert small.verdict in ("insufficient", "failed")
    assert large.verdict == "failed"
    assert large.upper is not None
    assert large.upper < large.target - large.tolerance


def test_verdicts_follow_the_interval_against_the_band():
    band = {"target": 0.5, "tolerance": 0.05}

    assert verdict(Estimate(0.52, 1000, 0.49, 0.55), **band) == "passed"
    assert verdict(Estimate(0.58, 1000, 0.545, 0.615), **band) == "passed"  # overlaps the band's edge
    assert verdict(Estimate(0.62, 1000, 0.56, 0.68), **band) == "failed"  # wholly above
    assert verdict(Estimate(0.30, 50, 0.20, 0.42), **band) == "failed"  # wide, yet wholly below
    assert verdict(Estimate(0.50, 50, 0.36, 0.64), **band) == "insufficient"  # wider than the band
    assert verdict(Estimate(0.50, 5, 0.48, 0.52), **band) == "insufficient"  # too few patients
    assert verdict(Estimate(None, 0), **band) == "insufficient"
    assert verdict(Estimate(12.0, 500, 10.0, math.inf), target=30.0, tolerance=2.0) == "insufficient"
    assert verdict(Estimate(12.0, 500, 10.0, 14.0), target=30.0, tolerance=2.0) == "failed"


def test_the_wilson_interval_matches_published_values():
    # Newcombe, Stat Med 1998;17:857, table I: 0/10 → 0 to 0.2775; 81/263 → 0.2553 to 0.3662.
    assert wilson(0, 10, 0.95) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(81, 263, 0.95) == pytest.approx((0.2553, 0.3662), abs=1e-4)


def test_the_intervals_of_one_report_hold_together_at_95_percent():
    assert report_confidence(20) == pytest.approx(0.9975)
    assert report_confidence(0) == pytest.approx(0.95)


def _sources(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in ([v] if k == "source" else _sources(v))]
    if isinstance(value, list):
        return [s for v in value for s in _sources(v)]
    return []


@pytest.mark.parametrize("name", SHIPPED)
def test_every_source_cites_the_publication_not_a_reference_file(name):
    sources = _sources(msgspec.to_builtins(GEN.profile(name)))

    assert len(sources) > 20
    assert [s for s in sources if "domain.md" in s or "§" in s or "shared/" in s] == []
    # What the report shows for each target: a journal and year, or the engineer's own figure.
    for target in GEN.profile(name).targets:
        assert re.search(r"(19|20)\d\d", target.source) or "engineer" in target.source, target.source
