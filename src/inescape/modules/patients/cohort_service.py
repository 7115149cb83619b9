"""Cohort use cases: the stored cohort as frames, and the cohort endpoints' answers (counts,
ages, survival; JSON or SVG), cached until a record of the clinical core changes (a
generation counter every patient event bumps)."""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Callable, Coroutine, Mapping
from datetime import date
from typing import Any

import msgspec
import polars as pl
from sqlalchemy.engine import Connection

from inescape.infra.cache import ReadThrough
from inescape.infra.db import Database
from inescape.kernel.clock import Clock
from inescape.kernel.errors import Invalid
from inescape.kernel.ports import Cache
from inescape.modules.patients.analytics import (
    age_distribution,
    age_summary,
    compare_cohorts,
    hazard_ratios,
    histogram_svg,
    kaplan_meier,
    km_svg,
    log_rank,
    median_survival,
    number_at_risk,
    summarise_curve,
)
from inescape.modules.patients.cohort import (
    age_table,
    count_table,
    patient_count,
    read_cohort,
    read_for,
    survival_tallies,
)
from inescape.modules.patients.filters import combined

GENERATION_KEY = "inescape:patients:cohort-generation"
ANSWER_TTL_S = 600
AT_RISK_COLUMNS = 11  # at most this many times in the numbers-at-risk table


def at_risk_months(longest: float) -> tuple[int, ...]:
    """The times of the numbers at risk: every year across the whole follow-up (``longest``
    months), every two or more years when that would make more than ``AT_RISK_COLUMNS``."""
    step = 12 * max(1, math.ceil(max(longest, 0.0) / (12 * (AT_RISK_COLUMNS - 1))))
    return tuple(range(0, int(longest) + 1, step)) or (0,)


TOP_AGE = 90  # Safe Harbor: ages over 89 are one group
_TITLES = {
    "os": "Overall survival",
    "pfs": "Progression-free survival",
    "dfs": "Disease-free survival",
    "css": "Cancer-specific survival",
}
Filters = Mapping[str, Any]


