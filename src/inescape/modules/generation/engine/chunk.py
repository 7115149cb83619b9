"""One chunk of patients, [start, stop) of a cohort of n: every step vectorised over the chunk."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from inescape.modules.generation import codes
from inescape.modules.generation.engine import care, outcome, rows
from inescape.modules.generation.engine.eras import available
from inescape.modules.generation.engine.frames import CANCER_DEATH, OTHER_DEATH, PATIENT_COLUMNS, Cohort
from inescape.modules.generation.engine.joint import Joint
from inescape.modules.generation.engine.people import ages_and_dates, identity
from inescape.modules.generation.engine.quotas import Cell
from inescape.modules.generation.engine.risk import risk_factors
from inescape.modules.generation.engine.staging import StageTables
from inescape.modules.generation.engine.streams import Cat, Draws, Row, choose
from inescape.modules.generation.engine.tumour import biomarkers, condition
from inescape.modules.generation.profiles.model import Profile


def _joint_rows(joint: Joint, cells: list[Cell], labels: np.ndarray | None, u: np.ndarray) -> Row:
    """Each patient's joint-table row, drawn from the distribution of the patient's quota cell."""
    index = np.empty(len(u), dtype=np.int64)
    for i, cell in enumerate(cells):
        mine = slice(None) if labels is None else labels == i
        index[mine] = np.minimum(np.searchsorted(cell.cdf, u[mine], side="right"), len(cell.cdf) - 1)
    return joint.rows(index)


def _disease_free(
    profile: Profile, row: Row, care_: dict[str, Any], draws: Draws
) -> tuple[np.ndarray, np.ndarray]:
    """Who a curative treatment left without disease: an endoscopic resection, a resection with
    R0 margins, or a clinical complete response to definitive chemoradiation (the second array).
    Only they can recur; the others progress."""
    regimen = row["regimen"]
    ccr = row["histology"].lookup(
        {h: f.value for h, f in profile.treatment.dcrt_complete_response.items()}, default=1.0
    )
    complete = regimen.is_("definitive_CRT") & (draws.uniform() < ccr)
    free = regimen.is_("endoscopic_resection") | (care_["operated"] & care_["margin"].is_("R0")) | complete
    return np.asarray(free), np.asarray(complete)


def _cure_end(regimen: Cat, days: dict[str, np.ndarray], operated: np.ndarray) -> np.ndarray:
    """The day curative treatment ended: recurrences are counted after it."""
    neo = regimen.isin(codes.NEOADJUVANT)
    return np.select(
        [
            regimen.isin(["endoscopic_resection", "esophagectomy"]),
            neo & operated,
            neo,
            regimen.is_("definitive_CRT"),
        ],
        [days["first_day"], days["surgery_day"], days["neo_end_day"], days["dcrt_end_day"]],
        default=np.iinfo(np.int32).max,
    )


def _cut(days: dict[str, np.ndarray], state: dict[str, Any]) -> dict[str, np.ndarray]:
    """Steps after the end of follow-up did not happen; those under way stop at its end."""
    end, regimen = state["end_day"], state["regimen"]
    resected = state["operated"] & (days["surgery_day"] <= end)
    recurred = state["recurrence_day"]
    relapsed_first = (recurred >= 0) & (recurred < days["adjuvant_start_day"])  # no adjuvant after relapse
    adjuvant = state["adjuvant"] & resected & (days["adjuvant_start_day"] <= end) & ~relapsed_first
    stop = np.where(recurred >= days["adjuvant_start_day"], recurred, end)
    cut = {k: np.minimum(v, end) for k, v in days.items()}
    cut["adjuvant_end_day"] = np.minimum(cut["adjuvant_end_day"], stop)
    return {
        **cut,
        "resected": resected,
        "flot2": regimen.is_("FLOT") & resected & (days["flot2_start_day"] <= end),
        "adjuvant_given": adjuvant,
    }


def _patients(profile: Profile, wide: pl.DataFrame, seed: int) -> pl.DataFrame:
    dead = pl.col("dead")
    return wide.select(
        pl.col("birth_day").cast(pl.Int32).cast(pl.Date).alias("birth_date"),
        *[c for c in PATIENT_COLUMNS if c in wide.columns and c not in ("birth_date", "synthetic_effect")],
        origin=pl.lit("synthetic"),
        source=pl.lit(f"inescape-generator/{profile.name}@{profile.version}"),
        source_record_id=pl.concat_str(pl.lit(f"{seed}:"), pl.col("_index").cast(pl.String)),
        vital_status=pl.when(dead).then(pl.lit("dead")).otherwise(pl.lit("alive")),
        last_follow_up=rows.date_of("end_day"),
        death_date=pl.when(dead).then(rows.date_of("end_day")),
        cause_of_death=pl.when(dead).then(
            pl.when(pl.col("cancer_death")).then(pl.lit(CANCER_DEATH)).otherwise(pl.lit(OTHER_DEATH))
        ),
        recurrence_date=pl.when(pl.col("recurrence_day") >= 0).then(rows.date_of("recurrence_day")),
        progression_date=pl.when(pl.col("progression_day") >= 0).then(rows.date_of("progression_day")),
        clinical_complete_response=pl.when(pl.col("regimen") == "definitive_CRT").then("ccr"),
        synthetic_effect=pl.col("synthetic_effect").fill_nan(None),
    ).select(PATIENT_COLUMNS)


def _series(columns: dict[str, Any]) -> list[pl.Series]:
    return [v.series(k) if isinstance(v, Cat) else pl.Series(k, v) for k, v in columns.items()]


def _fate(
    profile: Profile,
    row: Row,
    age: np.ndarray,
    days: dict[str, np.ndarray],
    care_: dict[str, Any],
    markers: dict[str, Any],
    draws: Draws,
) -> dict[str, Any]:
    """Death (from the cancer or from other causes, whichever comes first), follow-up and
    recurrence, given the patient's care."""
    # Drawn before death: a clinical complete response lowers the hazard.
    free, complete = _disease_free(profile, row, care_, draws)
    responded = {**care_, "complete_response": complete}
    *factors, effect = outcome.multipliers(profile, row, age, responded, markers)
    change = np.where(care_["operated"], days["surgery_day"] / outcome.YEAR, 0.0)
    years, log_hazard = outcome.death_years(
        profile, row["stage_group"], (factors[0], factors[1]), change, draws
    )
    diagnosed = care_["diagnosis_day"]
    other = outcome.other_death_years(profile, row["sex"].is_("female"), age, diagnosed, years, draws)
    follow = outcome.follow_up(profile, diagnosed, np.minimum(years, other), days["first_day"], draws)
    cancer_day = np.floor(np.minimum(years, 1e5) * outcome.YEAR).astype(np.int64)
    cure_end = _cure_end(row["regimen"], days, care_["operated"])
    residual = np.asarray(row["regimen"].isin(codes.NEOADJUVANT)) & care_["operated"] & ~care_["pcr"]
    relapse = outcome.recurrence(profile, free, cure_end, cancer_day, follow["end_day"], draws, residual)
    return {
        **follow,
        **relapse,
        "cancer_death": years <= other,
        "cancer_day": cancer_day,
        "synthetic_risk": log_hazard,
        "synthetic_effect": effect,
        "disease_free": free,
        "ccr": complete,
        "cure_end_day": cure_end,
    }


