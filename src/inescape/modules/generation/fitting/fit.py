"""A profile fitted to a cohort: the generator's shares, age models, treatment allocation and
survival baselines estimated from one row per patient (``cohort.cohort_frame``), everything
else kept from the prior (a published profile).

Four histograms are all the fit reads of the patients, each with one record per patient:
demography (histology × sex × 5-year age band), location (histology × location), care (histology × cTNM
group × pathway) and survival (cTNM group × died × whole years of follow-up). With ``epsilon``
each is released with ε/4-DP Laplace noise (``privacy``), so the fit is ε-DP by composition;
all that follows (shrinkage, calibration against cohorts generated from the fitted profile,
the targets) reads the released counts only and is post-processing.

Shrinkage toward the prior (empirical Bayes). Shares: the Dirichlet-multinomial posterior mean
(counts + α·prior) / (n + α), α estimated from how far the counts stray from the prior
(method of moments on Pearson's X²: E[X²] = (K-1)(n+α)/(1+α)), kept between ``MIN_STRENGTH``
and ``max_strength`` pseudo-patients; the weight of the data, n / (n + α), is reported per
statistic. Mean and SD of age: normal shrinkage with ``AGE_STRENGTH`` pseudo-patients.
Survival: the death rate per stage (deaths / person-years) with a Gamma prior of
``RATE_STRENGTH`` person-years at the rate the prior profile gives.

The engine draws the pathway with P ∝ allocation × eligibility × modifiers, and the annual
hazard as baseline × multipliers, so neither can be read off the data directly: the allocation
is adjusted until the profile's own joint table gives the fitted shares (iterative proportional
fitting), and each stage's baseline is scaled by the ratio of the fitted death rate to the rate
in a cohort generated from the fitted profile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import msgspec
import polars as pl

from inescape.modules.generation import codes
from inescape.modules.generation.engine.joint import age_pmf, joint_table
from inescape.modules.generation.fidelity_metrics import achieved
from inescape.modules.generation.fitting import privacy
from inescape.modules.generation.fitting.cohort import cohort_frame
from inescape.modules.generation.library import Generator
from inescape.modules.generation.profiles.model import AgeModel, Figure, Profile, Shares, Target
from inescape.modules.generation.targets import parse_target

HISTOGRAMS = ("demography", "location", "care", "survival")
MIN_STRENGTH = 20.0  # pseudo-patients the prior always keeps (the moment estimate is unstable at small n)
AGE_STRENGTH = 50.0  # pseudo-patients behind the prior's age mean and SD
RATE_STRENGTH = 50.0  # person-years behind the prior's death rate per stage
AGE_BAND = 5  # years: ages are counted in 5-year bands (fewer cells, less noise in the mean)
FOLLOW_UP_YEARS = 20  # follow-up counted in whole years 0..19 (longer counts as 19)
IPF_ROUNDS = 8
TARGET_FAMILIES = ("histology", "sex", "location", "stage", "treatment", "survival")


class Weight(msgspec.Struct, frozen=True, kw_only=True):
    """How much of one fitted statistic comes from the data: n / (n + strength)."""

    statistic: str
    n: float  # patients (or person-years) behind it, after noise
    strength: float  # the prior's weight, in the same unit
    data_weight: float


@dataclass
class Fit:
    """A fitted profile and what it rests on."""

    profile: Profile
    patients: int | None  # None: not released (an ε-DP fit)
    epsilon: float | None
    weights: list[Weight] = field(default_factory=list)
    left_out: int = 0  # patients outside the prior's histologies

    def provenance(self) -> dict[str, Any]:
        return {
            "patients": self.patients,
            "epsilon": self.epsilon,
            "left_out": self.left_out,
            "weights": [msgspec.to_builtins(w) for w in self.weights],
        }


# --- shrinkage -------------------------------------------------------------------------------
def _dirichlet(
    counts: Mapping[str, float], prior: Mapping[str, float], max_strength: float
) -> tuple[dict[str, float], float, float]:
    """Posterior mean shares, α and the data's weight (the module docstring says how)."""
    keys = list(dict.fromkeys([*prior, *counts]))
    clipped = {k: max(0.0, counts.get(k, 0.0)) for k in keys}
    n = sum(clipped.values())
    base = {k: max(0.0, prior.get(k, 0.0)) for k in keys}
    total = sum(base.values())
    base = {k: 1 / len(keys) for k in keys} if total <= 0 else {k: v / total for k, v in base.items()}
    if n <= 0:
        return base, max_strength, 0.0
    k_count = max(2, len(keys))
    smooth = {k: 0.999 * base[k] + 0.001 / len(keys) for k in keys}
    x2 = n * sum((clipped[k] / n - smooth[k]) ** 2 / smooth[k] for k in keys)
    ratio = x2 / (k_count - 1)
    alpha = max_strength if ratio <= 1 else min(max_strength, max(MIN_STRENGTH, (n - ratio) / (ratio - 1)))
    shares = {k: (clipped[k] + alpha * base[k]) / (n + alpha) for k in keys}
    return shares, alpha, n / (n + alpha)