class CohortService:
    def __init__(self, *, db: Database, cache: Cache, clock: Clock) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock
        self._reads = ReadThrough(cache)  # concurrent misses of one answer compute it once

    async def tables(self, *, filters: Filters, identifiers: bool = False) -> dict[str, pl.DataFrame]:
        """The cohort ``filters`` selects, one DataFrame per table."""
        return await self._read(filters, today=self._clock.now().date(), identifiers=identifiers)

    async def survival(self, *, filters: Filters) -> pl.DataFrame:
        """The survival frame (one row per diagnosed patient) of the cohort ``filters`` selects."""
        today = self._clock.now().date()
        frame: pl.DataFrame = await self._run(lambda c: read_for(c, today=today, wide=True, filters=filters))
        return frame

    async def count(self, *, filters: Filters) -> int:
        """How many live records ``filters`` select (one ``COUNT``; not cached)."""
        today = self._clock.now().date()
        found: int = await self._run(lambda c: patient_count(c, filters, today=today))
        return found

    async def _read(
        self, filters: Filters, *, today: date, identifiers: bool = False, **options: Any
    ) -> dict[str, pl.DataFrame]:
        frames: dict[str, pl.DataFrame] = await self._run(
            lambda c: read_cohort(c, filters, today=today, identifiers=identifiers, **options)
        )
        return frames

    async def _run(self, read: Callable[[Connection], Any]) -> Any:
        """``read`` on the synchronous connection of a session (the same code as a notebook's)."""
        async with self._db.sessions() as session:
            return await session.run_sync(lambda s: read(s.connection()))

    async def counts(
        self, *, query: str, filters: Filters, by: list[str], scheme: str | None = None
    ) -> bytes:
        """Diagnosed patients per value of the ``by`` columns, as JSON; one ``GROUP BY``."""

        async def compute() -> bytes:
            today = self._clock.now().date()
            table = await self._run(lambda c: count_table(c, filters, today=today, by=by, scheme=scheme))
            return msgspec.json.encode({"items": table.to_dicts()})

        return await self._answer(query, compute)

    async def ages(self, *, query: str, filters: Filters, svg: bool, top_coded: bool = False) -> bytes:
        """Age at diagnosis: histogram bins and summary (JSON), or the histogram (SVG);
        ``top_coded`` (de-identified data): every age over 89 counts as 90, the "90+" group.
        The database counts patients per age; the rest is worked on those counts."""

        async def compute() -> bytes:
            today = self._clock.now().date()
            table: pl.DataFrame = await self._run(lambda c: age_table(c, filters, today=today))
            if top_coded:
                table = table.with_columns(pl.col("age").clip(upper_bound=TOP_AGE))
            dist, summary = age_distribution(table, weight="n"), age_summary(table, weight="n")
            if svg:
                picture = await asyncio.to_thread(
                    histogram_svg, dist, title="Age at diagnosis", summary=summary
                )
                return picture.encode()
            return msgspec.json.encode({"bins": dist.to_dicts(), "summary": summary.to_dicts()})

        return await self._answer(query, compute)

    async def survival_curves(
        self,
        *,
        query: str,
        filters: Filters,
        group: str | None,
        confidence: float,
        svg: bool,
        endpoint: str = "os",
        scheme: str | None = None,
        reference: str | None = None,
        points: int | None = None,
    ) -> bytes:
        """Kaplan-Meier curves with bands (the steps only, ``points`` per curve at most when
        given), medians, numbers at risk, the log-rank test and hazard ratios against
        ``reference`` (JSON), or the curves with their at-risk table (SVG). The database
        tallies patients per group, time and event; nothing grows with the cohort."""

        async def compute() -> bytes:
            today = self._clock.now().date()
            tallies, excluded = await self._run(
                lambda c: survival_tallies(
                    c, filters, today=today, group=group, endpoint=endpoint, scheme=scheme
                )
            )
            if tallies.is_empty():
                raise Invalid(
                    "No diagnosed patient matches these filters.",
                    errors=[{"field": "filters", "message": "empty"}],
                )
            options: dict[str, Any] = {"group": group, "weight": "n"}
            km = kaplan_meier(tallies, confidence=confidence, **options)
            times = at_risk_months(float(tallies["time"].max() or 0.0))
            if svg:
                title = _TITLES[endpoint] + (f" by {group.replace('_', ' ')}" if group else "")
                if group:  # "squamous_cell_carcinoma" reads better as "squamous cell carcinoma"
                    km = km.with_columns(pl.col(group).cast(pl.Utf8).str.replace_all("_", " "))
                drawn = await asyncio.to_thread(km_svg, km, title=title, at_risk_times=times)
                return drawn.encode()
            compared = bool(group) and tallies[group].n_unique() >= 2 and bool((tallies["event"] > 0).any())
            test = msgspec.to_builtins(log_rank(tallies, **options)) if compared else None
            ratios = (
                hazard_ratios(tallies, reference=reference, confidence=confidence, **options).to_dicts()
                if compared
                else None
            )
            return msgspec.json.encode(
                {
                    "km": summarise_curve(km, group=group, points=points).to_dicts(),
                    "median": median_survival(tallies, confidence=confidence, **options).to_dicts(),
                    "at_risk": number_at_risk(tallies, times=list(times), **options).to_dicts(),
                    "log_rank": test,
                    "hazard_ratios": ratios,
                    "endpoint": endpoint,
                    "scheme": scheme,
                    "excluded": excluded,
                    "time_unit": "months",
                    "as_of": date.today().isoformat(),
                }
            )

        return await self._answer(query, compute)

    async def comparison(
        self,
        *,
        query: str,
        a: Filters,
        b: Filters,
        endpoint: str = "os",
        scheme: str | None = None,
        confidence: float = 0.95,
    ) -> bytes:
        """Cohort A against cohort B (``compare_cohorts``): three tallies from the database,
        A's, B's and their overlap's (both sets of filters at once), in one session."""

        async def compute() -> bytes:
            today = self._clock.now().date()

            def read(conn: Connection) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
                def tallies(filters: Filters, *, strict: bool = True) -> pl.DataFrame:
                    found, _ = survival_tallies(
                        conn, filters, today=today, endpoint=endpoint, scheme=scheme, strict=strict
                    )
                    return found

                return tallies(a), tallies(b), tallies(combined(a, b), strict=False)

            whole_a, whole_b, both = await self._run(read)
            if whole_a.is_empty() or whole_b.is_empty():
                empty = [name for name, t in (("a", whole_a), ("b", whole_b)) if t.is_empty()]
                raise Invalid(
                    f"No diagnosed patient matches cohort {' or '.join(n.upper() for n in empty)}.",
                    errors=[{"field": name, "message": "empty"} for name in empty],
                )
            answer = compare_cohorts(whole_a, whole_b, both, confidence=confidence)
            return msgspec.json.encode(
                {
                    **answer,
                    "endpoint": endpoint,
                    "scheme": scheme,
                    "time_unit": "months",
                    "as_of": today.isoformat(),
                }
            )

        return await self._answer(query, compute)

    async def _answer(self, query: str, compute: Callable[[], Coroutine[Any, Any, bytes]]) -> bytes:
        """The answer to ``query`` (a request's path and query string), computed once per
        generation of the stored records however many readers miss at the same moment."""
        generation = (await self._cache.get(GENERATION_KEY) or b"0").decode()
        digest = hashlib.sha256(query.encode()).hexdigest()[:32]
        return await self._reads.get(
            f"inescape:patients:cohort:{generation}:{digest}", compute, ttl=ANSWER_TTL_S
        )

    async def records_changed(self) -> None:
        """Every cached answer is stale now."""
        await self._cache.incr(GENERATION_KEY)


__all__ = ["GENERATION_KEY", "CohortService"]
