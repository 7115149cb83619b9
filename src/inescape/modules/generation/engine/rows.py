"""The child frames of a chunk, built from one wide frame with a row per patient (``wide``).

``wide`` holds each step's day (after diagnosis, already cut at the end of follow-up) and flags
saying which steps happened; a child row is a filter and a select, never a Python loop. Rows are
ordered by patient, then by the order of care, whatever the chunking.
"""

from __future__ import annotations

import polars as pl

from inescape.modules.generation import codes
from inescape.modules.generation.engine.care import REGIMEN_AGENTS
from inescape.modules.generation.engine.frames import SCHEMAS, STRING_LIST
from inescape.modules.generation.engine.staging import StageTables

_PROCEDURE = {  # approach by epicentre: thoracic tumours need a neck anastomosis (McKeown)
    "cervical": "McKeown esophagectomy",
    "upper": "McKeown esophagectomy",
    "middle": "McKeown esophagectomy",
    "lower": "Ivor Lewis esophagectomy",
    "egj": "Ivor Lewis esophagectomy",
}


def date_of(day_column: str) -> pl.Expr:
    """A day counted from the diagnosis as a calendar date."""
    return (pl.col("diagnosis_day") + pl.col(day_column)).cast(pl.Int32).cast(pl.Date)


def _finish(name: str, parts: list[pl.DataFrame]) -> pl.DataFrame:
    schema = SCHEMAS[name]
    shaped = [
        part.select(
            "_row",
            "_slot",
            *[(pl.col(c) if c in part.columns else pl.lit(None)).cast(t).alias(c) for c, t in schema.items()],
        )
        for part in parts
    ]
    return pl.concat(shaped).sort("_row", "_slot", maintain_order=True).drop("_row", "_slot")


def conditions(wide: pl.DataFrame) -> pl.DataFrame:
    part = wide.select(
        "_row",
        pl.lit(0).alias("_slot"),
        pl.col("id").alias("patient_id"),
        pl.col("diagnosis_day").cast(pl.Int32).cast(pl.Date).alias("diagnosis_date"),
        "histology",
        "morphology_code",
        "topography_code",
        "location",
        "siewert",
        "grade",
        "tumour_length_cm",
    )
    return _finish("conditions", [part])


def _rows(frame: pl.DataFrame, slot: int, **columns: object) -> pl.DataFrame:
    """One child row per row of ``frame``: plain values become literals, expressions are read."""
    values = {k: v if isinstance(v, pl.Expr) else pl.lit(v) for k, v in columns.items()}
    return frame.select("_row", "patient_id", _slot=pl.lit(slot), **values)


def _pathological(resected: pl.DataFrame, tables: StageTables) -> pl.DataFrame:
    """pTNM after upfront surgery (grade and location matter), ypTNM after neoadjuvant therapy."""
    day = date_of("pathology_day")
    upfront = resected.filter(pl.col("regimen") == "esophagectomy")
    p_tnm = _rows(
        upfront,
        1,
        scheme=pl.col("scheme"),
        grade=pl.col("grade"),
        location=pl.col("location"),
        t=pl.col("p_t"),
        n=pl.col("p_n"),
        m="M0",
        kind="pathological",
        assessed_on=day,
    )
    p_tnm = p_tnm.join(tables.pathological, on=["scheme", "t", "n", "m", "grade", "location"], how="left")
    after = resected.filter(pl.col("regimen") != "esophagectomy")
    yp_tnm = _rows(
        after, 1, t=pl.col("yp_t"), n=pl.col("yp_n"), m="M0", kind="post_neoadjuvant", assessed_on=day
    )
    yp_tnm = yp_tnm.join(tables.post_neoadjuvant, on=["t", "n", "m"], how="left")
    if p_tnm["stage_group"].null_count() or yp_tnm["stage_group"].null_count():
        raise RuntimeError("a pathological T/N/G/L combination missing from the AJCC lookup")
    return pl.concat([p_tnm.drop("scheme"), yp_tnm], how="diagonal")