def _rounded(shares: Mapping[str, float]) -> dict[str, float]:
    """Shares to 6 decimals that sum to exactly 1 (the remainder on the largest); zeros dropped."""
    kept = {k: round(v, 6) for k, v in shares.items() if round(v, 6) > 0}
    if not kept:
        raise ValueError("no share left to keep")
    largest = max(kept, key=lambda k: kept[k])
    kept[largest] = round(kept[largest] + 1 - sum(kept.values()), 6)
    return kept


# --- the four histograms ---------------------------------------------------------------------
@dataclass
class Released:
    """The released counts of the four histograms, by category."""

    demography: dict[str, float]
    location: dict[str, float]
    care: dict[str, float]
    survival: dict[str, float]


def _age_range(prior: Profile) -> tuple[int, int]:
    models = [m for by_sex in prior.age.values() for m in by_sex.values()]
    return min(m.min for m in models), max(m.max for m in models)


def _groups(generator: Generator, histology: str) -> tuple[str, ...]:
    return generator.tables.clinical_groups(codes.STAGING_SCHEME[histology])


def _categories(prior: Profile, generator: Generator) -> dict[str, list[str]]:
    low, high = _age_range(prior)
    hist = list(codes.HISTOLOGIES)
    all_groups = list(dict.fromkeys(g for h in hist for g in _groups(generator, h)))
    return {
        "demography": [
            f"{h}|{s}|{a}" for h in hist for s in codes.SEXES for a in range(low, high + 1, AGE_BAND)
        ],
        "location": [f"{h}|{loc}" for h in hist for loc in codes.LOCATIONS],
        "care": [f"{h}|{g}|{p}" for h in hist for g in _groups(generator, h) for p in codes.PATHWAYS],
        "survival": [f"{g}|{e}|{y}" for g in all_groups for e in (0, 1) for y in range(FOLLOW_UP_YEARS)],
    }


