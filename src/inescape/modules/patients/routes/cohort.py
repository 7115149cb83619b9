"""``/api/v1/patients/cohort/...``: counts, ages and survival of a filtered cohort, as JSON
and as pictures. Aggregates only (no identifier leaves), audited, cached until a record of
the clinical core changes (``CohortService``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from inescape.kernel.errors import Invalid
from inescape.modules.auth.api import audit_note, principal_of
from inescape.modules.patients.cohort_service import CohortService
from inescape.modules.patients.controllers import READ, Views, audited
from inescape.modules.patients.research import FILTER_FIELDS, OLDEST_AGE, refuse_hidden
from inescape.modules.patients.views import PatientViews

GROUPS = ("histology", "stage_group", "sex", "location", "origin", "vital_status")
Group = Literal["histology", "stage_group", "sex", "location", "origin", "vital_status"]
Endpoint = Literal["os", "pfs", "dfs", "css"]
Scheme = Literal["clinical", "pathological", "post_neoadjuvant"]
SchemeParam = Annotated[
    Scheme | None,
    QueryParameter(
        description="Stage groups of this staging (the latest assessment of that kind per patient) "
        "instead of the primary condition's stage group; unstaged patients are left out"
    ),
]
Cohorts = NamedDependency[CohortService]
# the filters ``cohort_filters`` reads from the query (the unknown-query check allows them)
FILTER_QUERY = ("sex", "histology", "location", "stage_group", "vital_status", "origin", "source")
FILTERS = {"query": (*FILTER_QUERY, "min_age", "max_age")}


def cohort_filters(
    request: Request[Any, Any, Any], views: PatientViews, groups: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The list endpoint's filters, from the query; a researcher may neither select nor group
    on a field the de-identified view hides (``HiddenFieldFilter``)."""
    filters: dict[str, Any] = {k: request.query_params.get(k) for k in FILTER_QUERY}
    for name in ("min_age", "max_age"):
        raw = request.query_params.get(name)
        if raw is not None:
            if not raw.isdigit():
                raise Invalid(
                    f"{name} is a whole number of years", errors=[{"field": name, "message": "not a number"}]
                )
            filters[name] = int(raw)
    if views.deidentifies(principal_of(request)):
        refuse_hidden({**filters, **dict.fromkeys(groups, True)}, views, names=FILTER_FIELDS)
        _within_shown_ages(filters)
    return filters


def _within_shown_ages(filters: dict[str, Any]) -> None:
    """A researcher's age bounds select by birth year without splitting the "90+" group:
    ``min_age`` up to 90 takes all of it, ``max_age`` up to 88 none of it."""
    for name, most in (("min_age", OLDEST_AGE), ("max_age", OLDEST_AGE - 2)):
        if filters.get(name) is not None and filters[name] > most:
            raise Invalid(
                f"{name} is at most {most} for de-identified data (every age over 89 is one group, 90+)",
                errors=[{"field": name, "message": f"at most {most}"}],
            )


def _query(request: Request[Any, Any, Any], views: PatientViews) -> str:
    """The answer's cache key (a de-identified answer is another answer); the audit event
    notes its query (the cohort asked for)."""
    audit_note(request, detail=request.url.query or None)
    seen = "deidentified" if views.deidentifies(principal_of(request)) else "whole"
    return f"{request.url.path}?{request.url.query}#{seen}"


@get(
    "/api/v1/patients/cohort/counts",
    opt=audited(READ, "patients.cohort_counts") | FILTERS,
    tags=["cohort"],
    summary="Counts by one or more columns",
)
async def cohort_counts(
    request: Request[Any, Any, Any],
    cohorts: Cohorts,
    views: Views,
    by: FromQuery[str] = "histology",
    scheme: SchemeParam = None,
) -> Response[bytes]:
    columns = [c.strip() for c in by.split(",") if c.strip()]
    unknown = [c for c in columns if c not in GROUPS]
    if unknown or not columns:
        raise Invalid(
            f"count by one of {', '.join(GROUPS)}", errors=[{"field": "by", "message": "unknown column"}]
        )
    filters = cohort_filters(request, views, tuple(columns))
    body = await cohorts.counts(query=_query(request, views), filters=filters, by=columns, scheme=scheme)
    return Response(body, media_type="application/json")


@get(
    "/api/v1/patients/cohort/age",
    opt=audited(READ, "patients.cohort_age") | FILTERS,
    tags=["cohort"],
    summary="Age at diagnosis: histogram and summary",
)
async def cohort_age(
    request: Request[Any, Any, Any],
    cohorts: Cohorts,
    views: Views,
    format: FromQuery[Literal["json", "svg"]] = "json",
) -> Response[bytes]:
    svg = format == "svg"
    filters = cohort_filters(request, views)
    top_coded = views.deidentifies(principal_of(request))
    body = await cohorts.ages(query=_query(request, views), filters=filters, svg=svg, top_coded=top_coded)
    return Response(body, media_type="image/svg+xml" if svg else "application/json")


@get(
    "/api/v1/patients/cohort/survival",
    opt=audited(READ, "patients.cohort_survival") | FILTERS,
    tags=["cohort"],
    summary="Kaplan-Meier survival (months) with bands, numbers at risk, medians, log-rank and hazard ratios",
)
async def cohort_survival(
    request: Request[Any, Any, Any],
    cohorts: Cohorts,
    views: Views,
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
    filters = cohort_filters(request, views, (group,) if group else ())
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


COHORT_ROUTES = [cohort_counts, cohort_age, cohort_survival]
