"""How close a generated cohort comes to its profile's targets, with survival by stage.

report = fidelity_report(profile, cohort)   # a Cohort or {"patients": df, "staging": df, ...}
[t for t in report.targets if not t.ok]
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.generation.engine.frames import Cohort
from inescape.modules.generation.fidelity_metrics import (
    ANALYSIS_COLUMNS,
    achieved,
    analysis_frame,
    survival_at,
)
from inescape.modules.generation.profile_model import Profile
from inescape.modules.generation.targets import parse_target
from inescape.modules.patients.api import kaplan_meier, km_svg

_STAGES = ("0", "I", "II", "III", "IV")
_YEARS = (1, 3, 5)
NOT_FITTED = "not applicable: profile not fitted to real data"


class TargetResult(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    target: float
    achieved: float | None  # None: the cohort has no patient the target is about
    tolerance: float
    ok: bool
    n: int  # patients (or rows) the achieved value rests on
    source: str


class StageSurvival(msgspec.Struct, frozen=True, kw_only=True):
    """Kaplan-Meier overall survival by clinical stage (cTNM, A/B groups pooled)."""

    stage: str
    patients: int
    deaths: int
    survival: dict[str, float | None]  # "1y", "3y", "5y"


class Privacy(msgspec.Struct, frozen=True, kw_only=True):
    """Disclosure risk against real training data: only meaningful for a profile fitted to data."""

    status: str
    metrics: dict[str, float] = msgspec.field(default_factory=dict)


class FidelityReport(msgspec.Struct, frozen=True, kw_only=True):
    profile: str
    version: str
    patients: int
    all_ok: bool  # every target within its tolerance
    targets: list[TargetResult]
    survival_by_stage: list[StageSurvival]
    km_svg: str  # Kaplan-Meier curves by clinical stage
    privacy: Privacy


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


def _targets(profile: Profile, people: pl.DataFrame) -> list[TargetResult]:
    results = []
    for target in profile.targets:
        value, n = achieved(people, parse_target(target.name))
        ok = value is not None and abs(value - target.value) <= target.tolerance
        results.append(
            TargetResult(
                name=target.name,
                target=target.value,
                achieved=value,
                tolerance=target.tolerance,
                ok=ok,
                n=n,
                source=target.source,
            )
        )
    return results


def _by_stage(people: pl.DataFrame) -> pl.DataFrame:
    staged = people.with_columns(stage=pl.col("stage_group").str.replace(r"[ABC]$", ""))
    return staged.filter(pl.col("stage").is_in(_STAGES))


def _survival(people: pl.DataFrame) -> list[StageSurvival]:
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
                    survival={f"{y}y": survival_at(chosen, 12.0 * y) for y in _YEARS},
                )
            )
    return rows


def _svg(profile: Profile, people: pl.DataFrame) -> str:
    staged = _by_stage(people).with_columns(stage=pl.concat_str(pl.lit("Stage "), "stage"))
    curve = kaplan_meier(staged.select("time", "event", "stage"), group="stage")
    return km_svg(
        curve.filter(pl.col("time") <= 120),
        title=f"Overall survival by clinical stage: {profile.title}",
        at_risk_times=[0, 12, 24, 36, 48, 60, 84, 120],
    )


def fidelity_report(
    profile: Profile, frames: Cohort | Mapping[str, pl.DataFrame] | pl.DataFrame
) -> FidelityReport:
    """Each target's value in the cohort against the profile's tolerance, survival at 1/3/5 years
    by stage (Kaplan-Meier), the curves as SVG, and the privacy section. ``frames`` is a cohort,
    its frames by name, or the concatenated ``fidelity_frame`` of its chunks (memory-bounded)."""
    people = _people(frames)
    targets = _targets(profile, people)
    return FidelityReport(
        profile=profile.name,
        version=profile.version,
        patients=people.height,
        all_ok=all(t.ok for t in targets),
        targets=targets,
        survival_by_stage=_survival(people),
        km_svg=_svg(profile, people),
        privacy=Privacy(status=NOT_FITTED),
    )
