"""Incoherences a clinician reading a generated cohort would notice, counted from its frames.

``incoherences(frames, eras)`` counts patients (or treatment rows, for eras) that break a rule of
a believable history; a coherent cohort has zero everywhere. ``era_key`` names the setting a
treatment row belongs to, as the profiles' ``treatment.eras`` do. ``nodes_and_metastases`` gives
the shares a profile's node-positivity and M1 figures are compared with.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

_LINE = pl.col("line").fill_null(1)


def era_key() -> pl.Expr:
    """The setting of a treatment row as ``treatment.eras`` names it: "adjuvant nivolumab",
    "second-line nivolumab", or the regimen itself (first line, neoadjuvant, perioperative)."""
    regimen = pl.col("regimen")
    return (
        pl.when(pl.col("intent") == "adjuvant")
        .then(pl.concat_str(pl.lit("adjuvant "), regimen))
        .when(_LINE >= 2)
        .then(pl.concat_str(pl.lit("second-line "), regimen))
        .otherwise(regimen)
    )


def _ids(frame: pl.DataFrame) -> pl.Series:
    return frame["patient_id"].unique()


def incoherences(frames: Mapping[str, pl.DataFrame], eras: Mapping[str, date]) -> dict[str, int]:
    """Each rule and how many patients break it (treatment rows for ``regimen_before_its_era``).

    Recurrence needs a curative treatment that left the patient without disease: an endoscopic
    resection, a resection with R0 margins, or definitive chemoradiation (whose clinical
    complete response the record does not hold, so it cannot be checked here)."""
    patients, treatments, conditions = frames["patients"], frames["treatments"], frames["conditions"]
    recurred = patients.filter(pl.col("recurrence_date").is_not_null()).select(
        pl.col("id").alias("patient_id"), "recurrence_date"
    )
    kind, intent = pl.col("kind"), pl.col("intent")
    cleared = _ids(
        treatments.filter(
            (kind == "endoscopic_resection")
            | ((kind == "surgery") & (pl.col("margin") == "R0"))
            | ((kind == "radiotherapy") & (intent == "definitive"))
        )
    )
    operated = _ids(treatments.filter(kind == "surgery"))
    neoadjuvant = _ids(treatments.filter(intent.is_in(["neoadjuvant", "perioperative"])))
    # The day disease was cleared: the resection, or the end of definitive radiotherapy.
    curative_end = (
        treatments.filter(kind.is_in(["endoscopic_resection", "surgery"]) | (intent == "definitive"))
        .group_by("patient_id")
        .agg(last=pl.coalesce("end_date", "start_date").max())
    )
    early = recurred.join(curative_end, on="patient_id", how="left").filter(
        pl.col("recurrence_date") <= pl.col("last")
    )
    first = (
        treatments.filter((intent == "palliative") & (_LINE == 1))
        .group_by("patient_id")
        .agg(first_start=pl.col("start_date").min())
    )
    later = treatments.filter((intent == "palliative") & (_LINE >= 2)).join(
        first, on="patient_id", how="left"
    )
    steps = (
        treatments.filter(~intent.is_in(["palliative", "adjuvant"]))
        .group_by("patient_id")
        .agg(curative_last=pl.coalesce("end_date", "start_date").max())
    )
    during = (
        treatments.filter(intent == "palliative")
        .join(steps, on="patient_id", how="inner")
        .filter(pl.col("start_date") <= pl.col("curative_last"))
    )
    siewert = conditions.filter(
        pl.col("siewert").is_not_null()
        & ((pl.col("location") != "egj") | (pl.col("histology") != "adenocarcinoma"))
    )
    since = pl.DataFrame(
        {"key": list(eras), "since": list(eras.values())}, schema={"key": pl.String, "since": pl.Date}
    )
    dated = treatments.filter(pl.col("regimen").is_not_null()).with_columns(key=era_key())
    before_era = dated.join(since, on="key", how="inner").filter(pl.col("start_date") < pl.col("since"))
    no_surgery = recurred.filter(
        pl.col("patient_id").is_in(neoadjuvant.implode()) & ~pl.col("patient_id").is_in(operated.implode())
    )
    return {
        "recurrence_after_neoadjuvant_without_surgery": no_surgery.height,
        "recurrence_without_disease_free_state": recurred.filter(
            ~pl.col("patient_id").is_in(cleared.implode())
        ).height,
        "recurrence_before_curative_treatment_ended": early.height,
        "palliative_line_during_curative_treatment": during["patient_id"].n_unique(),
        "siewert_outside_egj_adenocarcinoma": siewert.height,
        "later_line_without_an_earlier_first_line": later.filter(
            pl.col("first_start").is_null() | (pl.col("start_date") <= pl.col("first_start"))
        )["patient_id"].n_unique(),
        "regimen_before_its_era": before_era.height,
    }


def nodes_and_metastases(frames: Mapping[str, pl.DataFrame]) -> dict[str, float]:
    """Node-positive shares by cT (M0) and by pT after upfront surgery, and each cT's share of M1."""
    staging = frames["staging"]
    clinical = staging.filter(pl.col("kind") == "clinical")
    shares: dict[str, float] = {}
    for kind, frame in (
        ("c", clinical.filter(pl.col("m") == "M0")),
        ("p", staging.filter(pl.col("kind") == "pathological")),
    ):
        by_t = frame.group_by("t").agg(positive=(pl.col("n") != "N0").mean(), count=pl.len())
        shares |= {f"node_positive.{kind}{t}": float(v) for t, v in by_t.select("t", "positive").iter_rows()}
    m1 = clinical.filter(pl.col("m") == "M1")
    shares |= {
        f"m1_share.c{t}": float(v) for t, v in m1.group_by("t").agg(share=pl.len() / m1.height).iter_rows()
    }
    return shares