def staging(wide: pl.DataFrame, tables: StageTables) -> pl.DataFrame:
    scheme = pl.col("histology").replace_strict(codes.STAGING_SCHEME).alias("scheme")
    base = wide.with_columns(scheme, pl.col("id").alias("patient_id"))
    clinical = _rows(
        base,
        0,
        t=pl.col("t"),
        n=pl.col("n"),
        m=pl.col("m"),
        stage_group=pl.col("stage_group"),
        kind="clinical",
        assessed_on=date_of("staging_day"),
    )
    method = pl.lit("AJCC 8th edition").alias("method")
    parts = (clinical, _pathological(base.filter("resected"), tables))
    return _finish("staging", [part.with_columns(method) for part in parts])


def biomarkers(wide: pl.DataFrame) -> pl.DataFrame:
    tested = wide.filter("tested").with_columns(pl.col("id").alias("patient_id"))
    day = date_of("biomarker_day")
    cps, tps = pl.col("pdl1_cps").cast(pl.String), pl.col("pdl1_tps").cast(pl.String)
    parts = [
        _rows(
            tested.filter(pl.col("her2").is_not_null()), 0, kind="her2", value=pl.col("her2"), measured_on=day
        ),
        _rows(tested.filter(pl.col("pdl1_cps") >= 0), 1, kind="pdl1_cps", value=cps, measured_on=day),
        _rows(tested.filter(pl.col("pdl1_tps") >= 0), 1, kind="pdl1_tps", value=tps, measured_on=day),
        _rows(tested, 2, kind="msi", value=pl.col("msi"), measured_on=day),
    ]
    return _finish("biomarkers", parts)


def observations(wide: pl.DataFrame) -> pl.DataFrame:
    frame = wide.with_columns(pl.col("id").alias("patient_id"))
    day = date_of("staging_day")
    ecog = _rows(
        frame,
        0,
        code=codes.ECOG_LOINC,
        value=pl.col("ecog").cast(pl.Float64),
        unit="{score}",
        observed_on=day,
    )
    known = frame.filter(pl.col("rf_bmi").is_not_null())
    bmi = _rows(known, 1, code=codes.BMI_LOINC, value=pl.col("rf_bmi"), unit="kg/m2", observed_on=day)
    return _finish("observations", [ecog, bmi])


def _agents(names: list[str]) -> pl.Expr:
    return pl.lit(pl.Series([names], dtype=STRING_LIST)).first()


def _systemic(
    frame: pl.DataFrame, slot: int, intent: str, regimen: str, days: tuple[str, str]
) -> pl.DataFrame:
    return _rows(
        frame,
        slot,
        kind="systemic",
        intent=intent,
        regimen=regimen,
        agents=_agents(REGIMEN_AGENTS[regimen]),
        start_date=date_of(days[0]),
        end_date=date_of(days[1]),
    )


def _radiotherapy(
    frame: pl.DataFrame, intent: str, regimen: str, dose: tuple[float, int], end: str
) -> pl.DataFrame:
    return _rows(
        frame,
        1,
        kind="radiotherapy",
        intent=intent,
        regimen=regimen,
        dose_gy=dose[0],
        fractions=dose[1],
        start_date=date_of("first_day"),
        end_date=date_of(end),
    )


def _surgery(resected: pl.DataFrame) -> pl.DataFrame:
    neo = pl.col("regimen") != "esophagectomy"
    return _rows(
        resected,
        3,
        kind="surgery",
        intent="definitive",
        procedure=pl.col("location").replace_strict(_PROCEDURE),
        margin=pl.col("margin"),
        start_date=date_of("surgery_day"),
        pathologic_complete_response=pl.when(neo).then("pcr"),
        tumour_regression_grade=pl.when(neo).then("trg"),
    )


