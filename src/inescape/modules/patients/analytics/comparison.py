"""Two cohorts compared: each one's size and median, and a log-rank test and hazard ratio
between them that stays valid when they share patients.

A log-rank test assumes each patient is in one group. Two cohorts defined by filters may
overlap (A: adenocarcinoma, B: women), so the test compares the patients only in A with those
only in B and reports how many were in both; without overlap that is A against B itself.
This is what cBioPortal's group comparison calls excluding overlapping samples.

The inputs are survival tallies (``time``, ``event``, ``n``: patients per time and event): A's,
B's and their overlap's. The overlap's tallies are a part of each whole's, so "only in A" is
A's tallies less the overlap's, count by count; nothing here reads a patient.
"""

from __future__ import annotations

from typing import Any

import msgspec
import polars as pl

from inescape.modules.patients.analytics.cox import hazard_ratios
from inescape.modules.patients.analytics.log_rank import log_rank
from inescape.modules.patients.analytics.survival import median_survival

ARM = "cohort"


def _without(whole: pl.DataFrame, part: pl.DataFrame) -> pl.DataFrame:
    """``whole``'s tallies less ``part``'s (a sub-cohort of it), rows left empty dropped."""
    if part.is_empty():
        return whole
    taken = part.select("time", "event", pl.col("n").alias("taken"))
    return (
        whole.join(taken, on=["time", "event"], how="left")
        .with_columns(n=(pl.col("n") - pl.col("taken").fill_null(0)).clip(lower_bound=0))
        .filter(pl.col("n") > 0)
        .drop("taken")
    )


def _summary(tallies: pl.DataFrame, confidence: float) -> dict[str, Any]:
    if tallies.is_empty():
        return {"n": 0, "n_events": 0, "median": None, "lower": None, "upper": None}
    row = median_survival(tallies, confidence=confidence, weight="n").row(0, named=True)
    return {k: row[k] for k in ("n", "n_events", "median", "lower", "upper")}


def compare_cohorts(
    a: pl.DataFrame, b: pl.DataFrame, both: pl.DataFrame, *, confidence: float = 0.95
) -> dict[str, Any]:
    """A against B from their survival tallies and their overlap's: ``a`` and ``b`` (n,
    n_events, median with its interval, of each whole cohort), ``overlap`` (patients in both),
    ``compared`` (``"whole"`` when they share no patient, else ``"exclusive"``: only-A against
    only-B), ``only_a`` and ``only_b`` (the sizes compared), ``log_rank`` and ``hazard_ratio``
    (B against A: hazard_ratio, lower, upper, p_value), null without two non-empty groups and an
    event between them."""
    overlap = int(both["n"].sum()) if not both.is_empty() else 0
    only_a, only_b = _without(a, both), _without(b, both)
    sizes = {"only_a": int(only_a["n"].sum() or 0), "only_b": int(only_b["n"].sum() or 0)}
    stacked = pl.concat(
        [
            only_a.select("time", "event", "n").with_columns(pl.lit("A").alias(ARM)),
            only_b.select("time", "event", "n").with_columns(pl.lit("B").alias(ARM)),
        ]
    )
    test: dict[str, Any] | None = None
    ratio: dict[str, Any] | None = None
    if sizes["only_a"] and sizes["only_b"] and bool((stacked["event"] > 0).any()):
        test = msgspec.to_builtins(log_rank(stacked, group=ARM, weight="n"))
        rows = hazard_ratios(stacked, group=ARM, reference="A", confidence=confidence, weight="n")
        b_row = rows.filter(pl.col(ARM) == "B").row(0, named=True)
        ratio = {k: b_row[k] for k in ("hazard_ratio", "lower", "upper", "p_value")}
    return {
        "a": _summary(a, confidence),
        "b": _summary(b, confidence),
        "overlap": overlap,
        "compared": "whole" if overlap == 0 else "exclusive",
        **sizes,
        "log_rank": test,
        "hazard_ratio": ratio,
    }


__all__ = ["compare_cohorts"]
