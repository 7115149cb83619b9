"""Cohorts as polars DataFrames, read on an open synchronous connection: for the cohort
endpoints (``CohortService`` runs them in its session) and for notebooks without a server
(``inescape.notebook.load_cohort`` opens the configured database and calls ``read_for``).

By default no identifying column leaves the database; with ``identifiers=True`` they come
decrypted (the field cipher must be set; the caller then holds identified data).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, NamedTuple

import numpy as np
import polars as pl
from sqlalchemy import Date, Integer, Select, case, cast, extract, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from inescape.kernel.errors import Invalid
from inescape.modules.patients import repository as repo
from inescape.modules.patients.api import unknown_filters
from inescape.modules.patients.models import CHILDREN, COHORT_CELL_COLUMNS, biomarkers, patients, treatments

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
    rows = result.fetchall()  # the driver's fetch of every row at once: a third of row by row
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
    if wide:  # only the columns survival reads, and no child table
        needed = [patients.c[c] for c in SURVIVAL_COLUMNS]
        chosen = repo.filtered(filters or {}, today=today).with_only_columns(*needed)
        return survival_frame(_frame(conn, chosen), today=today)
    return read_cohort(conn, filters or {}, today=today, identifiers=identifiers)


# --- aggregates computed where the data lives -------------------------------------------------
# The cohort endpoints and the notebook ask the database for tallies (one row per group, time
# and event; per age; per category) instead of reading patients: memory and the answer grow
# with the groups and the distinct times, not with the cohort. SQLite and PostgreSQL run the
# same statements; only the difference of two dates is spelled per dialect.

ENDPOINTS = ("os", "pfs", "dfs", "css")
SCHEMES = ("clinical", "pathological", "post_neoadjuvant")
DAYS_PER_MONTH = 30.4375
# A cause of death that names the cancer: the words, or ICD-10 C15 (malignant neoplasm of oesophagus).
_CANCER_CAUSES = ("%esophag%", "%oesophag%", "c15%")


class MissingData(Invalid):
    """The cohort lacks what an analysis needs (recurrence dates for PFS, causes for CSS...)."""


def _days(conn: Connection, end: ColumnElement[Any], start: ColumnElement[Any]) -> ColumnElement[Any]:
    if conn.dialect.name == "sqlite":  # dates are ISO text there
        return cast(func.julianday(end) - func.julianday(start), Integer)
    return cast(end - start, Integer)


def _year(conn: Connection, day: ColumnElement[Any]) -> ColumnElement[Any]:
    if conn.dialect.name == "sqlite":  # ISO text: the first four characters, not strftime's parse
        return cast(func.substr(day, 1, 4), Integer)
    # EXTRACT gives a numeric on PostgreSQL: as an integer the subtraction and the grouping stay cheap.
    return cast(extract("year", day), Integer)


_SORT_THREADS = min(4, os.cpu_count() or 1)  # SQLite's sorter: helper threads (PRAGMA threads)
# Where a GROUP BY sorts (no hash aggregation): ages and survival tallies are counted cell by
# cell there (``_streamed``), a cell being a value of the cohort index's leading columns.
STREAMED_DIALECTS = ("sqlite",)


def _scan_settings(conn: Connection) -> None:
    """Settings that suit one pass over the cohort index.

    PostgreSQL, for the rest of the transaction: its pages are read in order, yet the default
    cost counts each as a random read and so prefers the table, five times wider; and compiling
    the expressions (JIT) costs more than it saves on a million rows.

    SQLite has no hash aggregation: a ``GROUP BY`` that no index orders sorts every row (the
    survival tallies and the ages avoid it, see ``_streamed``). Its sorter may merge on helper
    threads (``PRAGMA threads``, off by default), which took a third off a million-row sort
    here; the setting stays with the connection, and only sorts use it.

    Not a columnar read of the SQLite file (ADBC, ConnectorX, DuckDB's scanner): each brings
    its own copy of SQLite, and two copies in one process lose each other's POSIX locks (the
    WAL index included), so a reader misses commits and a writer fails with "disk I/O error";
    SQLite's "How To Corrupt An SQLite Database File", section 2.2.1. Measured here with ADBC
    in parallel parts: half the time of the sorted ``GROUP BY``, and a stale snapshot."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL random_page_cost = 1.1")
        conn.exec_driver_sql("SET LOCAL jit = off")
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA threads = {_SORT_THREADS}")


