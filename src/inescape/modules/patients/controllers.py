"""``/api/v1/patients``: every access goes through RBAC, is audited (declared beside its
permission, written by the gateway before the answer: fail closed), and researchers only
ever receive de-identified records (``PatientViews``).

Each route is given by name what the module's ``bind`` built: ``patients``
(``PatientService``), ``cohorts`` (``CohortService``) and ``views`` (``PatientViews``)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from inescape.infra.openapi import errors
from inescape.kernel.errors import Invalid, NotFound, PreconditionFailed
from inescape.modules.auth.api import Audit, audit_note, principal_of
from inescape.modules.patients.api import PatientCreate, PatientUpdate
from inescape.modules.patients.research import named_patient, research_page
from inescape.modules.patients.routes.query import (
    FILTER_DEPENDENCY,
    QueryFilters,
    Saved,
    SchemeParam,
    resolved,
)
from inescape.modules.patients.schemas import (
    SUB_RESOURCES,
    BulkCreated,
    Created,
    PatientPage,
    PatientRecordView,
    RecordVersion,
)
from inescape.modules.patients.search import resolve_research_id, search_page
from inescape.modules.patients.service import PatientService
from inescape.modules.patients.views import PatientViews

RESOURCE = "patient"  # the audit events' resource type
READ, WRITE = "patients.read", "patients.write"
Patients = NamedDependency[PatientService]
Views = NamedDependency[PatientViews]


def audited(permission: str, action: str, *, one: bool = False) -> dict[str, Any]:
    """A route's permission and its audit event; ``one``: the record named by the path."""
    on = "patient_id" if one else None
    return {"permission": permission, "audit": Audit(action, RESOURCE, resource_id=on, patient_id=on)}


@post(
    "/api/v1/patients",
    opt=audited(WRITE, "patients.create"),
    status_code=201,
    tags=["patients"],
    summary="Create a whole record",
)
async def create_patient(
    request: Request[Any, Any, Any], data: JSONBody[PatientCreate], patients: Patients
) -> Created:
    patient_id = await patients.create(record=data)
    audit_note(request, resource_id=patient_id, patient_id=patient_id)
    return Created(id=patient_id)


@post(
    "/api/v1/patients/bulk",
    opt=audited(WRITE, "patients.bulk_create"),
    status_code=201,
    tags=["patients"],
    summary="Create many records in one transaction (all or nothing)",
)
async def create_patients(
    request: Request[Any, Any, Any],
    data: JSONBody[Annotated[list[PatientCreate], msgspec.Meta(min_length=1, max_length=10_000)]],
    patients: Patients,
) -> BulkCreated:
    ids = await patients.create_many(records=data)
    audit_note(request, detail=f"{len(ids)} records")
    return BulkCreated(ids=ids, count=len(ids))


@get(
    "/api/v1/patients/{patient_id:str}",
    opt=audited(READ, "patients.read", one=True),
    responses={
        200: ResponseSpec(
            PatientRecordView,
            generate_examples=False,
            description="The record (de-identified for a researcher); its ETag names its version.",
        ),
        304: ResponseSpec(
            None,
            description="Not modified: If-None-Match names the record's current ETag (no body; the "
            "ETag header again).",
        ),
    },
    tags=["patients"],
    summary="Read one record",
)
async def read_patient(
    request: Request[Any, Any, Any], patient_id: FromPath[str], patients: Patients, views: Views
) -> Response[Any]:
    viewer = principal_of(request)
    if views.deidentifies(viewer):
        patient_id = await named_patient(patient_id, patients=patients, views=views)
        audit_note(request, resource_id=patient_id, patient_id=patient_id)
    record = await patients.get(patient_id=patient_id)
    view = views.record(viewer=viewer, record=record)
    # The tag names the record the way its reader does: no internal id in a de-identified answer.
    named = view.body["research_id"] if view.deidentified else record.id
    etag = f'W/"{named}:{record.version}:{"d" if view.deidentified else "f"}"'
    if view.deidentified:
        audit_note(request, detail="de-identified")
    if request.headers.get("if-none-match") == etag:
        return Response(content=b"", status_code=304, headers={"ETag": etag})
    return Response(content=view.body, headers={"ETag": etag, "Cache-Control": "private, no-cache"})