def _first_line(palliative: pl.DataFrame) -> pl.DataFrame:
    agents = pl.DataFrame({"regimen": list(REGIMEN_AGENTS), "agents": list(REGIMEN_AGENTS.values())})
    rows = _rows(
        palliative,
        0,
        kind="systemic",
        intent="palliative",
        regimen=pl.col("palliative_regimen"),
        line=1,
        start_date=date_of("first_day"),
        end_date=date_of("palliative_end_day"),
    )
    return rows.join(agents, on="regimen", how="left")


def _later_line(frame: pl.DataFrame) -> pl.DataFrame:
    """The line started at progression: a second line, or a first palliative line after a
    curative treatment that did not clear the disease."""
    agents = pl.DataFrame({"regimen": list(REGIMEN_AGENTS), "agents": list(REGIMEN_AGENTS.values())})
    rows = _rows(
        frame,
        6,
        kind="systemic",
        intent="palliative",
        regimen=pl.col("later_regimen"),
        line=pl.col("later_line"),
        start_date=date_of("later_start_day"),
        end_date=date_of("later_end_day"),
    )
    return rows.join(agents, on="regimen", how="left")


def _neoadjuvant(by: dict[str, pl.DataFrame]) -> list[pl.DataFrame]:
    """CROSS, FLOT and what their pathways gave before them: cisplatin/fluorouracil with
    50.4 Gy (CALGB 9781, Tepper JCO 2008) and ECF before and after surgery (MAGIC)."""
    era = pl.col("neo_regimen")
    cross, before_cross = (by["CROSS"].filter(era == "CROSS"), by["CROSS"].filter(era != "CROSS"))
    flot, ecf = by["FLOT"].filter(era == "FLOT"), by["FLOT"].filter(era != "FLOT")
    return [
        _systemic(cross, 0, "neoadjuvant", "CROSS", ("first_day", "neo_end_day")),
        _radiotherapy(cross, "neoadjuvant", "CROSS", (41.4, 23), "neo_end_day"),  # CROSS: 41.4 Gy in 23 fx
        _systemic(before_cross, 0, "neoadjuvant", "cisplatin/fluorouracil", ("first_day", "neo_end_day")),
        _radiotherapy(before_cross, "neoadjuvant", "neoadjuvant CRT", (50.4, 28), "neo_end_day"),
        _systemic(flot, 0, "perioperative", "FLOT", ("first_day", "neo_end_day")),
        _systemic(ecf, 0, "perioperative", "ECF", ("first_day", "neo_end_day")),
        _systemic(ecf.filter("flot2"), 4, "perioperative", "ECF", ("flot2_start_day", "flot2_end_day")),
    ]


def treatments(wide: pl.DataFrame) -> pl.DataFrame:
    w = wide.with_columns(pl.col("id").alias("patient_id"))
    by = {name: w.filter(pl.col("regimen") == name) for name in codes.PATHWAYS}
    cross, dcrt = by["CROSS"], by["definitive_CRT"]
    parts = [
        _rows(
            by["endoscopic_resection"],
            0,
            kind="endoscopic_resection",
            intent="definitive",
            procedure=pl.col("er_procedure"),
            start_date=date_of("first_day"),
        ),
        *_neoadjuvant(by),
        _systemic(dcrt, 0, "definitive", "cisplatin/fluorouracil", ("first_day", "dcrt_end_day")),
        _radiotherapy(
            dcrt, "definitive", "definitive CRT", (50.4, 28), "dcrt_end_day"
        ),  # RTOG 85-01 era dose
        _surgery(w.filter("resected")),
        _systemic(
            cross.filter("adjuvant_given"),
            5,
            "adjuvant",
            "nivolumab",
            ("adjuvant_start_day", "adjuvant_end_day"),
        ),
        _first_line(by["palliative_systemic"]),
        _later_line(w.filter("later_given")),
    ]
    frame = _finish("treatments", parts)
    return frame.with_columns(pl.col("agents").fill_null(pl.lit([], dtype=STRING_LIST)))
