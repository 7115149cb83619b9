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
  identical                     synthetic records equal to a training record on every column
Utility
  marginal_fidelity             1 - total variation distance of each categorical column
  km_distance                   largest gap between the real and synthetic Kaplan-Meier
                                survival at 1, 2, 3 and 5 years, by clinical stage
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import numpy as np
import polars as pl

CATEGORICAL = ("sex", "histology", "location", "stage_group", "pathway")
LANDMARKS = (12.0, 24.0, 36.0, 60.0)
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


class Report(msgspec.Struct, frozen=True, kw_only=True):
    train: int
    holdout: int
    synthetic: int
    dcr_synthetic: float
    dcr_holdout: float
    closer_to_train: float
    nndr: float
    mia_advantage: float
    identical: int
    identical_share: float
    marginal_fidelity: dict[str, float]
    km_distance: dict[str, float]

    def failures(self, thresholds: Thresholds) -> list[str]:
        """The thresholds this report does not meet, each said in words."""
        found = []
        if self.mia_advantage > thresholds.max_mia_advantage:
            found.append(
                f"membership-inference advantage {self.mia_advantage:.3f} > {thresholds.max_mia_advantage}"
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


def _advantage(members: np.ndarray, others: np.ndarray) -> float:
    """max over thresholds of P(d_member <= t) - P(d_other <= t)."""
    cuts = np.unique(np.concatenate([members, others]))
    tpr = np.searchsorted(np.sort(members), cuts, side="right") / members.size
    fpr = np.searchsorted(np.sort(others), cuts, side="right") / others.size
    return float(max(0.0, (tpr - fpr).max()))


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
    identical = int((to_train[:, 0] < 1e-4).sum())  # exact up to rounding of the distances
    nndr = np.where(to_train[:, 1] > 0, to_train[:, 0] / np.maximum(to_train[:, 1], 1e-12), 1.0)
    marginal, km = _utility(train, synthetic)
    return Report(
        train=tr.height,
        holdout=ho.height,
        synthetic=sy.height,
        dcr_synthetic=round(float(np.median(to_train[:, 0])), 4),
        dcr_holdout=round(float(np.median(holdout_to_train)), 4),
        closer_to_train=round(float((to_train[:, 0] < to_holdout).mean()), 4),
        nndr=round(float(np.median(nndr)), 4),
        mia_advantage=round(_advantage(member, non_member), 4),
        identical=identical,
        identical_share=round(identical / sy.height, 4),
        marginal_fidelity=marginal,
        km_distance=km,
    )
