"""The privacy and utility report of a synthetic cohort made from a fitted profile, measured
against the real patients the fit read (``train``) and those it held out (``holdout``).

Records are compared on the fit's columns: categorical ones one-hot, age in decades, follow-up
in 5-year units and the death indicator (Euclidean distance on that encoding).

Privacy
  dcr_synthetic / dcr_holdout   median distance from a synthetic (holdout) record to its
                                closest training record: a synthetic cohort that copied its
                                training patients sits much closer than unseen real patients do
  closer_to_train               share of synthetic records whose closest real record is a
                                training one, of training and holdout sampled to equal size
                                (0.5: no closer to the training patients than to others)
  nndr                          median ratio of the closest to the second-closest training
                                record (near 0: a synthetic record singles one patient out)
  mia_advantage                 a distance membership-inference attack: a real record is called
                                a member when a synthetic record lies within a threshold; the
                                best threshold's true- minus false-positive rate (0: no better
                                than a guess)
  mia_p_value                   the chance that a twin carrying no membership signal at all shows
                                an advantage this large, at these numbers of training and holdout
                                records: Smirnov's one-sided bound exp(-2 d^2 mn/(m+n)), which
                                distances with ties only make more conservative. A small source
                                measures the advantage coarsely (about 0.08 by chance alone with
                                120 held-out patients): a large advantage with a large p-value is
                                noise, not a leak
  identical                     synthetic records equal to a training record on every column
  aia_*                         an attribute-inference attack: the sensitive attribute
                                (``SENSITIVE``: whether the patient died) of a real patient
                                guessed as that of the synthetic record nearest on the
                                quasi-identifiers (sex, age, location, clinical stage group).
                                aia_accuracy on held-out patients, aia_members_accuracy on the
                                training ones, aia_baseline: guessing the synthetic records'
                                majority value; aia_advantage = aia_accuracy - aia_baseline
                                (what the synthetic data teaches about anyone), aia_members_gain
                                = aia_members_accuracy - aia_accuracy (what it gives away about
                                the patients it was made from: near 0 unless it copies them)
Utility
  marginal_fidelity             1 - total variation distance of each categorical column
  km_distance                   largest gap between the real and synthetic Kaplan-Meier
                                survival at 1, 2, 3 and 5 years, by clinical stage
  trtr_c_index / tstr_c_index   the C-index on held-out real patients of a Cox model trained
                                on the real training patients / on the synthetic records
                                (``survival.py``); tstr_ratio = tstr / trtr
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import numpy as np
import polars as pl

from inescape.modules.generation.fitting.survival import tstr

CATEGORICAL = ("sex", "histology", "location", "stage_group", "pathway")
LANDMARKS = (12.0, 24.0, 36.0, 60.0)
SENSITIVE = "event"
QUASI_IDENTIFIERS = ("sex", "location", "stage_group")  # and age
MAX_RECORDS = 4000  # each side sampled to at most this many records (brute-force distances)


Unit = Annotated[float, msgspec.Meta(ge=0, le=1)]


class Thresholds(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a report must meet for the dataset to be released without a decision."""

    max_mia_advantage: Annotated[
        Unit, msgspec.Meta(description="The highest membership-inference advantage allowed.")
    ] = 0.1
    max_closer_to_train: Annotated[
        Unit,
        msgspec.Meta(
            description="The highest share of synthetic records nearer the training part than the holdout."
        ),
    ] = 0.6
    max_identical_share: Annotated[
        Unit, msgspec.Meta(description="The highest share of synthetic records identical to a real one.")
    ] = 0.01
    min_dcr_ratio: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            le=10,
            description="The lowest ratio of distance to closest record, synthetic to holdout.",
        ),
    ] = 0.8
    max_aia_members_gain: Annotated[
        Unit,
        msgspec.Meta(
            description="The highest gain in attribute-inference accuracy on the training patients "
            "over held-out ones."
        ),
    ] = 0.1
    max_aia_advantage: Annotated[
        Unit,
        msgspec.Meta(
            description="The highest attribute-inference accuracy above guessing the majority, "
            "on held-out patients (1: not checked)."
        ),
    ] = 1.0
    min_tstr_ratio: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            le=2,
            description="The lowest train-on-synthetic over train-on-real C-index on held-out "
            "patients (0: not checked).",
        ),
    ] = 0.0


