"""``/api/v1/cohorts``: saved cohort definitions, for every reader of patient data (audited).
A definition is checked when saved (unknown filters or values: 422 naming the field, nothing
stored); a researcher may not save one that selects on a field the de-identified view hides,
nor use one (``cohort=<id>``) that does. Its creator or an administrator may delete it."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, delete, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from inescape.kernel.errors import Forbidden, Invalid
from inescape.modules.auth.api import Audit, audit_note, principal_of, username_of
from inescape.modules.patients import filters as checks
from inescape.modules.patients.cohort_service import CohortService
from inescape.modules.patients.controllers import READ, Views
from inescape.modules.patients.research import FILTER_FIELDS, HiddenFieldFilter, refuse_hidden
from inescape.modules.patients.routes.cohort import Cohorts
from inescape.modules.patients.routes.query import Saved, within_shown_ages
from inescape.modules.patients.saved import CohortRow
from inescape.modules.patients.schemas import CohortCreate, CohortPage, SavedCohort
from inescape.modules.patients.views import PatientViews

CohortId = Annotated[str, PathParameter(description="The saved cohort's id, as saving it answered.")]
RESOURCE = "cohort"  # the audit events' resource type
ADMIN = "admin"


def _opt(action: str, *, one: bool = False) -> dict[str, Any]:
    return {"permission": READ, "audit": Audit(action, RESOURCE, resource_id="cohort_id" if one else None)}


def _usable(request: Request[Any, Any, Any], views: PatientViews, filters: dict[str, Any]) -> None:
    """A researcher's cohort selects only on what the de-identified view shows."""
    if views.deidentifies(principal_of(request)):
        refuse_hidden(filters, views, names=FILTER_FIELDS)
        within_shown_ages(filters)


async def _seen(
    request: Request[Any, Any, Any], row: CohortRow, *, views: PatientViews, cohorts: CohortService
) -> SavedCohort:
    """The cohort with the number of records it selects now, as the caller may see them."""
    try:
        _usable(request, views, row.filters)
        count: int | None = await cohorts.count(filters=row.filters)
    except (HiddenFieldFilter, Invalid):
        count = None
    return SavedCohort(
        id=row.id,
        name=row.name,
        description=row.description,
        filters=row.filters,
        created_by=row.created_by,
        created_at=row.created_at,
        patients=count,
    )


@post(
    "/api/v1/cohorts",
    opt=_opt("patients.cohort_save"),
    status_code=201,
    tags=["cohort"],
    summary="Save a cohort definition (the list's filters), usable as cohort=<id>",
)
async def save_cohort(
    request: Request[Any, Any, Any],
    data: JSONBody[CohortCreate],
    saved_cohorts: Saved,
    cohorts: Cohorts,
    views: Views,
) -> SavedCohort:
    if not data.name.strip():
        raise Invalid("name: say what the cohort is", errors=[{"field": "name", "message": "blank"}])
    filters = checks.definition(data.filters)
    _usable(request, views, filters)
    row = await saved_cohorts.create(
        name=data.name, description=data.description, filters=filters, created_by=username_of(request)
    )
    audit_note(request, resource_id=row.id, detail=data.name)
    return await _seen(request, row, views=views, cohorts=cohorts)


@get("/api/v1/cohorts", opt=_opt("patients.cohort_list"), tags=["cohort"], summary="The saved cohorts")
async def list_cohorts(
    request: Request[Any, Any, Any],
    saved_cohorts: Saved,
    cohorts: Cohorts,
    views: Views,
    limit: Annotated[int, QueryParameter(ge=1, le=100, description="At most this many cohorts")] = 50,
    cursor: Annotated[
        str | None, QueryParameter(description="The previous page's next_cursor (newest first)")
    ] = None,
) -> CohortPage:
    rows, nxt = await saved_cohorts.page(limit=limit, cursor=cursor)
    items = [await _seen(request, row, views=views, cohorts=cohorts) for row in rows]
    return CohortPage(items=items, next_cursor=nxt)


@get(
    "/api/v1/cohorts/{cohort_id:str}",
    opt=_opt("patients.cohort_read", one=True),
    tags=["cohort"],
    summary="One saved cohort, with how many records it selects now",
)
async def read_cohort(
    request: Request[Any, Any, Any],
    cohort_id: CohortId,
    saved_cohorts: Saved,
    cohorts: Cohorts,
    views: Views,
) -> SavedCohort:
    row = await saved_cohorts.get(cohort_id)
    return await _seen(request, row, views=views, cohorts=cohorts)


@delete(
    "/api/v1/cohorts/{cohort_id:str}",
    opt=_opt("patients.cohort_delete", one=True),
    tags=["cohort"],
    summary="Delete a saved cohort (its creator or an administrator)",
)
async def delete_cohort(request: Request[Any, Any, Any], cohort_id: CohortId, saved_cohorts: Saved) -> None:
    row = await saved_cohorts.get(cohort_id)
    who = principal_of(request)
    if who is not None and ADMIN not in who.roles and row.created_by != who.username:
        raise Forbidden(
            f"the cohort {cohort_id} is {row.created_by}'s: only they or an administrator delete it"
        )
    await saved_cohorts.delete(cohort_id)


SAVED_ROUTES = [save_cohort, list_cohorts, read_cohort, delete_cohort]
__all__ = ["SAVED_ROUTES"]
