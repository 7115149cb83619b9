"""``/api/v1/patients/cohort/...``: counts, ages and survival of a filtered cohort, as JSON
and as pictures. Aggregates only (no identifier leaves), audited, cached until a record of
the clinical core changes."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Annotated, Any, Literal

import msgspec
import polars as pl
from litestar import Request, Response, get
from litestar.params import FromQuery, QueryParameter

from inescape.infra.cache import ReadThrough
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
from inescape.modules.patients.controllers import READ, audited

GENERATION_KEY = "inescape:patients:cohort-generation"
GROUPS = ("histology", "stage_group", "sex", "location", "origin", "vital_status")
Group = Literal["histology", "stage_group", "sex", "location", "origin", "vital_status"]
AT_RISK_MONTHS = (0, 12, 24, 36, 48, 60)


async def cohort_frame(request: Request[Any, Any, Any]) -> pl.DataFrame:
    """The survival frame of the cohort the query's filters select (list endpoint's filters)."""
    filters = {
        k: request.query_params.get(k)
        for k in ("sex", "histology", "location", "stage_group", "vital_status", "origin", "source")
    }
    for name in ("min_age", "max_age"):
        raw = request.query_params.get(name)
        if raw is not None:
            if not raw.isdigit():
                raise Invalid(
                    f"{name} is a whole number of years", errors=[{"field": name, "message": "not a number"}]
                )
            filters[name] = int(raw)
    today = request.app.state.services.clock.now().date()
    async with request.app.state.services.db.sessions() as session:
        frames = await session.run_sync(
            lambda s: read_cohort(s.connection(), filters, today=today, tables=())
        )
    return survival_frame(frames["patients"], today=today)


async def cached(request: Request[Any, Any, Any], compute: Any) -> bytes:
    """Answers keyed by the query and a generation counter that every patient event bumps,
    computed once however many readers miss at the same moment (``ReadThrough``)."""
    cache: Cache = request.app.state.services.cache
    generation = (await cache.get(GENERATION_KEY) or b"0").decode()
    digest = hashlib.sha256(f"{request.url.path}?{request.url.query}".encode()).hexdigest()[:32]
    key = f"inescape:patients:cohort:{generation}:{digest}"
    reads: ReadThrough | None = getattr(request.app.state, "patients_cohort_reads", None)
    if reads is None:  # one per app: concurrent misses of one answer compute it once
        reads = request.app.state.patients_cohort_reads = ReadThrough(cache)
    return await reads.get(key, compute, ttl=600)


def _records(frame: pl.DataFrame) -> list[dict[str, Any]]:
    return frame.to_dicts()


@get("/api/v1/patients/cohort/counts", opt=READ, tags=["cohort"], summary="Counts by one or more columns")
async def cohort_counts(request: Request[Any, Any, Any], by: FromQuery[str] = "histology") -> Response[bytes]:
    columns = [c.strip() for c in by.split(",") if c.strip()]
    unknown = [c for c in columns if c not in GROUPS]
    if unknown or not columns:
        raise Invalid(
            f"count by one of {', '.join(GROUPS)}", errors=[{"field": "by", "message": "unknown column"}]
        )

    async def compute() -> bytes:
        return msgspec.json.encode({"items": _records(counts(await cohort_frame(request), columns))})

    body = await cached(request, compute)
    await audited(request, "patients.cohort_counts", detail=request.url.query or None)
    return Response(body, media_type="application/json")


@get(
    "/api/v1/patients/cohort/age",
    opt=READ,
    tags=["cohort"],
    summary="Age at diagnosis: histogram and summary",
)
async def cohort_age(
    request: Request[Any, Any, Any], format: FromQuery[Literal["json", "svg"]] = "json"
) -> Response[bytes]:
    async def compute() -> bytes:
        frame = await cohort_frame(request)
        dist, summary = age_distribution(frame), age_summary(frame)
        if format == "svg":
            return histogram_svg(dist, title="Age at diagnosis", summary=summary).encode()
        return msgspec.json.encode({"bins": _records(dist), "summary": _records(summary)})

    body = await cached(request, compute)
    await audited(request, "patients.cohort_age", detail=request.url.query or None)
    return Response(body, media_type="image/svg+xml" if format == "svg" else "application/json")


@get(
    "/api/v1/patients/cohort/survival",
    opt=READ,
    tags=["cohort"],
    summary="Kaplan-Meier survival (months from diagnosis) with bands, numbers at risk, medians and log-rank",
)
async def cohort_survival(
    request: Request[Any, Any, Any],
    group: FromQuery[Group | None] = None,
    format: FromQuery[Literal["json", "svg"]] = "json",
    confidence: Annotated[float, QueryParameter(gt=0.5, lt=1)] = 0.95,
) -> Response[bytes]:
    async def compute() -> bytes:
        frame = await cohort_frame(request)
        if frame.is_empty():
            raise Invalid(
                "No diagnosed patient matches these filters.",
                errors=[{"field": "filters", "message": "empty"}],
            )
        km = kaplan_meier(frame, group=group, confidence=confidence)
        if format == "svg":
            title = "Overall survival" + (f" by {group.replace('_', ' ')}" if group else "")
            if group:  # "squamous_cell_carcinoma" reads better as "squamous cell carcinoma"
                km = km.with_columns(pl.col(group).cast(pl.Utf8).str.replace_all("_", " "))
            return km_svg(km, title=title, at_risk_times=AT_RISK_MONTHS).encode()
        test = None
        if group and frame[group].n_unique() >= 2:
            test = msgspec.to_builtins(log_rank(frame, group=group))
        return msgspec.json.encode(
            {
                "km": _records(km),
                "median": _records(median_survival(frame, group=group, confidence=confidence)),
                "at_risk": _records(number_at_risk(frame, times=AT_RISK_MONTHS, group=group)),
                "log_rank": test,
                "time_unit": "months",
                "as_of": date.today().isoformat(),
            }
        )

    body = await cached(request, compute)
    await audited(request, "patients.cohort_survival", detail=request.url.query or None)
    return Response(body, media_type="image/svg+xml" if format == "svg" else "application/json")


COHORT_ROUTES = [cohort_counts, cohort_age, cohort_survival]