@get(
    "/api/v1/patients",
    opt=audited(READ, "patients.list"),
    dependencies=FILTER_DEPENDENCY,
    responses=errors(404),  # cohort=<id> names no saved cohort
    tags=["patients"],
    summary="List records (filters, cursor paging)",
)
async def list_patients(
    request: Request[Any, Any, Any],
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    cursor: FromQuery[str | None] = None,
    sort: FromQuery[Literal["id", "-id"]] = "-id",
    scheme: SchemeParam = None,
    diagnosed_from: FromQuery[date | None] = None,
    diagnosed_to: FromQuery[date | None] = None,
    mrn: Annotated[
        str | None,
        QueryParameter(
            min_length=1,
            max_length=200,
            description="Exact medical record number (found through its blind index). Not for researchers.",
        ),
    ] = None,
    name: Annotated[
        str | None,
        QueryParameter(
            min_length=1,
            max_length=200,
            description=(
                "Beginnings of words of the given or family name, every one required ('kar' "
                "finds Karimi; case and accents aside). Not for researchers."
            ),
        ),
    ] = None,
    research_id: Annotated[
        str | None,
        QueryParameter(
            min_length=1, max_length=100, description="The research id of a de-identified record (R-...)."
        ),
    ] = None,
    *,
    query_filters: QueryFilters,
    saved_cohorts: Saved,
    patients: Patients,
    views: Views,
) -> PatientPage:
    filters: dict[str, Any] = {
        **await resolved(saved_cohorts, query_filters, scheme),
        "diagnosed_from": diagnosed_from,
        "diagnosed_to": diagnosed_to,
    }
    searched = {"mrn": mrn, "name": name, "research_id": research_id}
    viewer = principal_of(request)
    if views.deidentifies(viewer):
        rows, nxt = await research_page(
            viewer=viewer,
            filters=filters | searched,
            limit=limit,
            cursor=cursor,
            sort=sort,
            patients=patients,
            views=views,
        )
    else:
        items, nxt = await _identified_page(
            filters, searched, limit=limit, cursor=cursor, sort=sort, patients=patients, views=views
        )
        rows = views.summaries(viewer=viewer, items=items)
    by = [k for k, v in searched.items() if v is not None]  # the fields searched, never the values
    audit_note(request, detail=f"{len(rows)} records" + (f", searched by {', '.join(by)}" if by else ""))
    return PatientPage(items=rows, next_cursor=nxt)


async def _identified_page(
    filters: dict[str, Any],
    searched: dict[str, str | None],
    *,
    limit: int,
    cursor: str | None,
    sort: str,
    patients: PatientService,
    views: PatientViews,
) -> tuple[list[Any], str | None]:
    """The list for those who see whole records: the filters, then the searches."""
    if searched["mrn"] is not None:
        filters["mrn"] = searched["mrn"].strip()
    if not await resolve_research_id(filters, searched["research_id"], patients=patients, views=views):
        return [], None
    if searched["name"] is not None and searched["name"].strip():
        return await search_page(
            filters=filters, name=searched["name"], limit=limit, cursor=cursor, sort=sort, patients=patients
        )
    return await patients.page(filters=filters, limit=limit, cursor=cursor, sort=sort)


@patch(
    "/api/v1/patients/{patient_id:str}",
    opt=audited(WRITE, "patients.update", one=True),
    responses={200: ResponseSpec(RecordVersion, generate_examples=False, description="The new version.")},
    tags=["patients"],
    summary="Change demographics, risk factors, outcome, fitness for surgery, comorbidities",
    description=(
        "Optimistic concurrency: send the version read (body `version`, answered 409 when "
        "stale) or the ETag of the read (`If-Match`, answered 412 when stale)."
    ),
)
async def update_patient(
    request: Request[Any, Any, Any],
    patient_id: FromPath[str],
    data: JSONBody[PatientUpdate],
    patients: Patients,
) -> Response[dict[str, int]]:
    if_match = _if_match_version(request.headers.get("if-match"), patient_id)
    version = await patients.update(patient_id=patient_id, change=data, if_match=if_match)
    return Response({"version": version}, headers={"ETag": f'W/"{patient_id}:{version}:f"'})


_ETAG = re.compile(r'(?:W/)?"(?P<id>[^":]+):(?P<version>\d+):[df]"')


def _if_match_version(header: str | None, patient_id: str) -> int | None:
    """The version an ``If-Match`` ETag (as ``GET`` gives it) names; None without one or for
    ``*``; an ETag of another record or of another shape never matches (412)."""
    if header is None or header.strip() == "*":
        return None
    found = _ETAG.fullmatch(header.strip())
    if found is None or found["id"] != patient_id:
        raise PreconditionFailed(f"If-Match {header!r} is not an ETag of patient {patient_id}")
    return int(found["version"])


@delete(
    "/api/v1/patients/{patient_id:str}",
    opt=audited(WRITE, "patients.delete", one=True),
    tags=["patients"],
    summary="Soft-delete a record",
)
async def delete_patient(patient_id: FromPath[str], patients: Patients) -> None:
    await patients.delete(patient_id=patient_id)


@post(
    "/api/v1/patients/{patient_id:str}/{kind:str}",
    opt=audited(WRITE, "patients.add_{kind}", one=True),
    status_code=201,
    responses={
        201: ResponseSpec(RecordVersion, generate_examples=False, description="The record's new version.")
    },
    tags=["patients"],
    summary="Add staging, a treatment, an observation, a biomarker or a condition",
)
async def add_to_patient(
    patient_id: FromPath[str], kind: FromPath[str], data: JSONBody[dict[str, Any]], patients: Patients
) -> dict[str, int]:
    item_type = SUB_RESOURCES.get(kind)
    if item_type is None:
        raise NotFound(f"no sub-resource {kind!r}; use one of {', '.join(SUB_RESOURCES)}")
    try:
        item = msgspec.convert(data, item_type)
    except msgspec.ValidationError as exc:
        raise Invalid(
            f"The {kind} entry is invalid: {exc}", errors=[{"field": kind, "message": str(exc)}]
        ) from None
    version = await patients.add(patient_id=patient_id, kind=kind, item=item)
    return {"version": version}


ROUTES = [
    create_patient,
    create_patients,
    read_patient,
    list_patients,
    update_patient,
    delete_patient,
    add_to_patient,
]
