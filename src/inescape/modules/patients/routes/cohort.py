"""``/api/v1/patients/cohort/...``: counts, ages and survival of a filtered cohort, as JSON
and as pictures. Aggregates only (no identifier leaves), audited, cached until a record of
the clinical core changes (``CohortService``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromQuery, QueryParameter

from inescape.infra.openapi import errors, media
from inescape.kernel.errors import Invalid
from inescape.modules.auth.api import audit_note, principal_of
from inescape.modules.patients.cohort_service import CohortService
from inescape.modules.patients.controllers import READ, Views, audited
from inescape.modules.patients.routes.query import (
    FILTER_DEPENDENCY,
    QueryFilters,
    Saved,
    SchemeParam,
    cohort_filters,
    filter_text,
)
from inescape.modules.patients.schemas import CohortAges, CohortComparison, CohortCounts, CohortSurvival
from inescape.modules.patients.views import PatientViews

GROUPS = ("histology", "stage_group", "sex", "location", "origin", "vital_status")
Group = Literal["histology", "stage_group", "sex", "location", "origin", "vital_status"]
Endpoint = Literal["os", "pfs", "dfs", "css"]
Cohorts = NamedDependency[CohortService]
COUNT_GROUPS = (*GROUPS, "treatment", "biomarker")


def _query(request: Request[Any, Any, Any], views: PatientViews) -> str:
    """The answer's cache key (a de-identified answer is another answer); the audit event
    notes its query (the cohort asked for)."""
    audit_note(request, detail=request.url.query or None)
    seen = "deidentified" if views.deidentifies(principal_of(request)) else "whole"
    return f"{request.url.path}?{request.url.query}#{seen}"


@get(
    "/api/v1/patients/cohort/counts",
    opt=audited(READ, "patients.cohort_counts"),
    dependencies=FILTER_DEPENDENCY,
    responses={
        200: ResponseSpec(
            data_container=CohortCounts, generate_examples=False, description="The counts (JSON)."
        ),
        **errors(404),
    },
    tags=["cohort"],
    summary="Counts by one or more columns",
)
async def cohort_counts(
    request: Request[Any, Any, Any],
    cohorts: Cohorts,
    views: Views,
    query_filters: QueryFilters,
    saved_cohorts: Saved,
    by: Annotated[
        str,
        QueryParameter(
            description="Columns to count by, comma-separated: " + ", ".join(COUNT_GROUPS) + " (a patient "
            "with several treatment kinds or biomarker results counts once in each; biomarker values "
            "read KIND:value)"
        ),
    ] = "histology",
    scheme: SchemeParam = None,
) -> Response[bytes]:
    columns = [c.strip() for c in by.split(",") if c.strip()]
    unknown = [c for c in columns if c not in COUNT_GROUPS]
    if unknown or not columns:
        raise Invalid(
            f"count by one of {', '.join(COUNT_GROUPS)}",
            errors=[{"field": "by", "message": "unknown column"}],
        )
    filters = await cohort_filters(request, views, saved_cohorts, query_filters, tuple(columns), scheme)
    body = await cohorts.counts(query=_query(request, views), filters=filters, by=columns, scheme=scheme)
    return Response(body, media_type="application/json")


@get(
    "/api/v1/patients/cohort/age",
    opt={
        **audited(READ, "patients.cohort_age"),
        **media({"image/svg+xml": "The histogram (format=svg)."}, json=True),
    },
    dependencies=FILTER_DEPENDENCY,
    responses={
        200: ResponseSpec(
            data_container=CohortAges,
            generate_examples=False,
            description="The histogram and summary (JSON), or the histogram (format=svg).",
        ),
        **errors(404),
    },
    tags=["cohort"],
    summary="Age at diagnosis: histogram and summary",
)
async def cohort_age(
    request: Request[Any, Any, Any],
    cohorts: Cohorts,
    views: Views,
    query_filters: QueryFilters,
    saved_cohorts: Saved,
    format: FromQuery[Literal["json", "svg"]] = "json",
    scheme: SchemeParam = None,
) -> Response[bytes]:
    svg = format == "svg"
    filters = await cohort_filters(request, views, saved_cohorts, query_filters, (), scheme)
    top_coded = views.deidentifies(principal_of(request))
    body = await cohorts.ages(query=_query(request, views), filters=filters, svg=svg, top_coded=top_coded)
    return Response(body, media_type="image/svg+xml" if svg else "application/json")


@get(
    "/api/v1/patients/cohort/survival",
    opt={
        **audited(READ, "patients.cohort_survival"),
        **media({"image/svg+xml": "The curves with the numbers at risk (format=svg)."}, json=True),
    },
    dependencies=FILTER_DEPENDENCY,
    responses={
        200: ResponseSpec(
            data_container=CohortSurvival,
            generate_examples=False,
            description="The curves and their statistics (JSON), or the curves with the numbers at risk "
            "(format=svg).",
        ),
        **errors(404),
    },
    tags=["cohort"],
    summary="Kaplan-Meier survival (months) with bands, numbers at risk, medians, log-rank and hazard ratios",
)
async def cohort_survival(
    request: Request[Any, Any, Any],
    cohorts: Cohorts,
    views: Views,
    query_filters: QueryFilters,
    saved_cohorts: Saved,
    group: FromQuery[Group | None] = None,
    format: FromQuery[Literal["json", "svg"]] = "json",
    confidence: Annotated[float, QueryParameter(gt=0.5, lt=1)] = 0.95,
    endpoint: Annotated[
        Endpoint,
        QueryParameter(
            description="os: death from any cause; pfs: recurrence, progression or death, from diagnosis; "
            "dfs: recurrence or death, from surgery; css: death from the cancer (422 when the cohort "
            "records nothing the endpoint needs)"
        ),
    ] = "os",
    scheme: SchemeParam = None,
    reference: Annotated[
        str | None,
        QueryParameter(description="The group hazard ratios compare with (default: the first in order)"),
    ] = None,
    points: Annotated[
        int | None,
        QueryParameter(ge=2, le=10_000, description="At most about this many rows per curve"),
    ] = None,
) -> Response[bytes]:
    svg = format == "svg"
    filters = await cohort_filters(
        request, views, saved_cohorts, query_filters, (group,) if group else (), scheme
    )
    body = await cohorts.survival_curves(
        query=_query(request, views),
        filters=filters,
        group=group,
        confidence=confidence,
        svg=svg,
        endpoint=endpoint,
        scheme=scheme,
        reference=reference,
        points=points,
    )
    return Response(body, media_type="image/svg+xml" if svg else "application/json")


_COHORT_TEXT = (
    "filters as a query string, URL-encoded (e.g. histology=adenocarcinoma&sex=female, or cohort=<saved "
    "id>); the filters of the cohort reads, several values comma-separated; empty: every patient"
)


@get(
    "/api/v1/patients/cohort/compare",
    opt=audited(READ, "patients.cohort_compare"),
    responses={
        200: ResponseSpec(
            data_container=CohortComparison,
            generate_examples=False,
            description="Both cohorts' sizes and medians, their overlap, and the log-rank test and hazard "
            "ratio between them (JSON).",
        ),
        **errors(404),
    },
    tags=["cohort"],
    summary="Two cohorts' survival compared: overlap, medians, log-rank and hazard ratio",
)
async def cohort_compare(
    request: Request[Any, Any, Any],
    cohorts: Cohorts,
    views: Views,
    saved_cohorts: Saved,
    a: Annotated[str, QueryParameter(description="Cohort A: " + _COHORT_TEXT)],
    b: Annotated[str, QueryParameter(description="Cohort B: " + _COHORT_TEXT)],
    endpoint: Annotated[
        Endpoint, QueryParameter(description="os, pfs, dfs or css, as for /cohort/survival")
    ] = "os",
    scheme: SchemeParam = None,
    confidence: Annotated[float, QueryParameter(gt=0.5, lt=1)] = 0.95,
) -> Response[bytes]:
    """Patients in both cohorts are counted, then left out of the test: it compares those only in
    A with those only in B (a log-rank test needs each patient in one group)."""
    chosen = [
        await cohort_filters(request, views, saved_cohorts, filter_text(name, text), (), scheme)
        for name, text in (("a", a), ("b", b))
    ]
    body = await cohorts.comparison(
        query=_query(request, views),
        a=chosen[0],
        b=chosen[1],
        endpoint=endpoint,
        scheme=scheme,
        confidence=confidence,
    )
    return Response(body, media_type="application/json")


COHORT_ROUTES = [cohort_counts, cohort_age, cohort_survival, cohort_compare]
