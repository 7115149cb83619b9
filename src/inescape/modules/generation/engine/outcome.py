"""Death, follow-up and recurrence from stage- and treatment-dependent hazards.

The cancer hazard is baseline(cTNM stage) × shape(t) × exp(lp), where shape is smooth in time
(``UnitHazard``) and lp adds the pathway's hazard ratio (calibrated to the trial arms' survival),
age, ECOG, margin, pathologic response, a clinical complete response to definitive
chemoradiation, the systemic agents and the profile's declared effects (``engine.effects``:
interactions and non-linear terms). Cancer deaths are drawn by inverting the cumulative hazard at
an Exp(1) draw; deaths from other causes come from the profile's national life table by age, sex
and calendar year (``mortality``), and the patient dies of whichever comes first (competing
risks). The cancer hazard is calibrated to net survival, which the relative survival of the
cohort (Ederer II, with the same tables) estimates. Follow-up ends at death, loss to follow-up or
the administrative censoring date. Recurrences are drawn only for patients a curative treatment
left without disease (``recurrence``'s ``disease_free``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from inescape.modules.generation.engine import effects
from inescape.modules.generation.engine.mortality import calendar_year, life_table
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


def _slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Knot slopes of the monotone cubic through (x, y) (Fritsch & Carlson, SIAM J Numer Anal
    1980;17:238, weighted harmonic means as in Fritsch & Butland 1984); the last knot keeps its
    segment's slope, so that a straight line can follow it smoothly."""
    h, d = np.diff(x), np.diff(y) / np.diff(x)
    m = np.empty_like(y)
    w1, w2 = 2 * h[1:] + h[:-1], h[1:] + 2 * h[:-1]
    same = d[:-1] * d[1:] > 0
    m[1:-1] = np.where(same, (w1 + w2) / np.where(same, w1 / d[:-1] + w2 / d[1:], 1.0), 0.0)
    first = ((2 * h[0] + h[1]) * d[0] - h[0] * d[1]) / (h[0] + h[1])
    m[0] = 0.0 if first * d[0] <= 0 else min(first, 3 * d[0])
    m[-1] = d[-1]
    return m


