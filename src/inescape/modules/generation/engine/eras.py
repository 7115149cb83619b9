"""Treatment eras: a regimen is never given before the day it entered practice in its setting
(``treatment.eras``); the patient gets what was given in that setting then."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inescape.modules.generation.engine.people import day_number
from inescape.modules.generation.profiles.model import Profile


def available(profile: Profile, key: str, day: np.ndarray) -> np.ndarray:
    """Whether the setting ``key`` had entered practice on each (absolute) day."""
    era = profile.treatment.eras.get(key)
    return np.ones(len(day), dtype=bool) if era is None else np.asarray(day >= day_number(era.since))


def resolve(
    profile: Profile,
    names: Sequence[str],
    keys: Sequence[str],
    wanted: np.ndarray,
    day: np.ndarray,
    fallback: np.ndarray,
) -> np.ndarray:
    """The regimen given (codes into ``names``) when ``wanted`` is asked for on ``day``: a regimen
    not yet in practice (era of its key in ``keys``) becomes its era's ``instead`` (if one of
    ``names``) or ``fallback``, until one in practice is reached (chains are short)."""
    given = wanted.copy()
    for _ in range(len(names) + 1):
        moved = False
        for i, key in enumerate(keys):
            era = profile.treatment.eras.get(key)
            if era is None:
                continue
            early = (given == i) & (day < day_number(era.since))
            if early.any():
                moved = True
                replacement = names.index(era.instead) if era.instead in names else -1
                given[early] = replacement if replacement >= 0 else fallback[early]
        if not moved:
            break
    return given