def _values(frame: pl.DataFrame, prior: Profile) -> dict[str, list[str]]:
    """Each patient's one category in each histogram (ages and years clamped to the public range)."""
    low, high = _age_range(prior)
    years = (pl.col("time") / 12).floor().clip(0, FOLLOW_UP_YEARS - 1).cast(pl.Int32)
    age = (low + ((pl.col("age").floor().clip(low, high) - low) // AGE_BAND) * AGE_BAND).cast(pl.Int32)
    made = frame.select(
        demography=pl.concat_str("histology", "sex", age, separator="|"),
        location=pl.concat_str("histology", "location", separator="|"),
        care=pl.concat_str("histology", "stage_group", "pathway", separator="|"),
        survival=pl.concat_str("stage_group", "event", years, separator="|"),
    )
    return {name: made[name].fill_null("?").to_list() for name in HISTOGRAMS}


def release(frame: pl.DataFrame, prior: Profile, generator: Generator, epsilon: float | None) -> Released:
    """The four histograms: exact, or each ε/4-DP."""
    categories = _categories(prior, generator)
    values = _values(frame, prior)
    share = None if epsilon is None else epsilon / len(HISTOGRAMS)
    out = {
        name: dict(zip(categories[name], privacy.counts(values[name], categories[name], share), strict=True))
        for name in HISTOGRAMS
    }
    return Released(**out)


def _marginal(counts: Mapping[str, float], keep: Sequence[int], where: Mapping[int, str]) -> dict[str, float]:
    """Counts summed over the category parts not in ``keep``, for categories matching ``where``."""
    out: dict[str, float] = {}
    for key, count in counts.items():
        parts = key.split("|")
        if all(parts[i] == v for i, v in where.items()):
            name = "|".join(parts[i] for i in keep)
            out[name] = out.get(name, 0.0) + count
    return out


# --- the parts of the profile ----------------------------------------------------------------
def _age_model(prior: AgeModel, ages: Mapping[str, float], source: str) -> tuple[AgeModel, float]:
    # each band at its midpoint; noisy counts unclipped, so the sums stay unbiased
    weights = {int(a) + (AGE_BAND - 1) / 2: c for a, c in ages.items()}  # whole years low..low+4
    n = sum(weights.values())
    if n <= 10:
        return prior, 0.0
    mean = min(prior.max, max(prior.min, sum(a * w for a, w in weights.items()) / n))
    spread = sum((a - mean) ** 2 * w for a, w in weights.items()) / n + AGE_BAND**2 / 12  # within bands
    sd = math.sqrt(max(1.0, spread))
    weight = n / (n + AGE_STRENGTH)
    target_mean = weight * mean + (1 - weight) * prior.mean
    target_sd = weight * sd + (1 - weight) * prior.sd
    model = msgspec.structs.replace(prior, mean=target_mean, sd=target_sd, source=source)
    for _ in range(6):  # the model's mean and SD after truncation to [min, max] match the targets
        years, pmf = age_pmf(model)
        got_mean = float(((years + 0.5) * pmf).sum())  # a year drawn, then a uniform day in it
        got_sd = math.sqrt(float(((years - got_mean) ** 2 * pmf).sum()))
        model = msgspec.structs.replace(
            model,
            mean=round(model.mean + target_mean - got_mean, 3),
            sd=round(max(1.0, model.sd * target_sd / max(got_sd, 1e-6)), 3),
        )
    return model, weight


def _pathway_shares(profile: Profile, generator: Generator) -> dict[tuple[str, str], dict[str, float]]:
    """P(pathway | histology, stage group) the profile's joint table gives."""
    joint = joint_table(profile, generator.tables)
    rows = joint.group_by("histology", "stage_group", "regimen").agg(pl.col("p").sum())
    out: dict[tuple[str, str], dict[str, float]] = {}
    for h, g, regimen, p in rows.iter_rows():
        out.setdefault((h, g), {})[regimen] = p
    for cell in out.values():
        total = sum(cell.values())
        for k in cell:
            cell[k] /= total
    return out


def _calibrate_allocation(
    profile: Profile, wanted: dict[tuple[str, str], dict[str, float]], generator: Generator, source: str
) -> Profile:
    """Allocation weights whose joint table gives the wanted P(pathway | histology, stage)."""
    allocation = {
        h: {g: dict(mix.shares) for g, mix in by_stage.items()}
        for h, by_stage in profile.treatment.allocation.items()
    }
    for (h, g), shares in wanted.items():
        allocation.setdefault(h, {})[g] = dict(shares)
    current = profile
    for _ in range(IPF_ROUNDS):
        current = _with_allocation(current, allocation, source)
        got = _pathway_shares(current, generator)
        for (h, g), shares in wanted.items():
            cell = allocation[h][g]
            for regimen, share in shares.items():
                achieved_share = got.get((h, g), {}).get(regimen, 0.0)
                if achieved_share > 0 and cell.get(regimen, 0.0) > 0:
                    cell[regimen] *= share / achieved_share
            total = sum(cell.values())
            allocation[h][g] = {k: v / total for k, v in cell.items()} if total > 0 else cell
    return _with_allocation(current, allocation, source)


def _with_allocation(
    profile: Profile, allocation: dict[str, dict[str, dict[str, float]]], source: str
) -> Profile:
    fitted = {
        h: {
            g: Shares(shares=_rounded(cell), source=source)
            for g, cell in by_stage.items()
            if sum(cell.values()) > 0
        }
        for h, by_stage in allocation.items()
    }
    return msgspec.structs.replace(
        profile, treatment=msgspec.structs.replace(profile.treatment, allocation=fitted)
    )


def _death_rates(survival: Mapping[str, float]) -> dict[str, tuple[float, float]]:
    """Stage group → (deaths, person-years) from the survival histogram (each year's count at
    its midpoint); cells are summed before clipping at 0, so noise does not bias the sums."""
    sums: dict[str, tuple[float, float]] = {}
    for key, count in survival.items():  # noisy counts summed as released: the noise averages out
        group, event, year = key.split("|")
        deaths, years = sums.get(group, (0.0, 0.0))
        sums[group] = (deaths + (count if event == "1" else 0.0), years + count * (int(year) + 0.5))
    return {g: (max(0.0, d), max(0.0, y)) for g, (d, y) in sums.items()}


def _sim_rates(
    profile: Profile, generator: Generator, n: int, seed: int
) -> tuple[dict[str, tuple[float, float]], pl.DataFrame]:
    frames = generator.generate(profile, n, seed=seed)
    frame = cohort_frame(frames)
    values = _values(frame, profile)["survival"]
    categories = _categories(profile, generator)["survival"]
    counts = dict(zip(categories, privacy.exact_counts(values, categories), strict=True))
    return _death_rates(counts), generator.fidelity_frame(frames)


def _calibrate_survival(
    profile: Profile,
    observed: dict[str, tuple[float, float]],
    generator: Generator,
    *,
    n: int,
    seed: int,
    rounds: int,
    source: str,
    weights: list[Weight],
) -> tuple[Profile, pl.DataFrame]:
    baseline = {g: f.value for g, f in profile.survival.baseline.items()}
    people = pl.DataFrame()
    prior_rates: dict[str, float] = {}
    for round_no in range(rounds):
        simulated, people = _sim_rates(profile, generator, n, seed + round_no)
        for group, (sim_deaths, sim_years) in simulated.items():
            if group not in baseline or sim_years <= 0 or sim_deaths <= 0:
                continue
            sim_rate = sim_deaths / sim_years
            prior_rates.setdefault(group, sim_rate)  # the first round runs the prior's baselines
            deaths, years = observed.get(group, (0.0, 0.0))
            wanted = (deaths + RATE_STRENGTH * prior_rates[group]) / (years + RATE_STRENGTH)
            baseline[group] = min(20.0, max(1e-4, baseline[group] * wanted / sim_rate))
            if round_no == rounds - 1:
                weights.append(
                    Weight(
                        statistic=f"survival.baseline.{group}",
                        n=round(years, 1),
                        strength=RATE_STRENGTH,
                        data_weight=round(years / (years + RATE_STRENGTH), 4),
                    )
                )
        profile = msgspec.structs.replace(
            profile,
            survival=msgspec.structs.replace(
                profile.survival,
                baseline={g: Figure(value=round(v, 5), source=source) for g, v in baseline.items()},
            ),
        )
    return profile, people


def _targets(
    profile: Profile, prior: Profile, people: pl.DataFrame, generator: Generator, source: str
) -> list[Target]:
    """The prior's targets of the families a fit estimates, at the values a cohort generated
    from the fitted profile reaches (post-processing), with the prior's tolerances."""
    out = []
    for target in prior.targets:
        spec = parse_target(target.name)
        if spec.family not in TARGET_FAMILIES:
            continue
        estimate = achieved(generator.codecs, people, spec)
        if estimate.value is None:
            continue
        out.append(
            Target(
                name=target.name, value=round(estimate.value, 4), tolerance=target.tolerance, source=source
            )
        )
    return out


# --- the fit ---------------------------------------------------------------------------------
def fit_profile(
    prior: Profile,
    frame: pl.DataFrame,
    *,
    generator: Generator,
    name: str,
    source: str,
    epsilon: float | None = None,
    max_strength: float = 500.0,
    calibration_n: int = 10_000,
    calibration_rounds: int = 2,
    seed: int = 0,
    fitted_on: date | None = None,
) -> Fit:
    """Fit ``prior``'s parameters to ``frame`` (``cohort_frame``'s rows); ``source`` names the
    data (it goes into every fitted figure's source)."""
    if epsilon is not None and not epsilon > 0:
        raise ValueError("epsilon must be greater than 0")
    known = frame.filter(pl.col("histology").is_in(list(prior.histologies)))
    privacy_note = "exact counts" if epsilon is None else f"ε = {epsilon:g}-DP counts"
    day = (fitted_on or date.today()).isoformat()
    size = f"n = {known.height}" if epsilon is None else "n private"
    cite = f"fitted to {source} ({size}, {privacy_note}, {day}), prior {prior.name} {prior.version}"
    released = release(known, prior, generator, epsilon)
    weights: list[Weight] = []

    def shrink(
        statistic: str, counts: Mapping[str, float], prior_shares: Mapping[str, float]
    ) -> dict[str, float]:
        shares, alpha, weight = _dirichlet(counts, prior_shares, max_strength)
        n = sum(max(0.0, c) for c in counts.values())
        weights.append(
            Weight(statistic=statistic, n=round(n, 1), strength=round(alpha, 2), data_weight=round(weight, 4))
        )
        return shares

    histologies = list(prior.histologies)
    by_histology = _marginal(released.demography, [0], {})
    histology = _rounded(
        shrink("histology", {h: by_histology.get(h, 0.0) for h in histologies}, prior.histology.shares)
    )
    sex: dict[str, Figure] = {}
    age: dict[str, dict[str, AgeModel]] = {}
    location: dict[str, Shares] = {}
    stage = dict(prior.stage)
    wanted_pathways: dict[tuple[str, str], dict[str, float]] = {}
    for h in histologies:
        by_sex = _marginal(released.demography, [1], {0: h})
        male = shrink(
            f"sex.{h}",
            {s: by_sex.get(s, 0.0) for s in codes.SEXES},
            {"female": 1 - prior.sex[h].value, "male": prior.sex[h].value},
        )
        sex[h] = Figure(value=round(male["male"], 6), source=cite)
        age[h] = {}
        for s in codes.SEXES:
            ages = _marginal(released.demography, [2], {0: h, 1: s})
            model, weight = _age_model(prior.age[h][s], ages, cite)
            age[h][s] = model
            weights.append(
                Weight(
                    statistic=f"age.{h}.{s}",
                    n=round(sum(max(0.0, c) for c in ages.values()), 1),
                    strength=AGE_STRENGTH,
                    data_weight=round(weight, 4),
                )
            )
        where = _marginal(released.location, [1], {0: h})
        location[h] = Shares(
            shares=_rounded(shrink(f"location.{h}", where, prior.location[h].shares)), source=cite
        )
        groups = _groups(generator, h)
        by_group = _marginal(released.care, [1], {0: h})
        fitted_groups = shrink(f"stage.{h}", {g: by_group.get(g, 0.0) for g in groups}, prior.stage[h].groups)
        stage[h] = msgspec.structs.replace(prior.stage[h], groups=_rounded(fitted_groups), source=cite)
        prior_alloc = prior.treatment.allocation.get(h, {})
        for g in groups:
            if g not in stage[h].groups:
                continue
            cell = _marginal(released.care, [2], {0: h, 1: g})
            base = prior_alloc[g].shares if g in prior_alloc else {"best_supportive_care": 1.0}
            wanted_pathways[(h, g)] = shrink(f"treatment.{h}.{g}", cell, base)

    fitted = msgspec.structs.replace(
        prior,
        name=name,
        title=f"{prior.title}, fitted to {source}",
        version=(fitted_on or date.today()).strftime("%Y.%m.%d"),
        description=(
            f"The {prior.name} profile with its shares, ages, treatment allocation and survival "
            f"baselines {cite}."
        ),
        histology=Shares(shares=histology, source=cite),
        sex=sex,
        age=age,
        location=location,
        stage=stage,
    )
    fitted = _calibrate_allocation(fitted, wanted_pathways, generator, cite)
    fitted, people = _calibrate_survival(
        fitted,
        _death_rates(released.survival),
        generator,
        n=calibration_n,
        seed=seed,
        rounds=calibration_rounds,
        source=cite,
        weights=weights,
    )
    final_people = generator.fidelity_frame(generator.generate(fitted, calibration_n, seed=seed + 99))
    fitted = msgspec.structs.replace(fitted, targets=_targets(fitted, prior, final_people, generator, cite))
    del people
    patients = known.height if epsilon is None else None  # under ε-DP the count is private too
    return Fit(
        profile=fitted,
        patients=patients,
        epsilon=epsilon,
        weights=weights,
        left_out=frame.height - known.height if epsilon is None else 0,
    )
