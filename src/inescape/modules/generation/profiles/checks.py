"""The rules a profile must keep beyond its types; each problem names its dotted field path."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from typing import Any

import msgspec
import polars as pl

from inescape.modules.generation import codes
from inescape.modules.generation.engine.staging import StageTables
from inescape.modules.generation.profiles.model import Figure, Profile, Shares, StageMix
from inescape.modules.generation.targets import parse_target

Problem = tuple[str, str]
_TOLERANCE = 1e-6  # shares are written with a few decimals; allow for float rounding only
_CODE = re.compile(r"^\d{4}/\d\Z")


def walk_sources(value: Any, at: str) -> Iterator[Problem]:
    """Every struct that carries a ``source`` must fill it: no figure without its citation."""
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            inner = getattr(value, name)
            if name.endswith("source") and isinstance(inner, str) and not inner.strip():
                yield _join(at, name), "every figure needs its source (a citation, or say engineer's choice)"
            yield from walk_sources(inner, _join(at, name))
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield from walk_sources(inner, _join(at, str(key)))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from walk_sources(inner, f"{at}[{i}]")


def _join(at: str, name: str) -> str:
    return f"{at}.{name}" if at else name


def shares(value: Shares, at: str, allowed: Iterable[str]) -> Iterator[Problem]:
    yield from distribution(value.shares, f"{at}.shares", allowed)


def distribution(values: Mapping[str, float], at: str, allowed: Iterable[str]) -> Iterator[Problem]:
    known = tuple(allowed)
    for key, share in values.items():
        if key not in known:
            yield f"{at}.{key}", f"unknown code {key!r} (allowed: {', '.join(known)})"
        if not share >= 0:
            yield f"{at}.{key}", f"a share cannot be negative ({share})"
    total = sum(values.values())
    if abs(total - 1) > _TOLERANCE:
        yield at, f"shares must sum to 1, not {total:.6g}"


def weights(values: Mapping[str, float], at: str, allowed: Iterable[str]) -> Iterator[Problem]:
    known = tuple(allowed)
    for key, weight in values.items():
        if key not in known:
            yield f"{at}.{key}", f"unknown code {key!r} (allowed: {', '.join(known)})"
        if not weight >= 0:
            yield f"{at}.{key}", f"a weight cannot be negative ({weight})"


def rate(value: Figure, at: str) -> Iterator[Problem]:
    if not 0 <= value.value <= 1:
        yield f"{at}.value", f"a share or probability lies in [0, 1], not {value.value}"


def ratio(value: Figure, at: str) -> Iterator[Problem]:
    if not value.value > 0:
        yield f"{at}.value", f"a hazard or odds ratio must be positive, not {value.value}"


def per_histology(values: Mapping[str, Any], at: str, needed: tuple[str, ...]) -> Iterator[Problem]:
    for key in values:
        if key not in codes.HISTOLOGIES:
            yield f"{at}.{key}", f"unknown histology {key!r} (allowed: {', '.join(codes.HISTOLOGIES)})"
    for key in needed:
        if key not in values:
            yield f"{at}.{key}", f"missing: the profile generates {key.replace('_', ' ')}"


def check_meta(p: Profile) -> Iterator[Problem]:
    from faker.config import AVAILABLE_LOCALES

    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", p.name):
        yield "name", "lower-case letters, digits and dashes"
    if p.locale not in AVAILABLE_LOCALES:
        yield "locale", f"{p.locale!r} is not a Faker locale (e.g. fa_IR, en_US)"
    if not re.fullmatch(r"[A-Z]{2}", p.country):
        yield "country", "an ISO 3166-1 alpha-2 code, e.g. IR, US"
    if p.identity.regions is not None:
        yield from shares(p.identity.regions, "identity.regions", p.identity.regions.shares)
    if p.identity.countries is not None:
        yield from shares(p.identity.countries, "identity.countries", p.identity.countries.shares)
        for code in p.identity.countries.shares:
            if not re.fullmatch(r"[A-Z]{2}", code):
                yield f"identity.countries.shares.{code}", "an ISO 3166-1 alpha-2 code, e.g. CN"
    yield from per_histology(p.identity.ethnicity, "identity.ethnicity", p.histologies)
    for h, mix in p.identity.ethnicity.items():
        yield from shares(mix, f"identity.ethnicity.{h}", mix.shares)
    yield from rate(p.identity.email, "identity.email")
    yield from rate(p.identity.phone, "identity.phone")


def check_tumour(p: Profile, tables: StageTables) -> Iterator[Problem]:
    needed = p.histologies
    yield from shares(p.histology, "histology", codes.HISTOLOGIES)
    for field in ("morphology", "sex", "age", "location", "grade", "stage"):
        yield from per_histology(getattr(p, field), field, needed)
    for h, mix in p.morphology.items():
        yield from shares(mix, f"morphology.{h}", mix.shares)
        yield from _morphology_codes(h, mix.shares, f"morphology.{h}.shares")
    for h, male in p.sex.items():
        yield from rate(male, f"sex.{h}")
    for h, by_sex in p.age.items():
        yield from _ages(by_sex, f"age.{h}")
    for h, where in p.location.items():
        yield from shares(where, f"location.{h}", codes.LOCATIONS)
    for h, grades in p.grade.items():
        yield from shares(grades, f"grade.{h}", codes.GRADES)
    yield from shares(p.siewert, "siewert", codes.SIEWERT_TYPES)
    yield from weights(p.tumour_length.median_cm, "tumour_length.median_cm", codes.CLINICAL_T)
    for h, stage_mix in p.stage.items():
        yield from _stage(h, stage_mix, f"stage.{h}", tables)
    for m in ("M0", "M1"):
        if m not in p.ecog:
            yield f"ecog.{m}", "missing: ECOG mix for M0 and M1"
    for m, mix in p.ecog.items():
        if m not in ("M0", "M1"):
            yield f"ecog.{m}", "ECOG mixes are keyed M0 and M1"
        yield from shares(mix, f"ecog.{m}", codes.ECOG_SCORES)


def _morphology_codes(h: str, values: Mapping[str, float], at: str) -> Iterator[Problem]:
    family = codes.MORPHOLOGY_FAMILIES.get(h)
    for code in values:
        if not _CODE.fullmatch(code):
            yield f"{at}.{code}", "an ICD-O-3 morphology code, e.g. 8070/3"
        elif family and not family[0] <= int(code[:4]) <= family[1]:
            yield f"{at}.{code}", f"not a {h.replace('_', ' ')} code (ICD-O-3 {family[0]}-{family[1]})"


def _ages(by_sex: Mapping[str, Any], at: str) -> Iterator[Problem]:
    for sex in codes.SEXES:
        if sex not in by_sex:
            yield f"{at}.{sex}", "missing: an age model for each sex"
    for sex, model in by_sex.items():
        if sex not in codes.SEXES:
            yield f"{at}.{sex}", f"unknown sex {sex!r} (allowed: {', '.join(codes.SEXES)})"
        if not model.sd > 0:
            yield f"{at}.{sex}.sd", "the standard deviation must be positive"
        if not 0 <= model.min < model.max <= 110:
            yield f"{at}.{sex}.min", "need 0 <= min < max <= 110"


def _stage(h: str, mix: StageMix, at: str, tables: StageTables) -> Iterator[Problem]:
    groups = tables.clinical_groups(codes.STAGING_SCHEME.get(h, h))
    yield from distribution(mix.groups, f"{at}.groups", groups)
    yield from weights(mix.t_weights, f"{at}.t_weights", codes.CLINICAL_T)
    yield from weights(mix.n_weights, f"{at}.n_weights", codes.N_ORDER)
    for t, figure in mix.node_positive.items():
        if t not in codes.CLINICAL_T or t == "Tis":
            yield f"{at}.node_positive.{t}", f"a cT that can have nodes ({', '.join(codes.CLINICAL_T[1:])})"
        yield from rate(figure, f"{at}.node_positive.{t}")
    if mix.node_positive and not any(w > 0 for k, w in mix.n_weights.items() if k != "N0"):
        yield f"{at}.n_weights", "node_positive needs a positive weight for N1, N2 or N3"
    if mix.m1_t_weights is not None:
        yield from weights(mix.m1_t_weights.weights, f"{at}.m1_t_weights.weights", codes.CLINICAL_T)
    table = tables.clinical.filter(pl.col("scheme") == codes.STAGING_SCHEME.get(h, h))
    for group, share in mix.groups.items():
        combos = table.filter(pl.col("stage_group") == group).select("t", "n").rows()
        if share > 0 and not any(mix.t_weights.get(t, 0) * mix.n_weights.get(n, 0) > 0 for t, n in combos):
            yield f"{at}.groups.{group}", f"no T and N with positive weight give stage {group}"


def check_dates(p: Profile) -> Iterator[Problem]:
    f = p.follow_up
    if not f.diagnosed_from < f.diagnosed_to:
        yield "follow_up.diagnosed_to", "diagnoses must span a period: diagnosed_from < diagnosed_to"
    if f.diagnosed_to + timedelta(days=180) > f.censoring_date:
        yield "follow_up.censoring_date", "leave at least 180 days after the last diagnosis for treatment"
    yield from rate(f.loss_per_year, "follow_up.loss_per_year")


def check_targets(p: Profile) -> Iterator[Problem]:
    for i, target in enumerate(p.targets):
        try:
            spec = parse_target(target.name)
        except ValueError as error:
            yield f"targets[{i}].name", f"{target.name!r}: {error}"
            continue
        if spec.family == "trial" and spec.group not in p.trials:
            known = ", ".join(p.trials) or "none"
            yield f"targets[{i}].name", f"{target.name!r}: no trials.{spec.group} in the profile ({known})"
        if not target.tolerance > 0:
            yield f"targets[{i}].tolerance", "an absolute tolerance, greater than 0"
    yield from _trials(p)


_TRIAL_CODES = {
    "pathway": codes.PATHWAYS,
    "histology": codes.HISTOLOGIES,
    "t": codes.CLINICAL_T,
    "n": codes.N_ORDER,
    "m": codes.M_CATEGORIES,
}


def _trials(p: Profile) -> Iterator[Problem]:
    for name, trial in p.trials.items():
        at = f"trials.{name}"
        for field, known in _TRIAL_CODES.items():
            for value in getattr(trial, field):
                if value not in known:
                    yield f"{at}.{field}", f"unknown code {value!r} (allowed: {', '.join(known)})"
        if not trial.pathway:
            yield f"{at}.pathway", "name the pathway the arm was given"
        if trial.endpoint not in ("overall", "disease_free"):
            yield f"{at}.endpoint", "overall or disease_free"
        if not 0 <= trial.ecog_max <= 4:
            yield f"{at}.ecog_max", "an ECOG score, 0 to 4"
        if not trial.age_min < trial.age_max:
            yield f"{at}.age_max", "need age_min < age_max"