class Report(msgspec.Struct, frozen=True, kw_only=True):
    train: int
    holdout: int
    synthetic: int
    dcr_synthetic: float
    dcr_holdout: float
    closer_to_train: float
    nndr: float
    mia_advantage: float
    mia_p_value: float
    identical: int
    identical_share: float
    aia_attribute: str
    aia_accuracy: float
    aia_members_accuracy: float
    aia_baseline: float
    aia_advantage: float
    aia_members_gain: float
    marginal_fidelity: dict[str, float]
    km_distance: dict[str, float]
    trtr_c_index: float
    tstr_c_index: float
    tstr_ratio: float

    def failures(self, thresholds: Thresholds) -> list[str]:
        """The thresholds this report does not meet, each said in words."""
        found = []
        if self.mia_advantage > thresholds.max_mia_advantage:
            found.append(
                f"membership-inference advantage {self.mia_advantage:.3f} > {thresholds.max_mia_advantage} "
                f"(p = {self.mia_p_value:.2g} that chance alone reaches it at {self.train} training and "
                f"{self.holdout} held-out records)"
            )
        if self.closer_to_train > thresholds.max_closer_to_train:
            found.append(
                f"closer to training records {self.closer_to_train:.3f} > {thresholds.max_closer_to_train}"
            )
        if self.identical_share > thresholds.max_identical_share:
            found.append(
                f"identical records {self.identical_share:.3%} > {thresholds.max_identical_share:.3%}"
            )
        ratio = self.dcr_synthetic / self.dcr_holdout if self.dcr_holdout > 0 else 1.0
        if ratio < thresholds.min_dcr_ratio:
            found.append(f"distance to closest record ratio {ratio:.3f} < {thresholds.min_dcr_ratio}")
        if self.aia_members_gain > thresholds.max_aia_members_gain:
            found.append(
                f"attribute inference on training patients beats held-out ones by "
                f"{self.aia_members_gain:.3f} > {thresholds.max_aia_members_gain}"
            )
        if self.aia_advantage > thresholds.max_aia_advantage:
            found.append(
                f"attribute inference beats the majority guess by {self.aia_advantage:.3f} "
                f"> {thresholds.max_aia_advantage}"
            )
        if self.tstr_ratio < thresholds.min_tstr_ratio:
            found.append(
                f"train-on-synthetic C-index {self.tstr_c_index:.3f} is {self.tstr_ratio:.3f} of "
                f"train-on-real {self.trtr_c_index:.3f} < {thresholds.min_tstr_ratio}"
            )
        return found


def _sample(frame: pl.DataFrame, limit: int, seed: int) -> pl.DataFrame:
    return frame.sample(limit, seed=seed) if frame.height > limit else frame


def _encode(frames: list[pl.DataFrame]) -> list[np.ndarray]:
    levels = {c: sorted({v for f in frames for v in f[c].fill_null("?").to_list()}) for c in CATEGORICAL}
    out = []
    for f in frames:
        parts = [
            (f[c].fill_null("?").to_numpy()[:, None] == np.array(levels[c])[None, :]).astype(float)
            for c in CATEGORICAL
        ]
        parts.append((f["age"].fill_null(0).to_numpy() / 10.0)[:, None])
        parts.append((f["time"].fill_null(0).to_numpy() / 60.0)[:, None])
        parts.append(f["event"].fill_null(0).to_numpy().astype(float)[:, None])
        out.append(np.hstack(parts))
    return out