def _column(name: str, scheme: str | None) -> ColumnElement[Any]:
    return repo.stage_group_of(scheme) if name == "stage_group" and scheme else patients.c[name]


# Facets a patient may have several values of (one row per kind, or per biomarker result):
# the patient counts once in each of their values.
FACETS: dict[str, tuple[Any, Callable[[], ColumnElement[Any]]]] = {
    "treatment": (treatments, lambda: treatments.c.kind),
    "biomarker": (biomarkers, lambda: biomarkers.c.kind + ":" + biomarkers.c.value),
}


def _diagnosed(filters: Mapping[str, Any], today: date) -> Select[Any]:
    return repo.filtered(filters, today=today).where(patients.c.diagnosis_date.is_not(None))


def count_table(
    conn: Connection, filters: Mapping[str, Any], *, today: date, by: Sequence[str], scheme: str | None = None
) -> pl.DataFrame:
    """Diagnosed patients per value of the ``by`` columns: ``n`` and ``share`` (of the
    patients selected), largest first (missing values are a category of their own: for a
    facet, the patients with none recorded), as one ``GROUP BY``. A patient with several
    values of a facet (``treatment``, ``biomarker``) counts once in each."""
    _scan_settings(conn)
    plain = [c for c in by if c not in FACETS]
    base = (
        _diagnosed(filters, today)
        .with_only_columns(patients.c.id.label("pid"), *[_column(c, scheme).label(c) for c in plain])
        .subquery()
    )
    joined: Any = base
    keys: list[Any] = [base.c[c] for c in plain]
    for name in by:
        if name in FACETS:
            table, value = FACETS[name]
            facet = select(table.c.patient_id, value().label(name)).distinct().subquery(name)
            joined = joined.outerjoin(facet, facet.c.patient_id == base.c.pid)
            keys.append(facet.c[name])
    query = select(*keys, func.count().label("n")).select_from(joined).group_by(*keys)
    frame = _frame(conn, query).with_columns(pl.col("n").cast(pl.Int64)).select(*by, "n")
    if len(plain) == len(by):
        total = int(frame["n"].sum())
    else:
        total = int(conn.execute(select(func.count()).select_from(base)).scalar_one())
    return frame.with_columns(share=pl.col("n") / max(total, 1)).sort(
        ["n", *by], descending=[True] + [False] * len(by), nulls_last=True
    )


def patient_count(conn: Connection, filters: Mapping[str, Any], *, today: date) -> int:
    """How many live records ``filters`` select (the list's count: diagnosed or not)."""
    chosen = repo.filtered(filters, today=today).with_only_columns(patients.c.id).subquery()
    return int(conn.execute(select(func.count()).select_from(chosen)).scalar_one())


def age_table(conn: Connection, filters: Mapping[str, Any], *, today: date) -> pl.DataFrame:
    """Diagnosed patients per age at diagnosis (``age``, ``n``): one ``GROUP BY`` (on SQLite,
    counted cell by cell without a sort, ``_streamed``)."""
    _scan_settings(conn)
    age = (_year(conn, patients.c.diagnosis_date) - patients.c.birth_year).label("age")
    if conn.dialect.name in STREAMED_DIALECTS:
        counters, _, _ = _streamed(conn, _diagnosed(filters, today), age)
        ages, n = counters[None].found() if counters else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        return pl.DataFrame({"age": ages, "n": n}, schema={"age": pl.Int64, "n": pl.Int64})
    inner = _diagnosed(filters, today).with_only_columns(age).subquery()
    query = select(inner.c.age, func.count().label("n")).group_by(inner.c.age)
    return _frame(conn, query).with_columns(pl.col("age").cast(pl.Int64), pl.col("n").cast(pl.Int64))