def _later_lines(
    profile: Profile, row: Row, days: dict[str, np.ndarray], state: dict[str, Any], draws: Draws
) -> dict[str, Any]:
    """Progression, and the line of therapy started after it (when the patient is alive and
    followed then): on first-line palliative therapy, progression ends it and a second line may
    follow; after a curative treatment that did not leave the patient free of disease, a first
    palliative line may follow it. Each regimen is the one of its era on the day it starts."""
    palliative = row["regimen"].is_("palliative_systemic")
    failed = row["regimen"].isin(codes.CURATIVE) & ~state["disease_free"]
    death, end, cancer = state["death_day"], state["end_day"], state["cancer_day"]
    since = np.where(palliative, days["first_day"], np.minimum(state["cure_end_day"], cancer))
    fraction = draws.span(profile.recurrence.timing.low, profile.recurrence.timing.high)
    # Progression leads towards the cancer death: a fraction of the way to it, seen only if the
    # patient is alive and followed then.
    progression = since + np.floor(fraction * np.maximum(cancer - since, 0)).astype(np.int64)
    progressed = (palliative | failed) & (progression > since) & (progression < death)
    uptake = profile.treatment.second_line.value if profile.treatment.second_line else 0.0
    # After a curative pathway, not before its last planned step (FLOT's cycles after surgery).
    last = np.where(row["regimen"].is_("FLOT") & state["operated"], days["flot2_end_day"], since)
    start = np.maximum(progression + draws.days(14, 35), np.where(palliative, 0, last + 14))
    length = draws.days(42, 180)
    given = progressed & (draws.uniform() < uptake) & (start <= end) & (start < death)
    on_day = state["diagnosis_day"] + start
    second = care.second_line(profile, row, state["ici"], on_day)
    first = care.first_line_on(profile, state["palliative_wanted"], row, on_day)
    regimen = Cat(
        first.names + second.names, np.where(palliative, second.codes + len(first.names), first.codes)
    )
    return {
        "progression_day": np.where(progressed & (progression <= end), progression, -1),
        "palliative_end_day": np.where(
            palliative & progressed,
            np.minimum(days["palliative_end_day"], progression),
            days["palliative_end_day"],
        ),
        "later_given": given,
        "later_line": np.where(palliative, 2, 1),
        "later_regimen": regimen.where(given),
        "later_start_day": start,
        "later_end_day": np.minimum(start + length, end),
    }


