"""The tumour beyond its joint-table row: codes, Siewert type, grade, length and biomarkers."""

from __future__ import annotations

from typing import Any

import numpy as np

from inescape.modules.generation import codes
from inescape.modules.generation.engine.streams import Cat, Draws, Row, choose, choose_by
from inescape.modules.generation.profiles.model import Profile

_TOPOGRAPHY = tuple(codes.TOPOGRAPHY[location] for location in codes.LOCATIONS)


def condition(profile: Profile, row: Row, draws: Draws) -> dict[str, Any]:
    """ICD-O-3 morphology and topography, Siewert type (EGJ only), grade and length in cm."""
    histology, location = row["histology"], row["location"]
    morphology = choose_by(draws.uniform(), histology, {h: m.shares for h, m in profile.morphology.items()})
    siewert = choose(draws.uniform(), profile.siewert.shares)
    grade = choose_by(draws.uniform(), histology, {h: g.shares for h, g in profile.grade.items()})
    lengths = profile.tumour_length
    median = row["t"].lookup(lengths.median_cm, default=3.0)
    length = np.clip(median * np.exp(lengths.sigma * draws.normal()), 0.3, 25.0)
    return {
        "morphology_code": morphology,
        "topography_code": Cat(_TOPOGRAPHY, location.codes),  # same order as codes.LOCATIONS
        "siewert": siewert.where(
            location.is_("egj") & histology.is_("adenocarcinoma")
        ),  # Siewert: EGJ AC only
        "grade": grade,
        "tumour_length_cm": np.round(length, 1),
    }


def _score(u: np.ndarray, band: Cat) -> np.ndarray:
    """A whole PD-L1 score drawn uniformly inside its band."""
    low = band.lookup({b: float(codes.PDL1_BANDS[b][0]) for b in band.names})
    high = band.lookup({b: float(codes.PDL1_BANDS[b][1]) for b in band.names})
    return np.asarray(low + np.floor(u * (high - low + 1)), dtype=np.int64)


def biomarkers(profile: Profile, row: Row, draws: Draws) -> dict[str, Any]:
    """Who was tested (more often in advanced disease, NCCN ESOPH-10) and their results:
    HER2 and PD-L1 CPS for adenocarcinoma, tumour-cell PD-L1 otherwise, MSI for all."""
    b = profile.biomarkers
    advanced = row["regimen"].isin(["palliative_systemic", "best_supportive_care"])
    tested = draws.uniform() < np.where(advanced, b.tested["advanced"].value, b.tested["early"].value)
    adeno = row["histology"].is_("adenocarcinoma")
    her2 = choose(draws.uniform(), b.her2.shares)
    cps_band, tps_band = (
        choose(draws.uniform(), b.pdl1_cps.shares),
        choose(draws.uniform(), b.pdl1_tps.shares),
    )
    score_u = draws.uniform()
    msi = choose_by(draws.uniform(), row["histology"], {h: m.shares for h, m in b.msi.items()})
    return {
        "tested": tested,
        "her2": her2.where(tested & adeno),
        "pdl1_cps": np.where(tested & adeno, _score(score_u, cps_band), -1),
        "pdl1_tps": np.where(tested & ~adeno, _score(score_u, tps_band), -1),
        "msi": msi.where(tested),
        # The tumour's true results, recorded or not: what declared effects read (engine.effects).
        "true_her2": her2,
        "true_cps": cps_band,
        "true_tps": tps_band,
        "true_msi": msi,
    }
