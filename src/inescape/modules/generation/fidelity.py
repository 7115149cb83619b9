"""How close a generated cohort comes to its profile's targets, with survival by stage.

report = fidelity_report(profile, cohort, codecs=codecs)   # a Cohort or {"patients": df, ...}
[t for t in report.targets if t.verdict == "failed"]

Each target is judged at the size of the group it rests on, not on its point estimate alone:
the achieved value's confidence interval (``fidelity_metrics``) is set against the band
target ± tolerance.

failed        the whole interval lies outside the band: the cohort is off target beyond what
              sampling error at this n explains.
insufficient  too few patients to judge: no estimate (nobody in the group, nobody followed to
              the landmark, a median not reached), fewer than ``MIN_PATIENTS``, or an interval
              wider than the band (half-width > tolerance), where a value twice the tolerance
              away from the target could still overlap the band.
passed        otherwise: the interval overlaps the band and is no wider than it.

The intervals are simultaneous for the report: each is at level 1 - 0.05/k for k targets
(Bonferroni), so a cohort drawn from a generator that is on every target gets a ``failed``
verdict somewhere in its report with probability at most 5 %, whatever its size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.generation.api import FidelityReport, Privacy, StageSurvival, TargetResult, Verdict
from inescape.modules.generation.engine.frames import Cohort
from inescape.modules.generation.engine.mortality import life_table
from inescape.modules.generation.fidelity_metrics import (
    ANALYSIS_COLUMNS,
    Estimate,
    achieved,
    analysis_frame,
    survival_at,
)
from inescape.modules.generation.profiles.model import Profile
from inescape.modules.generation.targets import parse_target
from inescape.modules.patients.api import ClinicalCodecs

_STAGES = ("0", "I", "II", "III", "IV")
_YEARS = (1, 3, 5)
NOT_FITTED = "not applicable: profile not fitted to real data"
FAMILY_ERROR = 0.05  # chance of any noise-only failure in one report (Bonferroni over its targets)
MIN_PATIENTS = 10  # below this no target is judged, whatever its interval


def verdict(estimate: Estimate, target: float, tolerance: float) -> Verdict:
    """``failed``, ``insufficient`` or ``passed`` (the module docstring defines them)."""
    value, n, lower, upper = estimate
    if value is None or lower is None or upper is None or n < MIN_PATIENTS:
        return "insufficient"
    if lower > target + tolerance or upper < target - tolerance:
        return "failed"
    if upper - lower > 2 * tolerance:
        return "insufficient"
    return "passed"


def report_confidence(targets: int) -> float:
    """Each interval's level so that the report's intervals hold together at 1 - FAMILY_ERROR."""
    return 1 - FAMILY_ERROR / max(1, targets)


def fidelity_frame(cohort: Cohort | Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """A cohort (or one chunk) reduced to the one row per patient the report reads: reduce each
    chunk as it is generated, concatenate, and pass the result to ``fidelity_report``."""
    return analysis_frame(cohort.frames() if isinstance(cohort, Cohort) else cohort)


def _people(frames: Cohort | Mapping[str, pl.DataFrame] | pl.DataFrame) -> pl.DataFrame:
    if not isinstance(frames, pl.DataFrame):
        return fidelity_frame(frames)
    missing = [c for c in ANALYSIS_COLUMNS if c not in frames.columns]
    if missing:
        message = f"a DataFrame must come from fidelity_frame(cohort) (missing {', '.join(missing[:4])})"
        raise Invalid(message, errors=[{"field": "frames", "message": message}])
    return frames


def _targets(codecs: ClinicalCodecs, profile: Profile, people: pl.DataFrame) -> list[TargetResult]:
    confidence = report_confidence(len(profile.targets))
    background = profile.survival.background
    table = None if background is None else life_table(background.life_table)
    results = []
    for target in profile.targets:
        estimate = achieved(
            codecs,
            people,
            parse_target(target.name),
            confidence=confidence,
            table=table,
            trials=profile.trials,
        )
        judged = verdict(estimate, target.value, target.tolerance)
        results.append(
            TargetResult(
                name=target.name,
                target=target.value,
                achieved=estimate.value,
                tolerance=target.tolerance,
                ok=judged == "passed",
                n=estimate.n,
                source=target.source,
                verdict=judged,
                lower=estimate.lower,
                upper=None if estimate.upper is None or math.isinf(estimate.upper) else estimate.upper,
                confidence=confidence,
            )
        )
    return results


def _by_stage(people: pl.DataFrame) -> pl.DataFrame:
    staged = people.with_columns(stage=pl.col("stage_group").str.replace(r"[ABC]$", ""))
    return staged.filter(pl.col("stage").is_in(_STAGES))


def _survival(codecs: ClinicalCodecs, people: pl.DataFrame) -> list[StageSurvival]:
    staged = _by_stage(people)
    rows = []
    for stage in _STAGES:
        chosen = staged.filter(pl.col("stage") == stage)
        if chosen.height:
            rows.append(
                StageSurvival(
                    stage=stage,
                    patients=chosen.height,
                    deaths=int(chosen["event"].sum()),
                    survival={f"{y}y": survival_at(codecs, chosen, 12.0 * y) for y in _YEARS},
                )
            )
    return rows


def _svg(codecs: ClinicalCodecs, profile: Profile, people: pl.DataFrame) -> str:
    staged = _by_stage(people).with_columns(stage=pl.concat_str(pl.lit("Stage "), "stage"))
    curve = codecs.kaplan_meier(staged.select("time", "event", "stage"), group="stage")
    return codecs.km_svg(
        curve.filter(pl.col("time") <= 120),
        title=f"Overall survival by clinical stage: {profile.title}",
        at_risk_times=[0, 12, 24, 36, 48, 60, 84, 120],
    )


def fidelity_report(
    profile: Profile, frames: Cohort | Mapping[str, pl.DataFrame] | pl.DataFrame, *, codecs: ClinicalCodecs
) -> FidelityReport:
    """Each target's value in the cohort, with its interval and verdict at the cohort's size
    against the profile's tolerance, survival at 1/3/5 years
    by stage (Kaplan-Meier), the curves as SVG, and the privacy section. ``frames`` is a cohort,
    its frames by name, or the concatenated ``fidelity_frame`` of its chunks (memory-bounded)."""
    people = _people(frames)
    targets = _targets(codecs, profile, people)
    return FidelityReport(
        profile=profile.name,
        version=profile.version,
        patients=people.height,
        all_ok=all(t.ok for t in targets),
        failed=sum(t.verdict == "failed" for t in targets),
        insufficient=sum(t.verdict == "insufficient" for t in targets),
        targets=targets,
        survival_by_stage=_survival(codecs, people),
        km_svg=_svg(codecs, profile, people),
        privacy=Privacy(status=NOT_FITTED),
    )
