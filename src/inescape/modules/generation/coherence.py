"""Incoherences a clinician reading a generated cohort would notice, counted from its frames.

``incoherences(frames, eras)`` counts patients (or treatment rows, for eras) that break a rule of
a believable history; a coherent cohort has zero everywhere. ``endpoints(frames)`` gives each
patient's overall, cancer-specific, disease-free and progression-free survival. ``era_key``
names the setting a treatment row belongs to, as the profiles' ``treatment.eras`` do.
``nodes_and_metastases`` gives the shares a profile's node-positivity and M1 figures are
compared with.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl

from inescape.modules.generation.engine.frames import CANCER_DEATH

MONTH = 30.4375  # days, as the clinical core's survival_frame

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
    resection, a resection with R0 margins, or definitive chemoradiation with a clinical
    complete response (the generated ``clinical_complete_response``; without that column any
    definitive chemoradiation counts). Progression is for the others: a generated patient made
    disease-free (``disease_free``) recurs and never progresses."""
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
    if "clinical_complete_response" in patients.columns:
        no_response = patients.filter(pl.col("clinical_complete_response").not_())["id"]
        dcrt_only = _ids(treatments.filter((kind == "radiotherapy") & (intent == "definitive")))
        resected = _ids(treatments.filter(kind.is_in(["surgery", "endoscopic_resection"])))
        cleared = cleared.filter(
            ~(cleared.is_in(no_response.implode()) & cleared.is_in(dcrt_only.implode()))
            | cleared.is_in(resected.implode())
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
        **_states(patients),
    }


def _states(patients: pl.DataFrame) -> dict[str, int]:
    """Recurrence against progression, and the cause of death against the vital status."""
    dead = pl.col("vital_status") == "dead"
    counts = {
        "cause_of_death_without_death_or_death_without_cause": patients.filter(
            dead != pl.col("cause_of_death").is_not_null()
        ).height
    }
    if "disease_free" in patients.columns:
        free = pl.col("disease_free")
        counts |= {
            "recurrence_in_a_patient_not_made_disease_free": patients.filter(
                pl.col("recurrence_date").is_not_null() & ~free
            ).height,
            "progression_in_a_disease_free_patient": patients.filter(
                pl.col("progression_date").is_not_null() & free
            ).height,
            "progression_after_the_end_of_follow_up": patients.filter(
                pl.col("progression_date") > pl.coalesce("death_date", "last_follow_up")
            ).height,
        }
    return counts


def endpoints(frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per patient (``id``): months from diagnosis and event (1) or censoring (0) for
    os     overall survival: death from any cause
    css    cancer-specific survival: death from esophageal cancer (other deaths censor)
    dfs    disease-free survival, for patients a curative treatment left without disease:
           recurrence or death (null for the others)
    pfs    progression-free survival, for the others: progression or death (null when made
           disease-free)
    ``disease_free`` needs a generated cohort (its ``GENERATED_COLUMNS``)."""
    diagnosis = frames["conditions"].select(pl.col("patient_id").alias("id"), "diagnosis_date")
    people = frames["patients"].join(diagnosis, on="id", how="left")
    dead = pl.col("vital_status") == "dead"
    end = pl.coalesce("death_date", "last_follow_up")

    def months(day: pl.Expr) -> pl.Expr:
        return (day - pl.col("diagnosis_date")).dt.total_days() / MONTH

    free = pl.col("disease_free")
    first = {"dfs": "recurrence_date", "pfs": "progression_date"}
    within = {"dfs": free, "pfs": ~free}
    return people.select(
        "id",
        "disease_free",
        os_months=months(end),
        os_event=dead.cast(pl.Int8),
        css_months=months(end),
        css_event=(dead & (pl.col("cause_of_death") == CANCER_DEATH)).cast(pl.Int8),
        **{
            f"{k}_months": pl.when(within[k]).then(months(pl.coalesce(first[k], end))) for k in ("dfs", "pfs")
        },
        **{
            f"{k}_event": pl.when(within[k]).then((pl.col(first[k]).is_not_null() | dead).cast(pl.Int8))
            for k in ("dfs", "pfs")
        },
    )


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
