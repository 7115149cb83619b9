"""Profile rules for risk factors, biomarkers, treatment, pathology, survival and recurrence."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from inescape.modules.generation import codes
from inescape.modules.generation.engine.effects import CONDITIONS, TREATMENTS
from inescape.modules.generation.engine.mortality import TABLES
from inescape.modules.generation.engine.staging import StageTables
from inescape.modules.generation.profiles.checks import (
    Problem,
    distribution,
    per_histology,
    rate,
    ratio,
    shares,
    weights,
)
from inescape.modules.generation.profiles.model import Figure, Profile, RiskModel

# Columns of the joint table a treatment modifier may test, with their values.
MODIFIER_COLUMNS: dict[str, tuple[str, ...]] = {
    "histology": codes.HISTOLOGIES,
    "sex": codes.SEXES,
    "age_band": codes.AGE_BANDS,
    "location": codes.LOCATIONS,
    "stage_group": ("0", "I", "II", "IIA", "IIB", "III", "IVA", "IVB"),
    "t": codes.CLINICAL_T,
    "n": codes.N_ORDER,
    "m": codes.M_CATEGORIES,
    "ecog": codes.ECOG_SCORES,
}
_SHIFTS = {
    "pt_shift": ("-1", "0", "+1"),
    "pn_shift": ("-1", "0", "+1", "+2"),
    "ypt_down": ("0", "1", "2", "3"),
    "ypn_down": ("0", "1", "2", "3"),
    "residual_trg": ("2", "3", "4", "5"),
}


def stage_groups_used(p: Profile) -> dict[str, tuple[str, ...]]:
    """histology → the cTNM groups it is generated in (share > 0)."""
    return {
        h: tuple(g for g, share in p.stage[h].groups.items() if share > 0)
        for h in p.histologies
        if h in p.stage
    }


def check_risk(model: RiskModel) -> Iterator[Problem]:
    at = "risk_factors.factors"
    for name, factor in model.factors.items():
        levels = codes.RISK_LEVELS.get(name)
        if levels is None:
            yield f"{at}.{name}", f"unknown risk factor (allowed: {', '.join(codes.RISK_LEVELS)})"
            continue
        yield from distribution(factor.population, f"{at}.{name}.population", levels)
        for level in levels:
            if level not in factor.population:
                yield f"{at}.{name}.population.{level}", "missing: give every level a share (0 is fine)"
        yield from per_histology(factor.odds_ratios, f"{at}.{name}.odds_ratios", ())
        for h, ors in factor.odds_ratios.items():
            for level, value in ors.items():
                if level not in levels or not value > 0:
                    yield (
                        f"{at}.{name}.odds_ratios.{h}.{level}",
                        f"a positive odds ratio of a level of {levels}",
                    )
        if not 0 <= factor.missing < 1:
            yield f"{at}.{name}.missing", "a share in [0, 1)"
    yield from _correlations(model)
    yield from rate(model.alcohol_abstainers, "risk_factors.alcohol_abstainers")


def _correlations(model: RiskModel) -> Iterator[Problem]:
    names = list(model.factors)
    matrix = np.eye(len(names))
    for i, c in enumerate(model.correlations):
        at = f"risk_factors.correlations[{i}]"
        unknown = [f for f in c.between if f not in names]
        if len(c.between) != 2 or unknown or c.between[0] == c.between[1]:
            yield f"{at}.between", f"two different factors of this profile ({', '.join(names)})"
            continue
        if not -1 < c.rho < 1:
            yield f"{at}.rho", "a correlation lies strictly between -1 and 1"
            continue
        a, b = names.index(c.between[0]), names.index(c.between[1])
        matrix[a, b] = matrix[b, a] = c.rho
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        yield "risk_factors.correlations", "the correlations do not form a valid (positive definite) matrix"


def check_biomarkers(p: Profile) -> Iterator[Problem]:
    b = p.biomarkers
    for key in ("advanced", "early"):
        if key not in b.tested:
            yield f"biomarkers.tested.{key}", "missing: testing share for advanced and early disease"
    for key, figure in b.tested.items():
        yield from rate(figure, f"biomarkers.tested.{key}")
    yield from shares(b.her2, "biomarkers.her2", codes.HER2_RESULTS)
    yield from shares(b.pdl1_cps, "biomarkers.pdl1_cps", codes.PDL1_BANDS)
    yield from shares(b.pdl1_tps, "biomarkers.pdl1_tps", codes.PDL1_BANDS)
    yield from per_histology(b.msi, "biomarkers.msi", p.histologies)
    for h, mix in b.msi.items():
        yield from shares(mix, f"biomarkers.msi.{h}", codes.MSI_RESULTS)


def check_treatment(p: Profile, tables: StageTables) -> Iterator[Problem]:
    t, at = p.treatment, "treatment"
    yield from per_histology(t.allocation, f"{at}.allocation", p.histologies)
    for h, used in stage_groups_used(p).items():
        by_stage = t.allocation.get(h, {})
        groups = tables.clinical_groups(codes.STAGING_SCHEME[h])
        for group in by_stage:
            if group not in groups:
                yield f"{at}.allocation.{h}.{group}", f"not a cTNM group of {h} ({', '.join(groups)})"
        for group in used:
            if group in groups and group not in by_stage:
                yield f"{at}.allocation.{h}.{group}", "missing: the profile generates this stage"
        for group, mix in by_stage.items():
            yield from shares(mix, f"{at}.allocation.{h}.{group}", codes.PATHWAYS)
    for i, modifier in enumerate(t.modifiers):
        yield from _modifier(modifier.when, modifier.factors, f"{at}.modifiers[{i}]")
    yield from _rates(p)
    yield from shares(t.endoscopic_procedure, f"{at}.endoscopic_procedure", ("ESD", "EMR"))
    for key, span in t.delays.items():
        if not 0 <= span.low <= span.high:
            yield f"{at}.delays.{key}", "need 0 <= low <= high"
    yield from _eras(p)


def _eras(p: Profile) -> Iterator[Problem]:
    """Eras name a known setting; ``instead`` a regimen of that setting; the neoadjuvant and
    perioperative pathways need one (the pathway is given in every era)."""
    t, at = p.treatment, "treatment"
    for key, era in t.eras.items():
        allowed = codes.ERA_KEYS.get(key)
        if allowed is None:
            yield f"{at}.eras.{key}", f"unknown setting (allowed: {', '.join(codes.ERA_KEYS)})"
            continue
        if era.instead is not None and era.instead not in allowed:
            yield (
                f"{at}.eras.{key}.instead",
                f"not a regimen of this setting (allowed: {', '.join(allowed) or 'none'})",
            )
        if era.instead is None and key in codes.NEOADJUVANT:
            yield f"{at}.eras.{key}.instead", f"the {key} pathway needs the regimen it gave before {key}"
    yield from per_histology(t.dcrt_complete_response, f"{at}.dcrt_complete_response", ())
    for h, figure in t.dcrt_complete_response.items():
        yield from rate(figure, f"{at}.dcrt_complete_response.{h}")
    if t.second_line is not None:
        yield from rate(t.second_line, f"{at}.second_line")


def _modifier(when: dict[str, list[str]], factors: dict[str, float], at: str) -> Iterator[Problem]:
    for column, values in when.items():
        allowed = MODIFIER_COLUMNS.get(column)
        if allowed is None:
            yield f"{at}.when.{column}", f"unknown column (allowed: {', '.join(MODIFIER_COLUMNS)})"
            continue
        for value in values:
            if value not in allowed:
                yield f"{at}.when.{column}", f"unknown value {value!r} (allowed: {', '.join(allowed)})"
    yield from weights(factors, f"{at}.factors", codes.PATHWAYS)


def _rates(p: Profile) -> Iterator[Problem]:
    t, at = p.treatment, "treatment"
    for name, figures, allowed in (
        ("surgery_after_neoadjuvant", t.surgery_after_neoadjuvant, codes.NEOADJUVANT),
        ("r0", t.r0, ("esophagectomy", *codes.NEOADJUVANT)),
    ):
        for key in allowed:
            if key not in figures:
                yield f"{at}.{name}.{key}", "missing"
        for key, figure in figures.items():
            if key not in allowed:
                yield f"{at}.{name}.{key}", f"unknown pathway (allowed: {', '.join(allowed)})"
            yield from rate(figure, f"{at}.{name}.{key}")
    for pathway in codes.NEOADJUVANT:
        # FLOT is given to adenocarcinoma only (engine.joint), so only it needs a FLOT pCR rate.
        needed = p.histologies if pathway == "CROSS" else tuple(set(p.histologies) & {"adenocarcinoma"})
        yield from per_histology(t.pcr.get(pathway, {}), f"{at}.pcr.{pathway}", needed)
        for h, figure in t.pcr.get(pathway, {}).items():
            yield from rate(figure, f"{at}.pcr.{pathway}.{h}")
    for name in ("r1_of_positive", "adjuvant_nivolumab", "immunotherapy", "trastuzumab"):
        yield from rate(getattr(t, name), f"{at}.{name}")


def check_pathology(p: Profile) -> Iterator[Problem]:
    for name, allowed in _SHIFTS.items():
        yield from shares(getattr(p.pathology, name), f"pathology.{name}", allowed)


def check_survival(p: Profile) -> Iterator[Problem]:
    s, at = p.survival, "survival"
    if s.breaks_years != sorted(s.breaks_years) or any(b <= 0 for b in s.breaks_years):
        yield f"{at}.breaks_years", "positive and increasing"
    if len(s.time_shape) != len(s.breaks_years) + 1 or any(v <= 0 for v in s.time_shape):
        yield f"{at}.time_shape", "one positive multiplier per period (breaks + 1)"
    if s.background is not None and s.background.life_table not in TABLES:
        yield f"{at}.background.life_table", f"a packaged life table ({', '.join(TABLES)})"
    used = {g for groups in stage_groups_used(p).values() for g in groups}
    for group in sorted(used - set(s.baseline)):
        yield f"{at}.baseline.{group}", "missing: the profile generates this stage"
    for group, figure in s.baseline.items():
        yield from ratio(figure, f"{at}.baseline.{group}")
    yield from _hazard_ratios(p)
    yield from _effects(p)


def _effects(p: Profile) -> Iterator[Problem]:
    for i, effect in enumerate(p.survival.effects):
        at = f"survival.effects[{i}]"
        if not effect.hr > 0:
            yield f"{at}.hr", f"a hazard ratio must be positive, not {effect.hr}"
        if effect.treatment is not None and effect.treatment not in TREATMENTS:
            yield (
                f"{at}.treatment",
                f"unknown treatment {effect.treatment!r} (allowed: {', '.join(TREATMENTS)})",
            )
        for column, values in effect.when.items():
            if column not in CONDITIONS:
                yield f"{at}.when.{column}", f"unknown column {column!r} (allowed: {', '.join(CONDITIONS)})"
                continue
            for value in values:
                if value not in CONDITIONS[column]:
                    allowed = ", ".join(CONDITIONS[column])
                    yield f"{at}.when.{column}", f"unknown code {value!r} (allowed: {allowed})"


def _required(values: Mapping[str, Figure], at: str, keys: tuple[str, ...]) -> Iterator[Problem]:
    for key in keys:
        if key not in values:
            yield f"{at}.{key}", "missing"
    for key, figure in values.items():
        if key not in keys:
            yield f"{at}.{key}", f"unknown code {key!r} (allowed: {', '.join(keys)})"
        yield from ratio(figure, f"{at}.{key}")


def _hazard_ratios(p: Profile) -> Iterator[Problem]:
    s, at = p.survival, "survival"
    yield from per_histology(s.pathway_hr, f"{at}.pathway_hr", p.histologies)
    for h, hrs in s.pathway_hr.items():
        yield from _required(hrs, f"{at}.pathway_hr.{h}", codes.PATHWAYS)
    yield from _required(s.ecog_hr, f"{at}.ecog_hr", codes.ECOG_SCORES)
    yield from _required(s.margin_hr, f"{at}.margin_hr", ("R1", "R2"))
    yield from per_histology(s.immunotherapy_hr, f"{at}.immunotherapy_hr", p.histologies)
    for h, figure in s.immunotherapy_hr.items():
        yield from ratio(figure, f"{at}.immunotherapy_hr.{h}")
    for name in ("age_hr_per_decade", "pcr_hr", "trastuzumab_hr", "adjuvant_nivolumab_hr"):
        yield from ratio(getattr(s, name), f"{at}.{name}")


def check_recurrence(p: Profile) -> Iterator[Problem]:
    r = p.recurrence
    yield from rate(r.recorded, "recurrence.recorded")
    if not 0 <= r.timing.low <= r.timing.high < 1:
        yield "recurrence.timing", "fractions with 0 <= low <= high < 1"
    yield from shares(r.sites, "recurrence.sites", r.sites.shares)
