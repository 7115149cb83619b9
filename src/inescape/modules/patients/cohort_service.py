"""Cohort use cases: the stored cohort as frames, and the cohort endpoints' answers (counts,
ages, survival; JSON or SVG), cached until a record of the clinical core changes (a
generation counter every patient event bumps)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine, Mapping
from datetime import date
from typing import Any

import msgspec
import polars as pl

from inescape.infra.cache import ReadThrough
from inescape.infra.db import Database
from inescape.kernel.clock import Clock
from inescape.kernel.errors import Invalid
from inescape.kernel.ports import Cache
from inescape.modules.patients.analytics import (
    age_distribution,
    age_summary,
    counts,
    histogram_svg,
    kaplan_meier,
    km_svg,
    log_rank,
    median_survival,
    number_at_risk,
)
from inescape.modules.patients.cohort import read_cohort, survival_frame

GENERATION_KEY = "inescape:patients:cohort-generation"
ANSWER_TTL_S = 600
AT_RISK_MONTHS = (0, 12, 24, 36, 48, 60)
TOP_AGE = 90  # Safe Harbor: ages over 89 are one group
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
        frames = await self._read(filters, today=today, tables=())
        return survival_frame(frames["patients"], today=today)

    async def _read(
        self, filters: Filters, *, today: date, identifiers: bool = False, **options: Any
    ) -> dict[str, pl.DataFrame]:
        async with self._db.sessions() as session:
            frames: dict[str, pl.DataFrame] = await session.run_sync(
                lambda s: read_cohort(
                    s.connection(), filters, today=today, identifiers=identifiers, **options
                )
            )
        return frames

    async def counts(self, *, query: str, filters: Filters, by: list[str]) -> bytes:
        """Patients per value of the ``by`` columns, as JSON."""

        async def compute() -> bytes:
            frame = await self.survival(filters=filters)
            return msgspec.json.encode({"items": counts(frame, by).to_dicts()})

        return await self._answer(query, compute)

    async def ages(self, *, query: str, filters: Filters, svg: bool, top_coded: bool = False) -> bytes:
        """Age at diagnosis: histogram bins and summary (JSON), or the histogram (SVG);
        ``top_coded`` (de-identified data): every age over 89 counts as 90, the "90+" group."""

        async def compute() -> bytes:
            frame = await self.survival(filters=filters)
            if top_coded:
                frame = frame.with_columns(pl.col("age").clip(upper_bound=TOP_AGE))
            dist, summary = age_distribution(frame), age_summary(frame)
            if svg:
                return histogram_svg(dist, title="Age at diagnosis", summary=summary).encode()
            return msgspec.json.encode({"bins": dist.to_dicts(), "summary": summary.to_dicts()})

        return await self._answer(query, compute)

    async def survival_curves(
        self, *, query: str, filters: Filters, group: str | None, confidence: float, svg: bool
    ) -> bytes:
        """Kaplan-Meier curves with bands, medians, numbers at risk and the log-rank test
        (JSON), or the curves with their at-risk table (SVG)."""

        async def compute() -> bytes:
            frame = await self.survival(filters=filters)
            if frame.is_empty():
                raise Invalid(
                    "No diagnosed patient matches these filters.",
                    errors=[{"field": "filters", "message": "empty"}],
                )
            km = kaplan_meier(frame, group=group, confidence=confidence)
            if svg:
                title = "Overall survival" + (f" by {group.replace('_', ' ')}" if group else "")
                if group:  # "squamous_cell_carcinoma" reads better as "squamous cell carcinoma"
                    km = km.with_columns(pl.col(group).cast(pl.Utf8).str.replace_all("_", " "))
                return km_svg(km, title=title, at_risk_times=AT_RISK_MONTHS).encode()
            test = None
            if group and frame[group].n_unique() >= 2:
                test = msgspec.to_builtins(log_rank(frame, group=group))
            return msgspec.json.encode(
                {
                    "km": km.to_dicts(),
                    "median": median_survival(frame, group=group, confidence=confidence).to_dicts(),
                    "at_risk": number_at_risk(frame, times=AT_RISK_MONTHS, group=group).to_dicts(),
                    "log_rank": test,
                    "time_unit": "months",
                    "as_of": date.today().isoformat(),
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
