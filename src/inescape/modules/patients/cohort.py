"""Cohorts as polars DataFrames, read on an open synchronous connection: for the cohort
endpoints (``CohortService`` runs them in its session) and for notebooks without a server
(``inescape.notebook.load_cohort`` opens the configured database and calls ``read_for``).

By default no identifying column leaves the database; with ``identifiers=True`` they come
decrypted (the field cipher must be set; the caller then holds identified data).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import Select, select
from sqlalchemy.engine import Connection

from inescape.modules.patients import repository as repo
from inescape.modules.patients.api import unknown_filters
from inescape.modules.patients.models import CHILDREN, patients

IDENTIFYING = (
    "given_name",
    "family_name",
    "mrn",
    "mrn_index",
    "national_id",
    "national_id_index",
    "address",
    "phone",
    "email",
    "birth_date",
    "fitness_assessed_by",  # staff identity and free text, encrypted
    "fitness_note",
)
SURVIVAL_COLUMNS = (
    "id",
    "sex",
    "birth_year",
    "histology",
    "location",
    "stage_group",
    "origin",
    "diagnosis_date",
    "vital_status",
    "last_follow_up",
    "death_date",
)


def _patient_columns(identifiers: bool) -> list[Any]:
    return [c for c in patients.c if identifiers or c.name not in IDENTIFYING]


def _frame(conn: Connection, query: Select[Any]) -> pl.DataFrame:
    result = conn.execute(query)
    names = [str(k) for k in result.keys()]  # noqa: SIM118 - a result's keys, not a dict
    rows = [tuple(r) for r in result]
    return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)


def read_cohort(
    conn: Connection,
    filters: Mapping[str, Any],
    *,
    today: date,
    identifiers: bool = False,
    tables: tuple[str, ...] = tuple(CHILDREN),
) -> dict[str, pl.DataFrame]:
    """The filtered patients and their child rows, one DataFrame per table."""
    chosen = repo.filtered(filters, today=today).with_only_columns(*_patient_columns(identifiers))
    frames = {"patients": _frame(conn, chosen)}
    ids = chosen.with_only_columns(patients.c.id).scalar_subquery()
    for name in tables:
        table = CHILDREN[name]
        frames[name] = _frame(conn, select(table).where(table.c.patient_id.in_(ids)))
    return frames


def survival_frame(patients_frame: pl.DataFrame, *, today: date) -> pl.DataFrame:
    """One row per diagnosed patient: months from diagnosis to death (event 1) or to the last
    follow-up (event 0, censored), plus the grouping columns and age at diagnosis."""
    dates = [c for c in ("diagnosis_date", "death_date", "last_follow_up") if c in patients_frame.columns]
    frame = patients_frame.with_columns(  # an empty or all-null column has no type of its own
        *[pl.col(c).cast(pl.Date) for c in dates], pl.col("birth_year").cast(pl.Int32)
    ).filter(pl.col("diagnosis_date").is_not_null())
    end = pl.coalesce(pl.col("death_date"), pl.col("last_follow_up"), pl.lit(today))
    return frame.with_columns(
        time=((end - pl.col("diagnosis_date")).dt.total_days() / 30.4375).clip(lower_bound=0.0),
        event=(pl.col("vital_status") == "dead").cast(pl.Int8),
        age=pl.col("diagnosis_date").dt.year() - pl.col("birth_year"),
    ).select(*[c for c in SURVIVAL_COLUMNS if c in frame.columns], "time", "event", "age")


def read_for(
    conn: Connection,
    *,
    today: date,
    wide: bool = False,
    identifiers: bool = False,
    filters: Mapping[str, Any] | None = None,
) -> dict[str, pl.DataFrame] | pl.DataFrame:
    """The cohort ``filters`` selects (the list endpoint's: ``histology``, ``stage_group``,
    ``sex``, ``min_age``...): one DataFrame per table, or with ``wide=True`` one row per
    patient with the survival columns (``time`` in months, ``event``) for ``kaplan_meier``."""
    unknown_filters(filters or {})
    frames = read_cohort(conn, filters or {}, today=today, identifiers=identifiers)
    return survival_frame(frames["patients"], today=today) if wide else frames
