"""The names a profile target may have, read into what the fidelity report measures.

histology.<h>                       share of patients
sex.<sex>[.<h>]                     share, optionally within a histology
age.<mean|median>[.<sex>|.<h>]      age at diagnosis, years
location.<l>[.<h>]                  share
stage.<group>[.<h>]                 cTNM share; I/II/III/IV also count their A/B/C groups;
                                    localized / regional / distant are SEER summary stages
risk.<metric>[.<h>]                 share among patients with the factor recorded
biomarker.<metric>                  share among patients tested
treatment.<pathway>[.<h>]           share of patients
pcr.<CROSS|FLOT>[.<h>]              pCR share among resections after that pathway
r0.<esophagectomy|CROSS|FLOT>       R0 share among resections
survival.<1y|3y|5y>.<group>[.<h>]   Kaplan-Meier overall survival (death from any cause);
survival.median_months.<group>[.<h>]  group: overall, stage_<group>, localized, regional,
                                    distant or a pathway
relative_survival.<1y|3y|5y>.<group>[.<h>]
                                    relative survival as SEER computes it: observed over
                                    expected survival (Ederer II, annual actuarial intervals),
                                    the expected from the profile's life table
cancer_specific_survival.<1y|3y|5y|median_months>.<group>[.<h>]
                                    Kaplan-Meier with only esophageal cancer deaths as events
trial.<arm>.<1y|3y|5y|median_months>   the profile's ``trials.<arm>``: its eligible, treated
                                    patients' survival (overall, from any cause, or disease-free)
                                    from the arm's treatment
"""

from __future__ import annotations

import msgspec

from inescape.modules.generation.codes import HISTOLOGIES, LOCATIONS, NEOADJUVANT, PATHWAYS, SEXES

STAGE_ROLLS = ("0", "I", "II", "III", "IV", "IA", "IB", "IIA", "IIB", "IVA", "IVB")
SUMMARY_STAGES = ("localized", "regional", "distant")
RISK_METRICS = (
    "opium",
    "hot_beverages",
    "gerd",
    "barretts",
    "family_history",
    "tobacco_ever",
    "tobacco_current",
    "obesity",
    "ses_low",
    "alcohol_80plus",
)
BIOMARKER_METRICS = ("her2_positive", "msi_high", "pdl1_cps_5", "pdl1_tps_1")
SURVIVAL_TIMES = {"1y": 12.0, "3y": 36.0, "5y": 60.0}
SURVIVAL_GROUPS = ("overall", *(f"stage_{r}" for r in STAGE_ROLLS), *SUMMARY_STAGES, *PATHWAYS)


class TargetSpec(msgspec.Struct, frozen=True, kw_only=True):
    family: str
    metric: str
    group: str | None = None  # survival only
    histology: str | None = None
    sex: str | None = None


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{value!r} is not a {what} ({', '.join(allowed)})")
    return value


def _qualifier(rest: list[str], allow_sex: bool = False) -> dict[str, str]:
    if not rest:
        return {}
    if len(rest) > 1:
        raise ValueError(f"one qualifier at most after the metric, not {'.'.join(rest)!r}")
    if allow_sex and rest[0] in SEXES:
        return {"sex": rest[0]}
    return {"histology": _choice(rest[0], HISTOLOGIES, "histology")}


SURVIVAL_FAMILIES = ("survival", "relative_survival", "cancer_specific_survival")


def _survival(family: str, parts: list[str]) -> TargetSpec:
    times = (*SURVIVAL_TIMES, "median_months") if family != "relative_survival" else tuple(SURVIVAL_TIMES)
    if len(parts) < 2:
        raise ValueError(f"write {family}.<{'|'.join(times)}>.<group>[.<histology>]")
    metric = _choice(parts[0], times, "survival time")
    group = _choice(parts[1], SURVIVAL_GROUPS, "survival group")
    return TargetSpec(family=family, metric=metric, group=group, **_qualifier(parts[2:]))


_METRICS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    # family → (allowed metrics, what they are, whether a sex qualifier is allowed)
    "histology": (HISTOLOGIES, "histology", False),
    "sex": (SEXES, "sex", False),
    "age": (("mean", "median"), "age statistic", True),
    "location": (LOCATIONS, "location", False),
    "stage": ((*STAGE_ROLLS, *SUMMARY_STAGES), "stage group", False),
    "risk": (RISK_METRICS, "risk metric", False),
    "biomarker": (BIOMARKER_METRICS, "biomarker metric", False),
    "treatment": (PATHWAYS, "pathway", False),
    "pcr": (NEOADJUVANT, "neoadjuvant pathway", False),
    "r0": (("esophagectomy", *NEOADJUVANT), "resecting pathway", False),
}


def parse_target(name: str) -> TargetSpec:
    """The measurement a target name asks for; ``ValueError`` says what is wrong with it."""
    family, _, rest = name.partition(".")
    parts = rest.split(".") if rest else []
    if family in SURVIVAL_FAMILIES:
        return _survival(family, parts)
    if family == "trial":
        if len(parts) != 2:
            raise ValueError("write trial.<arm>.<1y|3y|5y|median_months>")
        metric = _choice(parts[1], (*SURVIVAL_TIMES, "median_months"), "survival time")
        return TargetSpec(family="trial", metric=metric, group=parts[0])
    if family not in _METRICS:
        families = ", ".join([*_METRICS, *SURVIVAL_FAMILIES, "trial"])
        raise ValueError(f"unknown target family {family!r} ({families})")
    if not parts:
        raise ValueError(f"write {family}.<metric>")
    allowed, what, allow_sex = _METRICS[family]
    metric = _choice(parts[0], allowed, what)
    if family in ("histology", "biomarker", "r0") and len(parts) > 1:
        raise ValueError(f"{family} targets take no qualifier")
    return TargetSpec(family=family, metric=metric, **_qualifier(parts[1:], allow_sex))
