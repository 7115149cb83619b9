"""Death, follow-up and recurrence from stage- and treatment-dependent hazards.

The cancer hazard is piecewise constant: baseline(cTNM stage) × time_shape(period) × exp(lp),
where lp adds the pathway's hazard ratio (calibrated to the trial arms' survival), age, ECOG,
margin, pathologic response, the systemic agents and the profile's declared effects
(``engine.effects``: interactions and non-linear terms). Deaths are drawn by inverting the
cumulative hazard at an Exp(1) draw; follow-up ends at death, loss to follow-up or the
administrative censoring date. Recurrences are drawn only for patients a curative treatment left
without disease (``recurrence``'s ``disease_free``). Survival is calibrated to relative (net)
survival, so deaths are all from the cancer: no background mortality is modelled.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inescape.modules.generation.engine import effects
from inescape.modules.generation.engine.people import day_number
from inescape.modules.generation.engine.streams import Cat, Draws, Row, choose
from inescape.modules.generation.profiles.model import Profile

YEAR = 365.25
_HORIZON_YEARS = 5.0  # synthetic_risk is the log cumulative hazard at 5 years


def _pathology_factor(profile: Profile, row: Row, care: dict[str, Any]) -> np.ndarray:
    """pCR vs residual disease within a neoadjuvant pathway, normalised so that the pathway's
    average stays the trial's hazard ratio: h_pcr = r·k, h_residual = k, k = 1 / (p·r + 1 − p);
    the same for a clinical complete response to definitive chemoradiation
    (``complete_response_hr``); and the margin."""
    r = profile.survival.pcr_hr.value
    factor = np.ones(len(care["pcr"]))
    for pathway, by_histology in profile.treatment.pcr.items():
        for h, figure in by_histology.items():
            rows = row["regimen"].is_(pathway) & row["histology"].is_(h) & care["operated"]
            k = 1 / (figure.value * r + 1 - figure.value)
            factor[rows] = np.where(care["pcr"][rows], r * k, k)
    complete = profile.survival.complete_response_hr
    if complete is not None and "complete_response" in care:
        c = complete.value
        for h, figure in profile.treatment.dcrt_complete_response.items():
            rows = row["regimen"].is_("definitive_CRT") & row["histology"].is_(h)
            k = 1 / (figure.value * c + 1 - figure.value)
            factor[rows] = np.where(care["complete_response"][rows], c * k, k)
    margin = care["margin"].lookup({k: f.value for k, f in profile.survival.margin_hr.items()}, default=1.0)
    return np.asarray(factor * margin)


def multipliers(
    profile: Profile, row: Row, age: np.ndarray, care: dict[str, Any], markers: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """exp(lp) before and after the resection: every factor of the hazard except the stage
    baseline and time. Margin and pathologic response act only once the specimen exists, so
    that they cannot change who lives to be operated on (which would bias the pCR rate).
    The profile's declared effects (``engine.effects``) multiply both; the third array is each
    patient's true individual treatment effect (``synthetic_effect``)."""
    s = profile.survival
    pathway = np.ones(len(age))
    for h, hrs in s.pathway_hr.items():
        rows = row["histology"].is_(h)
        pathway[rows] = row["regimen"].lookup({k: f.value for k, f in hrs.items()})[rows]
    ici_hr = row["histology"].lookup({h: f.value for h, f in s.immunotherapy_hr.items()}, default=1.0)
    before = (
        pathway
        * s.age_hr_per_decade.value ** ((age - 65) / 10)
        * row["ecog"].lookup({k: f.value for k, f in s.ecog_hr.items()})
        * np.where(care["ici"], ici_hr, 1.0)
        * np.where(care["trastuzumab"], s.trastuzumab_hr.value, 1.0)
    )
    adjuvant = np.where(care["adjuvant"], s.adjuvant_nivolumab_hr.value, 1.0)
    declared, declared_after, modifying = effects.log_effects(profile, row, markers, age, care)
    before = before * np.exp(declared)
    after = before * _pathology_factor(profile, row, care) * adjuvant * np.exp(declared_after)
    return before, after, effects.individual_effect(profile, row, markers, modifying)