def _nearest(a: np.ndarray, b: np.ndarray, k: int = 1) -> np.ndarray:
    """For each row of ``a``, the distances to its ``k`` nearest rows of ``b`` (sorted)."""
    out = np.empty((a.shape[0], k))
    b2 = (b**2).sum(axis=1)
    for start in range(0, a.shape[0], 512):
        block = a[start : start + 512]
        d2 = (block**2).sum(axis=1)[:, None] + b2[None, :] - 2 * block @ b.T
        d2 = np.maximum(d2, 0.0)
        part = np.partition(d2, k - 1, axis=1)[:, :k] if b.shape[0] > k else d2
        out[start : start + 512] = np.sqrt(np.sort(part, axis=1)[:, :k])
    return out


def _quasi_identifiers(frames: list[pl.DataFrame]) -> list[np.ndarray]:
    levels = {
        c: sorted({v for f in frames for v in f[c].fill_null("?").to_list()}) for c in QUASI_IDENTIFIERS
    }
    return [
        np.hstack(
            [
                *[
                    (f[c].fill_null("?").to_numpy()[:, None] == np.array(levels[c])[None, :]).astype(float)
                    for c in QUASI_IDENTIFIERS
                ],
                (f["age"].fill_null(0).to_numpy() / 10.0)[:, None],
            ]
        )
        for f in frames
    ]