def survival_tallies(
    conn: Connection,
    filters: Mapping[str, Any],
    *,
    today: date,
    group: str | None = None,
    endpoint: str = "os",
    scheme: str | None = None,
    strict: bool = True,
) -> tuple[pl.DataFrame, int]:
    """The survival input as tallies: one row per group, ``time`` (months) and ``event`` with
    ``n`` patients (``kaplan_meier(..., weight="n")``), and how many diagnosed patients were
    left out (no group value, or no start for DFS).

    ``endpoint``: ``os`` death from any cause, from diagnosis; ``pfs`` recurrence or
    progression or death, from diagnosis; ``dfs`` recurrence or death, from the first surgery
    (patients who had one); ``css`` death from the cancer (other deaths censored at death).
    ``MissingData`` when the cohort records nothing the endpoint needs, unless not ``strict``
    (a part of a cohort, such as the overlap of two, may lack it where the whole does not).
    """
    if endpoint not in ENDPOINTS:
        raise Invalid(
            f"endpoint is one of {', '.join(ENDPOINTS)}", errors=[{"field": "endpoint", "message": "unknown"}]
        )
    _scan_settings(conn)
    dead = patients.c.vital_status == "dead"
    death, recurrence = patients.c.death_date, patients.c.recurrence_date
    last_seen = func.coalesce(death, patients.c.last_follow_up, literal(today, Date))
    start: ColumnElement[Any] = patients.c.diagnosis_date
    end: ColumnElement[Any]
    event: ColumnElement[Any]
    known: ColumnElement[Any]
    if endpoint in ("pfs", "dfs"):
        first: ColumnElement[Any]
        if endpoint == "pfs":  # the first of a recurrence and a progression (a patient has one kind)
            progression = patients.c.progression_date
            first = case(
                (recurrence.is_(None), progression),
                (progression.is_(None), recurrence),
                (progression < recurrence, progression),
                else_=recurrence,
            )
        else:  # disease-free survival: only those a resection left without disease can recur
            first = recurrence
        relapsed = first.is_not(None) & (death.is_(None) | (first <= death))
        end = case((relapsed, first), else_=last_seen)
        event = case((first.is_not(None) | dead, 1), else_=0)
        known = case((first.is_not(None), 1), else_=0)
    elif endpoint == "css":
        cause = func.lower(patients.c.cause_of_death)
        of_cancer = or_(*[cause.like(p) for p in _CANCER_CAUSES])
        end, event = last_seen, case((dead & of_cancer, 1), else_=0)
        known = case((dead & patients.c.cause_of_death.is_not(None), 1), else_=0)
    else:
        end, event, known = last_seen, case((dead, 1), else_=0), literal(1)
    if endpoint == "dfs":
        start = (
            select(func.min(treatments.c.start_date))
            .where(treatments.c.patient_id == patients.c.id, treatments.c.kind == "surgery")
            .scalar_subquery()
        )
    outcome = _Outcome(_days(conn, end, start), event, known)
    plain = group is None or (group in COHORT_CELL_COLUMNS and not (group == "stage_group" and scheme))
    if conn.dialect.name in STREAMED_DIALECTS and plain:
        raw, excluded, known_total = _streamed_tallies(conn, _diagnosed(filters, today), outcome, group)
    else:
        grouped = _column(group, scheme) if group else None
        raw, excluded, known_total = _grouped_tallies(conn, _diagnosed(filters, today), outcome, grouped)
    if raw.is_empty() and not excluded:  # no diagnosed patient selected
        return _tallies_frame(raw, group), 0
    if strict and endpoint != "os" and not known_total:
        missing = {
            "pfs": "recurrence or progression dates",
            "dfs": "recurrence dates",
            "css": "causes of death",
        }[endpoint]
        raise MissingData(
            f"{endpoint.upper()} needs {missing}, and none is recorded for the patients selected",
            errors=[{"field": "endpoint", "message": f"no {missing} recorded"}],
        )
    tallies = _tallies_frame(raw, group)
    if strict and endpoint == "dfs" and tallies.is_empty():
        raise MissingData(
            "DFS starts at surgery, and no patient selected has one recorded",
            errors=[{"field": "endpoint", "message": "no surgery recorded"}],
        )
    return tallies, excluded