class UnitHazard:
    """The cancer hazard's shape over time with a baseline of 1 per year: U(t), its inverse and
    its rate U'(t). U is the monotone cubic through the piecewise-constant shape's cumulative
    hazard at 0, each break and two more points on its last period's line: survival at the
    breaks (the targets' 1, 3, 5 years) is what the periods give, and the hazard is continuous
    there, with no kink in a survival curve. After the last point U is that line."""

    _PER_YEAR = 1461  # grid points per year for the inverse (a quarter of a day)

    def __init__(self, breaks: tuple[float, ...], time_shape: tuple[float, ...]) -> None:
        edges = np.array([0.0, *breaks])
        shape = np.array(time_shape)
        at_edges = np.concatenate([[0.0], np.cumsum(shape[:-1] * np.diff(edges))])
        step = edges[-1] - edges[-2] if len(edges) > 1 else 1.0
        self.knots = np.concatenate([edges, edges[-1] + step * np.array([1.0, 2.0])])
        self.values = np.concatenate([at_edges, at_edges[-1] + shape[-1] * step * np.array([1.0, 2.0])])
        self.slopes = _slopes(self.knots, self.values)
        self.tail = float(shape[-1])
        self.grid = np.linspace(0.0, self.knots[-1], int(self.knots[-1] * self._PER_YEAR) + 1)
        self.at_grid = self._hermite(self.grid)[0]

    @staticmethod
    def of(profile: Profile) -> UnitHazard:
        """The profile's shape, built once per breaks and multipliers."""
        return _unit(tuple(profile.survival.breaks_years), tuple(profile.survival.time_shape))

    def _hermite(self, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x, y, m = self.knots, self.values, self.slopes
        k = np.clip(np.searchsorted(x, years, side="right") - 1, 0, len(x) - 2)
        h = x[k + 1] - x[k]
        t = (years - x[k]) / h
        t2, t3 = t * t, t * t * t
        value = (
            (2 * t3 - 3 * t2 + 1) * y[k]
            + (t3 - 2 * t2 + t) * h * m[k]
            + (-2 * t3 + 3 * t2) * y[k + 1]
            + (t3 - t2) * h * m[k + 1]
        )
        rate = (
            (6 * t2 - 6 * t) * (y[k] - y[k + 1]) / h
            + (3 * t2 - 4 * t + 1) * m[k]
            + (3 * t2 - 2 * t) * m[k + 1]
        )
        return value, rate

    def __call__(self, years: np.ndarray) -> np.ndarray:
        end = self.knots[-1]
        inside = np.interp(np.minimum(years, end), self.grid, self.at_grid)
        return np.asarray(np.where(years > end, self.values[-1] + (years - end) * self.tail, inside))

    def inverse(self, hazard: np.ndarray) -> np.ndarray:
        top = self.values[-1]
        inside = np.interp(np.minimum(hazard, top), self.at_grid, self.grid)
        return np.asarray(np.where(hazard > top, self.knots[-1] + (hazard - top) / self.tail, inside))

    def rate(self, years: np.ndarray) -> np.ndarray:
        """The hazard's shape U'(t) (per year)."""
        return np.asarray(np.where(years > self.knots[-1], self.tail, self._hermite(years)[1]))


@cache
def _unit(breaks: tuple[float, ...], time_shape: tuple[float, ...]) -> UnitHazard:
    return UnitHazard(breaks, time_shape)


def death_years(
    profile: Profile, stage: Cat, factors: tuple[np.ndarray, np.ndarray], change: np.ndarray, draws: Draws
) -> tuple[np.ndarray, np.ndarray]:
    """Latent years from diagnosis to cancer death, drawn by inverting the cumulative hazard at an
    Exp(1) draw, the multiplier switching from ``factors[0]`` to ``factors[1]`` at ``change``
    (years); and the log cumulative hazard at 5 years (``synthetic_risk``)."""
    unit = UnitHazard.of(profile)
    base = stage.lookup({k: f.value for k, f in profile.survival.baseline.items()})
    before, after = base * factors[0], base * factors[1]
    drawn = draws.exponential()
    at_change = unit(change)
    early = drawn < before * at_change
    years = unit.inverse(np.where(early, drawn / before, at_change + (drawn - before * at_change) / after))
    horizon = np.minimum(change, _HORIZON_YEARS)
    five = before * unit(horizon) + after * (unit(np.full_like(change, _HORIZON_YEARS)) - unit(horizon))
    return years, np.log(five)


def other_death_years(
    profile: Profile,
    female: np.ndarray,
    age: np.ndarray,
    diagnosis_day: np.ndarray,
    cancer: np.ndarray,
    draws: Draws,
) -> np.ndarray:
    """Latent years from diagnosis to death from other causes; infinite without a life table,
    or when it would come after the cancer death (``cancer``, years) or the administrative
    censoring date, where it could change nothing."""
    drawn = draws.exponential()
    background = profile.survival.background
    if background is None or len(age) == 0:
        return np.full(len(age), np.inf)
    table = life_table(background.life_table)
    censored = (day_number(profile.follow_up.censoring_date) - diagnosis_day) / YEAR
    return table.death_years(female, age, calendar_year(diagnosis_day), drawn, np.minimum(cancer, censored))


def follow_up(
    profile: Profile, diagnosis_day: np.ndarray, death: np.ndarray, first_day: np.ndarray, draws: Draws
) -> dict[str, np.ndarray]:
    """Vital status and the last day of follow-up (days after diagnosis), ``death`` being the
    latent years to death from any cause."""
    loss = profile.follow_up.loss_per_year.value
    lost = draws.exponential() / loss * YEAR if loss > 0 else np.full(len(death), np.inf)
    censor = day_number(profile.follow_up.censoring_date) - diagnosis_day
    death_day = np.floor(np.minimum(death, 1e5) * YEAR).astype(np.int64)
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
    residual: np.ndarray | None = None,
) -> dict[str, np.ndarray | Cat]:
    """After a curative treatment that left the patient without disease (``disease_free``), a
    recorded recurrence a fraction of the way from the end of that treatment to the (latent)
    cancer death (``death_day``, latent); seen only when it falls within follow-up (before a
    death from any cause). The others never recur. Patients with ``residual`` disease after
    neoadjuvant therapy take the profile's ``timing_residual`` where it has one."""
    r = profile.recurrence
    low, high = np.full(len(death_day), r.timing.low), np.full(len(death_day), r.timing.high)
    if r.timing_residual is not None and residual is not None:
        low = np.where(residual, r.timing_residual.low, low)
        high = np.where(residual, r.timing_residual.high, high)
    fraction = low + (high - low) * draws.uniform()  # one draw per patient, as draws.span
    recorded = draws.uniform() < r.recorded.value
    site = choose(draws.uniform(), r.sites.shares)
    day = cure_end + np.floor(fraction * (death_day - cure_end)).astype(np.int64)
    seen = disease_free & recorded & (death_day > cure_end) & (day > cure_end) & (day <= end_day)
    return {"recurrence_day": np.where(seen, day, -1), "recurrence_site": site.where(seen)}