def _nearest_index(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each row of ``a``, the index of its nearest row of ``b`` (the first of equals)."""
    out = np.empty(a.shape[0], dtype=np.int64)
    b2 = (b**2).sum(axis=1)
    for start in range(0, a.shape[0], 512):
        block = a[start : start + 512]
        out[start : start + 512] = np.argmin(b2[None, :] - 2 * block @ b.T, axis=1)
    return out


def _attribute_inference(
    members: pl.DataFrame, others: pl.DataFrame, synthetic: pl.DataFrame, seed: int
) -> dict[str, float]:
    """Accuracy of guessing ``SENSITIVE`` from the synthetic record nearest on the
    quasi-identifiers, for training (members) and held-out patients, and the majority guess's."""
    shuffled = synthetic.sample(fraction=1.0, shuffle=True, seed=seed)  # equals: a random one wins
    x_m, x_o, x_s = _quasi_identifiers([members, others, shuffled])
    guesses = shuffled[SENSITIVE].cast(pl.String).fill_null("?").to_numpy()
    truth_m = members[SENSITIVE].cast(pl.String).fill_null("?").to_numpy()
    truth_o = others[SENSITIVE].cast(pl.String).fill_null("?").to_numpy()
    values, counts = np.unique(guesses, return_counts=True)
    majority = values[np.argmax(counts)]
    on_members = float((guesses[_nearest_index(x_m, x_s)] == truth_m).mean())
    on_others = float((guesses[_nearest_index(x_o, x_s)] == truth_o).mean())
    baseline = float((truth_o == majority).mean())
    return {
        "aia_accuracy": round(on_others, 4),
        "aia_members_accuracy": round(on_members, 4),
        "aia_baseline": round(baseline, 4),
        "aia_advantage": round(on_others - baseline, 4),
        "aia_members_gain": round(on_members - on_others, 4),
    }


def _advantage(members: np.ndarray, others: np.ndarray) -> float:
    """max over thresholds of P(d_member <= t) - P(d_other <= t)."""
    cuts = np.unique(np.concatenate([members, others]))
    tpr = np.searchsorted(np.sort(members), cuts, side="right") / members.size
    fpr = np.searchsorted(np.sort(others), cuts, side="right") / others.size
    return float(max(0.0, (tpr - fpr).max()))


def _advantage_p_value(advantage: float, members: int, others: int) -> float:
    """P(advantage >= d) with no membership signal: Smirnov's one-sided two-sample bound (a
    closed form; scipy, whose ``ks_2samp`` gives the exact tail, is not a dependency here)."""
    effective = members * others / (members + others)
    return float(min(1.0, np.exp(-2.0 * advantage**2 * effective)))


def _km_at(frame: pl.DataFrame, times: tuple[float, ...]) -> list[float]:
    t = frame["time"].to_numpy()
    e = frame["event"].to_numpy()
    order = np.argsort(t, kind="stable")
    t, e = t[order], e[order]
    at_risk = t.size - np.arange(t.size)
    factors = np.where(e == 1, 1 - 1 / at_risk, 1.0)
    survival = np.cumprod(factors)
    return [
        float(survival[np.searchsorted(t, x, side="right") - 1]) if (t <= x).any() else 1.0 for x in times
    ]


def _utility(real: pl.DataFrame, synthetic: pl.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    marginal = {}
    for c in CATEGORICAL:
        p = real[c].fill_null("?").value_counts(normalize=True, name="p")
        q = synthetic[c].fill_null("?").value_counts(normalize=True, name="q")
        both = p.join(q, on=c, how="full", coalesce=True).fill_null(0.0)
        marginal[c] = round(1 - 0.5 * float((both["p"] - both["q"]).abs().sum()), 4)
    km = {}
    stage = pl.col("stage_group").str.replace(r"[ABC]$", "")
    for group in ("0", "I", "II", "III", "IV"):
        r = real.filter(stage == group)
        s = synthetic.filter(stage == group)
        if r.height >= 10 and s.height >= 10:
            gaps = [abs(a - b) for a, b in zip(_km_at(r, LANDMARKS), _km_at(s, LANDMARKS), strict=True)]
            km[group] = round(max(gaps), 4)
    return marginal, km


def privacy_report(
    train: pl.DataFrame, holdout: pl.DataFrame, synthetic: pl.DataFrame, *, seed: int = 0
) -> Report:
    """The report (the module docstring defines each figure); frames are ``cohort_frame`` rows."""
    size = min(MAX_RECORDS, train.height, holdout.height)
    if size < 10 or synthetic.height < 10:
        raise ValueError("a privacy report needs at least 10 training, holdout and synthetic records")
    tr, ho = _sample(train, size, seed), _sample(holdout, size, seed + 1)
    sy = _sample(synthetic, MAX_RECORDS, seed + 2)
    x_tr, x_ho, x_sy = _encode([tr, ho, sy])
    to_train = _nearest(x_sy, x_tr, k=2)
    to_holdout = _nearest(x_sy, x_ho, k=1)[:, 0]
    holdout_to_train = _nearest(x_ho, x_tr, k=1)[:, 0]
    member = _nearest(x_tr, x_sy, k=1)[:, 0]
    non_member = _nearest(x_ho, x_sy, k=1)[:, 0]
    advantage = _advantage(member, non_member)
    identical = int((to_train[:, 0] < 1e-4).sum())  # exact up to rounding of the distances
    nndr = np.where(to_train[:, 1] > 0, to_train[:, 0] / np.maximum(to_train[:, 1], 1e-12), 1.0)
    marginal, km = _utility(train, synthetic)
    attack = _attribute_inference(tr, ho, sy, seed + 3)
    survival = tstr(_sample(train, MAX_RECORDS, seed + 4), sy, ho)
    return Report(
        train=tr.height,
        holdout=ho.height,
        synthetic=sy.height,
        dcr_synthetic=round(float(np.median(to_train[:, 0])), 4),
        dcr_holdout=round(float(np.median(holdout_to_train)), 4),
        closer_to_train=round(float((to_train[:, 0] < to_holdout).mean()), 4),
        nndr=round(float(np.median(nndr)), 4),
        mia_advantage=round(advantage, 4),
        mia_p_value=float(f"{_advantage_p_value(advantage, member.size, non_member.size):.3g}"),
        identical=identical,
        identical_share=round(identical / sy.height, 4),
        aia_attribute=SENSITIVE,
        **attack,
        marginal_fidelity=marginal,
        km_distance=km,
        **survival,
    )