class _Outcome(NamedTuple):
    """An endpoint's per-patient terms: whole ``days`` from start to end (NULL without a
    start), ``event`` 1 or 0, and ``known`` 1 where the data the endpoint needs is recorded."""

    days: ColumnElement[Any]
    event: ColumnElement[Any]
    known: ColumnElement[Any]


_RAW_SCHEMA = {"grouped": pl.String, "days": pl.Int64, "event": pl.Int64, "n": pl.Int64}


def _tallies_frame(raw: pl.DataFrame, group: str | None) -> pl.DataFrame:
    keys = [group] if group else []
    return (
        raw.with_columns(time=pl.col("days") / DAYS_PER_MONTH)
        .rename({"grouped": group} if group else {})
        .select(*keys, "time", pl.col("event").cast(pl.Int64), pl.col("n").cast(pl.Int64))
        .sort(*keys, "time", "event")
    )


def _raw_frame(data: Mapping[str, Any] | None, grouped: bool) -> pl.DataFrame:
    """Tallies per (``grouped``), ``days`` (none below 0) and ``event``: ``n`` patients."""
    schema = {k: v for k, v in _RAW_SCHEMA.items() if grouped or k != "grouped"}
    return pl.DataFrame(data or {}, schema=schema)


def _grouped_tallies(
    conn: Connection, chosen: Select[Any], outcome: _Outcome, grouped: ColumnElement[Any] | None
) -> tuple[pl.DataFrame, int, int]:
    """The tallies as one ``GROUP BY`` over group, days and event (PostgreSQL hashes it), how
    many patients were left out (no group value, or no days), and how many have ``known``."""
    columns = [outcome.days.label("days"), outcome.event.label("event"), outcome.known.label("known")]
    if grouped is not None:
        columns.append(grouped.label("grouped"))
    inner = chosen.with_only_columns(*columns).subquery()
    keys = [inner.c.days, inner.c.event] + ([inner.c.grouped] if grouped is not None else [])
    query = select(*keys, func.count().label("n"), func.sum(inner.c.known).label("known")).group_by(*keys)
    raw = _frame(conn, query)
    if raw.is_empty():
        return _raw_frame(None, grouped is not None), 0, 0
    # a column of NULLs only (no patient with a surgery, for DFS) has no type of its own
    raw = raw.with_columns(pl.col("days", "event").cast(pl.Int64))
    usable = pl.col("days").is_not_null() & (pl.col("grouped").is_not_null() if grouped is not None else True)
    tallied = (
        raw.filter(usable)
        .with_columns(pl.col("days").clip(lower_bound=0))
        .group_by(*(["grouped"] if grouped is not None else []), "days", "event")
        .agg(pl.col("n").sum().cast(pl.Int64))
    )
    excluded = int(raw.filter(~usable)["n"].sum())
    return _raw_frame(tallied.to_dict(), grouped is not None), excluded, int(raw["known"].sum() or 0)