def _wide(
    profile: Profile, joint: Joint, cells: list[Cell], labels: np.ndarray | None, draws: Draws
) -> pl.DataFrame:
    """Every patient of the chunk as one wide row: the draws happen here, in a fixed order."""
    row = _joint_rows(joint, cells, labels, draws.uniform())
    ids = draws.uuids()
    people = ages_and_dates(profile, row, draws)
    who = identity(profile, row, ids, draws)
    tumour = condition(profile, row, draws)
    risk = risk_factors(profile, row["histology"], draws)
    markers = biomarkers(profile, row, draws)
    days = care.timeline(profile, row, draws)
    operation = care.surgery(profile, row, draws)
    shifts = care.pathology(profile, row, operation["pcr"], draws)
    diagnosed = people["diagnosis_day"]
    # The first treatment is chosen at diagnosis (a record may start it as early as that day).
    therapy = care.palliative(profile, row, markers, diagnosed, draws)
    operation["adjuvant"] = operation["adjuvant"] & available(
        profile, "adjuvant nivolumab", diagnosed + days["adjuvant_start_day"]
    )
    neo = care.neoadjuvant(profile, row, diagnosed)
    wanted = therapy.pop("palliative_wanted")
    given = {**operation, **therapy, "diagnosis_day": diagnosed}
    fate = _fate(profile, row, people["age"], days, given, markers, draws)
    er_procedure = choose(draws.uniform(), profile.treatment.endoscopic_procedure.shares)
    later = _later_lines(profile, row, days, {**fate, **given, "palliative_wanted": wanted}, draws)
    stepped = {k: later[k] for k in ("palliative_end_day", "later_start_day", "later_end_day")}
    cut = _cut({**days, **stepped}, {"regimen": row["regimen"], **operation, **fate})
    columns = {
        **row,
        **people,
        **tumour,
        **{k: v for k, v in markers.items() if not k.startswith("true_")},
        **shifts,
        **given,
        **{k: v for k, v in fate.items() if k not in ("cure_end_day", "cancer_day")},
        **cut,
        "progression_day": later["progression_day"],
        "later_given": later["later_given"],
        "later_line": later["later_line"],
        "later_regimen": later["later_regimen"],
        "neo_regimen": neo,
        "er_procedure": er_procedure,
    }
    return pl.concat([who, risk, pl.DataFrame(_series(columns))], how="horizontal")


def chunk(
    profile: Profile,
    joint: Joint,
    cells: list[Cell],
    labels: np.ndarray | None,
    *,
    seed: int,
    n: int,
    start: int,
    stop: int,
    tables: StageTables,
) -> Cohort:
    draws = Draws(seed, n, start, stop)
    mine = None if labels is None else labels[start:stop]
    wide = _wide(profile, joint, cells, mine, draws).with_columns(
        _row=pl.int_range(pl.len(), dtype=pl.Int64), _index=pl.int_range(pl.len(), dtype=pl.Int64) + start
    )
    return Cohort(
        patients=_patients(profile, wide, seed),
        conditions=rows.conditions(wide),
        staging=rows.staging(wide, tables),
        biomarkers=rows.biomarkers(wide),
        treatments=rows.treatments(wide),
        observations=rows.observations(wide),
    )
