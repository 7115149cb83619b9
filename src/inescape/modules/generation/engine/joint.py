"""The joint distribution of the fields a quota may fix, as one table built once per profile.

Rows: histology × sex × age band × location × cTNM (with its stage group) × ECOG × pathway, with
the probability ``p`` the profile gives each combination. Sampling a patient is one draw from this
table, so a quota is conditional sampling: keep the rows that match, renormalise, draw (never
rejection). Everything else about a patient is drawn afterwards, given its row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import msgspec
import numpy as np
import polars as pl

from inescape.modules.generation import codes
from inescape.modules.generation.engine.staging import StageTables
from inescape.modules.generation.engine.streams import Cat
from inescape.modules.generation.profiles.model import AgeModel, Profile, StageMix

COLUMNS = codes.QUOTA_FIELDS


@dataclass(frozen=True)
class Joint:
    """The table, and each column as integer codes into ``codes.FIELD_CODES`` for fast gathers."""

    frame: pl.DataFrame
    codes: dict[str, np.ndarray]

    def rows(self, index: np.ndarray) -> dict[str, Cat]:
        return {f: Cat(codes.FIELD_CODES[f], self.codes[f][index]) for f in COLUMNS}


def age_pmf(model: AgeModel) -> tuple[np.ndarray, np.ndarray]:
    """Whole years of age at diagnosis and their probabilities: a skew-normal with the model's
    mean and SD (Azzalini's parameters from the moments), cut to [min, max]."""
    delta = model.skew / math.sqrt(1 + model.skew**2)
    scale = model.sd / math.sqrt(1 - 2 * delta**2 / math.pi)
    location = model.mean - scale * delta * math.sqrt(2 / math.pi)
    ages = np.arange(model.min, model.max + 1)
    z = (ages + 0.5 - location) / scale  # the year's midpoint: ages are drawn as year + uniform
    cdf = np.array([0.5 * (1 + math.erf(model.skew * v / math.sqrt(2))) for v in z])
    density = np.exp(-0.5 * z**2) * cdf
    return ages, density / density.sum()


def _frame(rows: Sequence[tuple[object, ...]], columns: list[str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=columns, orient="row").filter(pl.col("p") > 0)


def _demography(profile: Profile) -> pl.DataFrame:
    rows = []
    for h in profile.histologies:
        male = profile.sex[h].value
        for sex, p_sex in (("female", 1 - male), ("male", male)):
            ages, pmf = age_pmf(profile.age[h][sex])
            old = float(pmf[ages >= codes.AGE_BAND_EDGE].sum())
            share = profile.histology.shares[h]
            rows += [(h, sex, "<75", share * p_sex * (1 - old)), (h, sex, "75+", share * p_sex * old)]
    return _frame(rows, ["histology", "sex", "age_band", "p"])


def _locations(profile: Profile) -> pl.DataFrame:
    rows = [(h, loc, share) for h in profile.histologies for loc, share in profile.location[h].shares.items()]
    return _frame(rows, ["histology", "location", "p"]).rename({"p": "p_location"})


def _tnm(profile: Profile, tables: StageTables) -> pl.DataFrame:
    """cTNM rows per histology: the stage group's share spread over its T × N weights."""
    parts = []
    for h in profile.histologies:
        mix = profile.stage[h]
        table = tables.clinical.filter(pl.col("scheme") == codes.STAGING_SCHEME[h])
        weighted = table.with_columns(
            histology=pl.lit(h),
            w=_t_weight(mix) * _n_weight(mix),
            share=pl.col("stage_group").replace_strict(mix.groups, default=0.0, return_dtype=pl.Float64),
        )
        parts.append(
            weighted.with_columns(p_tnm=pl.col("share") * pl.col("w") / pl.col("w").sum().over("stage_group"))
            .filter(pl.col("p_tnm") > 0)
            .select("histology", "t", "n", "m", "stage_group", "p_tnm")
        )
    return pl.concat(parts)


def _t_weight(mix: StageMix) -> pl.Expr:
    """The weight of cT: ``t_weights``, or ``m1_t_weights`` for M1 tumours when given."""
    t = pl.col("t").replace_strict(mix.t_weights, default=0.0, return_dtype=pl.Float64)
    if mix.m1_t_weights is None:
        return t
    m1 = pl.col("t").replace_strict(mix.m1_t_weights.weights, default=0.0, return_dtype=pl.Float64)
    return pl.when(pl.col("m") == "M1").then(m1).otherwise(t)


def _n_weight(mix: StageMix) -> pl.Expr:
    """The weight of cN: ``n_weights``, or P(N | T) when ``node_positive`` gives cT's share of
    node-positive tumours (N1-N3 sharing it as ``n_weights`` do)."""
    n = pl.col("n").replace_strict(mix.n_weights, default=0.0, return_dtype=pl.Float64)
    if not mix.node_positive:
        return n
    positive = sum(w for k, w in mix.n_weights.items() if k != "N0")
    share = pl.col("t").replace_strict(
        {t: f.value for t, f in mix.node_positive.items()}, default=None, return_dtype=pl.Float64
    )
    given_t = pl.when(pl.col("n") == "N0").then(1 - share).otherwise(share * n / positive)
    return pl.when(share.is_null()).then(n).otherwise(given_t)


def _ecog(profile: Profile) -> pl.DataFrame:
    rows = [(m, score, share) for m, mix in profile.ecog.items() for score, share in mix.shares.items()]
    return pl.DataFrame(rows, schema=["m", "ecog", "p_ecog"], orient="row").filter(pl.col("p_ecog") > 0)


def _eligible() -> pl.Expr:
    """Hard clinical rules (domain.md §3.1): which pathway can treat which tumour at all."""
    t, n, m, regimen = pl.col("t"), pl.col("n"), pl.col("m"), pl.col("regimen")
    operable = (m == "M0") & t.is_in(["T1b", "T2", "T3", "T4a"]) & (pl.col("location") != "cervical")
    return (
        pl.when(regimen == "endoscopic_resection")  # Tis / T1a (and superficial T1b) N0 only
        .then(t.is_in(["Tis", "T1a", "T1b"]) & (n == "N0") & (m == "M0"))
        .when(regimen == "esophagectomy")  # not T4b (unresectable) nor cervical (dCRT there)
        .then((m == "M0") & (t != "T4b") & (pl.col("location") != "cervical"))
        .when(regimen == "CROSS")  # cT1b-T4a, M0 (CROSS; NCCN ESOPH-4/-13)
        .then(operable)
        .when(regimen == "FLOT")  # adenocarcinoma only (FLOT4, ESOPEC)
        .then(operable & (pl.col("histology") == "adenocarcinoma"))
        .when(regimen == "definitive_CRT")
        .then((m == "M0") & (t != "Tis"))
        .when(regimen == "palliative_systemic")
        .then(t != "Tis")
        .otherwise(pl.lit(True))
    )


def _modifiers(profile: Profile) -> pl.Expr:
    factor = pl.lit(1.0)
    for modifier in profile.treatment.modifiers:
        applies = pl.all_horizontal([pl.col(c).is_in(values) for c, values in modifier.when.items()])
        scaled = pl.col("regimen").replace_strict(modifier.factors, default=1.0, return_dtype=pl.Float64)
        factor = factor * pl.when(applies).then(scaled).otherwise(1.0)
    return factor


def _allocation(profile: Profile) -> pl.DataFrame:
    rows = [
        (h, group, regimen, share)
        for h, by_stage in profile.treatment.allocation.items()
        for group, mix in by_stage.items()
        for regimen, share in mix.shares.items()
    ]
    return pl.DataFrame(rows, schema=["histology", "stage_group", "regimen", "alloc"], orient="row")


def _with_pathways(profile: Profile, patients: pl.DataFrame) -> pl.DataFrame:
    """P(pathway | row) ∝ allocation(histology, stage) × eligible × modifiers; rows where nothing
    is eligible get best supportive care, which is always possible."""
    context = list(patients.columns)
    rows = patients.join(pl.DataFrame({"regimen": codes.PATHWAYS}), how="cross")
    rows = rows.join(_allocation(profile), on=["histology", "stage_group", "regimen"], how="left")
    weight = pl.col("alloc").fill_null(0.0) * _eligible().cast(pl.Float64) * _modifiers(profile)
    rows = rows.with_columns(w=weight).with_columns(total=pl.col("w").sum().over(context))
    supportive = (pl.col("regimen") == "best_supportive_care").cast(pl.Float64)
    share = pl.when(pl.col("total") > 0).then(pl.col("w") / pl.col("total")).otherwise(supportive)
    return rows.with_columns(p=pl.col("p") * share).filter(pl.col("p") > 0).drop("alloc", "w", "total")


@lru_cache(maxsize=16)
def _joint(encoded: bytes, tables: StageTables) -> pl.DataFrame:
    profile = msgspec.json.decode(encoded, type=Profile)
    rows = (
        _demography(profile)
        .join(_locations(profile), on="histology")
        .join(_tnm(profile, tables), on="histology")
        .join(_ecog(profile), on="m")
        .with_columns(p=pl.col("p") * pl.col("p_location") * pl.col("p_tnm") * pl.col("p_ecog"))
        .drop("p_location", "p_tnm", "p_ecog")
    )
    joint = _with_pathways(profile, rows).select(*COLUMNS, "p")
    return joint.sort(COLUMNS).with_columns(p=pl.col("p") / pl.col("p").sum())


def joint_table(profile: Profile, tables: StageTables) -> pl.DataFrame:
    """The profile's joint table (cached on the profile's content and the stage tables)."""
    return _joint(msgspec.json.encode(profile), tables)


def joint(profile: Profile, tables: StageTables) -> Joint:
    frame = joint_table(profile, tables)
    return Joint(
        frame=frame,
        codes={
            f: frame[f].replace_strict({name: i for i, name in enumerate(codes.FIELD_CODES[f])}).to_numpy()
            for f in COLUMNS
        },
    )