def _streamed_tallies(
    conn: Connection, chosen: Select[Any], outcome: _Outcome, group: str | None
) -> tuple[pl.DataFrame, int, int]:
    """``_grouped_tallies`` on SQLite, without sorting the cohort (``_streamed``): each
    patient's ``days * 2 + event``, counted per group."""
    packed = func.max(outcome.days, 0) * 2 + outcome.event  # SQLite's max(x, 0): NULL when x is
    counters, excluded, known = _streamed(conn, chosen, packed, key=group, known=outcome.known)
    parts = []
    for name, counter in counters.items():
        values, n = counter.found()
        part = {"days": values // 2, "event": values % 2, "n": n}
        parts.append(_raw_frame(part | ({"grouped": [name] * len(n)} if group else {}), group is not None))
    return (pl.concat(parts) if parts else _raw_frame(None, group is not None)), excluded, known


class _Counter:
    """How often each integer came, over a range grown as values arrive (numpy's bincount)."""

    def __init__(self) -> None:
        self.low, self.counts = 0, np.zeros(0, dtype=np.int64)

    def add(self, values: np.ndarray) -> None:
        low, high = int(values.min()), int(values.max()) + 1
        if len(self.counts):
            low, high = min(low, self.low), max(high, self.low + len(self.counts))
        if low != self.low or high - low != len(self.counts):
            grown = np.zeros(high - low, dtype=np.int64)
            grown[self.low - low : self.low - low + len(self.counts)] = self.counts
            self.low, self.counts = low, grown
        self.counts += np.bincount(values - low, minlength=high - low)

    def found(self) -> tuple[np.ndarray, np.ndarray]:
        """The values that came, ascending, and how often each did."""
        at = np.flatnonzero(self.counts)
        return at + self.low, self.counts[at]


def _streamed(
    conn: Connection,
    chosen: Select[Any],
    value: ColumnElement[Any],
    *,
    key: str | None = None,
    known: ColumnElement[Any] | None = None,
) -> tuple[dict[str | None, _Counter], int, int]:
    """How many patients ``chosen`` selects have each integer ``value``, per value of ``key``
    (one of ``COHORT_CELL_COLUMNS``), on SQLite without sorting them; how many were left out (no
    ``value``, or no ``key``); and how many have ``known``.

    SQLite has no hash aggregation: a ``GROUP BY`` of a value every patient computes sorts every
    patient, which was three quarters of a million-patient survival answer. A ``GROUP BY`` on
    the leading columns of the cohort index (``COHORT_CELL_COLUMNS``) instead walks the index in its
    own order and sorts nothing. Each of its cells (histology, stage, sex, location, vital
    status, origin) comes back as one row holding its patients' values as one text list
    (``group_concat``; a NULL is left out of it), which numpy parses and counts before the next
    cell is read: memory holds one cell's list and the counts, not the cohort. On a million
    patients here, survival's tally took 0.55 s against 0.9 s for the sorted ``GROUP BY``."""
    cells = [patients.c[c] for c in COHORT_CELL_COLUMNS]
    terms = [value.label("value")] + ([known.label("known")] if known is not None else [])
    inner = chosen.with_only_columns(*cells, *terms).subquery()
    keys = [inner.c[c] for c in COHORT_CELL_COLUMNS]
    query = select(
        *keys,
        func.count().label("n"),
        func.group_concat(inner.c.value).label("value"),  # each reference evaluates it again
        *([func.sum(inner.c.known).label("known")] if known is not None else []),
    ).group_by(*keys)
    at = COHORT_CELL_COLUMNS.index(key) if key else None
    counters: dict[str | None, _Counter] = {}
    left_out = known_total = 0
    for row in conn.execute(query):  # one row per cell, read as SQLite walks the index
        known_total += int(row.known or 0) if known is not None else 0
        values = np.fromstring(row.value or "", dtype=np.int64, sep=",")
        name = row[at] if at is not None else None
        if at is not None and name is None:
            left_out += int(row.n)
            continue
        left_out += int(row.n) - len(values)
        if len(values):
            counters.setdefault(name, _Counter()).add(values)
    return counters, left_out, known_total