class _UnitHazard:
    """The baseline's shape over time with a baseline of 1 per year: U(t) and its inverse."""

    def __init__(self, profile: Profile) -> None:
        self.edges = np.array([0.0, *profile.survival.breaks_years])
        self.shape = np.array(profile.survival.time_shape)
        self.at_edges = np.concatenate([[0.0], np.cumsum(self.shape[:-1] * np.diff(self.edges))])

    def __call__(self, years: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.edges, years, side="right") - 1
        return np.asarray(self.at_edges[k] + (years - self.edges[k]) * self.shape[k])

    def inverse(self, hazard: np.ndarray) -> np.ndarray:
        k = np.searchsorted(self.at_edges, hazard, side="right") - 1
        return np.asarray(self.edges[k] + (hazard - self.at_edges[k]) / self.shape[k])


def death_years(
    profile: Profile, stage: Cat, factors: tuple[np.ndarray, np.ndarray], change: np.ndarray, draws: Draws
) -> tuple[np.ndarray, np.ndarray]:
    """Latent years from diagnosis to cancer death, drawn by inverting the cumulative hazard at an
    Exp(1) draw, the multiplier switching from ``factors[0]`` to ``factors[1]`` at ``change``
    (years); and the log cumulative hazard at 5 years (``synthetic_risk``)."""
    unit = _UnitHazard(profile)
    base = stage.lookup({k: f.value for k, f in profile.survival.baseline.items()})
    before, after = base * factors[0], base * factors[1]
    drawn = draws.exponential()
    at_change = unit(change)
    early = drawn < before * at_change
    years = np.where(
        early, unit.inverse(drawn / before), unit.inverse(at_change + (drawn - before * at_change) / after)
    )
    horizon = np.minimum(change, _HORIZON_YEARS)
    five = before * unit(horizon) + after * (unit(np.full_like(change, _HORIZON_YEARS)) - unit(horizon))
    return years, np.log(five)


def follow_up(
    profile: Profile, diagnosis_day: np.ndarray, death: np.ndarray, first_day: np.ndarray, draws: Draws
) -> dict[str, np.ndarray]:
    """Vital status and the last day of follow-up (days after diagnosis)."""
    loss = profile.follow_up.loss_per_year.value
    lost = draws.exponential() / loss * YEAR if loss > 0 else np.full(len(death), np.inf)
    censor = day_number(profile.follow_up.censoring_date) - diagnosis_day
    death_day = np.floor(death * YEAR).astype(np.int64)
    # Alive patients are followed at least to their first treatment (a record starts with care).
    alive_end = np.minimum(censor, np.maximum(np.floor(np.minimum(lost, 1e7)).astype(np.int64), first_day))
    dead = death_day <= alive_end
    return {"dead": dead, "end_day": np.where(dead, death_day, alive_end), "death_day": death_day}


def recurrence(
    profile: Profile,
    disease_free: np.ndarray,
    cure_end: np.ndarray,
    death_day: np.ndarray,
    end_day: np.ndarray,
    draws: Draws,
) -> dict[str, np.ndarray | Cat]:
    """After a curative treatment that left the patient without disease (``disease_free``), a
    recorded recurrence a fraction of the way from the end of that treatment to the (latent)
    cancer death; seen only when it falls within follow-up. The others never recur."""
    r = profile.recurrence
    fraction = draws.span(r.timing.low, r.timing.high)
    recorded = draws.uniform() < r.recorded.value
    site = choose(draws.uniform(), r.sites.shares)
    day = cure_end + np.floor(fraction * (death_day - cure_end)).astype(np.int64)
    seen = disease_free & recorded & (death_day > cure_end) & (day > cure_end) & (day <= end_day)
    return {"recurrence_day": np.where(seen, day, -1), "recurrence_site": site.where(seen)}
