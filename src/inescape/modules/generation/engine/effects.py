"""Declared heterogeneity of the cancer hazard (``survival.effects`` of a profile) and each
patient's true individual treatment effect.

An effect multiplies the hazard of the patients who match every one of its ``when`` conditions
(a column of ``CONDITIONS`` and the codes it may take); with ``per_year_over`` its log hazard
ratio grows with each year of age above that age instead (a non-linear age effect); with
``treatment`` it applies only to patients given that treatment, so it modifies that treatment's
effect (PD-L1 CPS and a PD-1 inhibitor, HER2 level and trastuzumab). Biomarker conditions read
the tumour's true result, recorded or not.

The true individual treatment effect (``synthetic_effect``) is the log hazard ratio, for this
patient, of the add-on a treatment decision weighs at their pathway, as if it were given: on
first-line palliative therapy, trastuzumab for HER2-positive adenocarcinoma and a PD-1
inhibitor for the others; after CROSS, adjuvant nivolumab; null elsewhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inescape.modules.generation import codes
from inescape.modules.generation.engine.streams import Cat, Row
from inescape.modules.generation.profiles.model import Effect, Profile

TREATMENTS = ("ici", "trastuzumab", "adjuvant")
# Columns an effect's ``when`` may read: the joint table's fields and the true biomarkers.
CONDITIONS: dict[str, tuple[str, ...]] = {
    **codes.FIELD_CODES,
    "her2": codes.HER2_RESULTS,
    "pdl1_cps": tuple(codes.PDL1_BANDS),
    "pdl1_tps": tuple(codes.PDL1_BANDS),
    "msi": codes.MSI_RESULTS,
}
_MARKERS = {"her2": "true_her2", "pdl1_cps": "true_cps", "pdl1_tps": "true_tps", "msi": "true_msi"}


def _matches(effect: Effect, row: Row, markers: dict[str, Any], age: np.ndarray) -> np.ndarray:
    match = np.ones(len(age), dtype=bool)
    for column, values in effect.when.items():
        cat: Cat = markers[_MARKERS[column]] if column in _MARKERS else row[column]
        match &= cat.isin(values)
    return match


def _log_hr(effect: Effect, match: np.ndarray, age: np.ndarray) -> np.ndarray:
    per = np.log(effect.hr)
    if effect.per_year_over is not None:
        return np.where(match, per * np.maximum(age - effect.per_year_over, 0.0), 0.0)
    return np.where(match, per, 0.0)


def log_effects(
    profile: Profile, row: Row, markers: dict[str, Any], age: np.ndarray, care: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The log multipliers before and after the resection (adjuvant effects act after it), and
    per treatment the log hazard ratio of the effects that modify it, as if it were given."""
    before, after = np.zeros(len(age)), np.zeros(len(age))
    modifying = {t: np.zeros(len(age)) for t in TREATMENTS}
    for effect in profile.survival.effects:
        term = _log_hr(effect, _matches(effect, row, markers, age), age)
        if effect.treatment is None:
            before += term
        else:
            modifying[effect.treatment] += term
            given = np.where(care[effect.treatment], term, 0.0)
            (after if effect.treatment == "adjuvant" else before)[:] += given
    return before, after, modifying


def individual_effect(
    profile: Profile, row: Row, markers: dict[str, Any], modifying: dict[str, np.ndarray]
) -> np.ndarray:
    """``synthetic_effect`` (the module docstring): NaN where no such decision is weighed."""
    s = profile.survival
    ici = row["histology"].lookup({h: f.value for h, f in s.immunotherapy_hr.items()}, default=1.0)
    her2 = row["histology"].is_("adenocarcinoma") & markers["true_her2"].isin(codes.HER2_POSITIVE)
    palliative = np.where(
        her2,
        np.log(s.trastuzumab_hr.value) + modifying["trastuzumab"],
        np.log(ici) + modifying["ici"],
    )
    adjuvant = np.log(s.adjuvant_nivolumab_hr.value) + modifying["adjuvant"]
    regimen = row["regimen"]
    return np.select(
        [regimen.is_("palliative_systemic"), regimen.is_("CROSS")], [palliative, adjuvant], default=np.nan
    )
