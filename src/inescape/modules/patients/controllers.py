"""``/api/v1/patients``: every access goes through RBAC, is audited (fail closed), and
researchers only ever receive de-identified records (``PatientViews``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter, SkipValidation

from inescape.kernel.errors import Invalid, NotFound
from inescape.modules.auth.api import GatewayApi, principal_of
from inescape.modules.patients.api import PatientCreate, PatientUpdate
from inescape.modules.patients.schemas import SUB_RESOURCES, BulkCreated, Created, PatientPage
from inescape.modules.patients.service import PatientService
from inescape.modules.patients.views import PatientViews

READ = {"permission": "patients.read"}
WRITE = {"permission": "patients.write"}
# A facade is a Protocol, which Litestar cannot check an instance against: inject it as given.
Gateway = SkipValidation[GatewayApi]
RESOURCE = "patient"


@post("/api/v1/patients", opt=WRITE, status_code=201, tags=["patients"], summary="Create a whole record")
async def create_patient(
    request: Request[Any, Any, Any], data: JSONBody[PatientCreate], patients: PatientService, gateway: Gateway
) -> Created:
    await gateway.audit_ready()
    patient_id = await patients.create(record=data)
    await gateway.audit(
        request, "patients.create", resource_type=RESOURCE, resource_id=patient_id, patient_id=patient_id
    )
    return Created(id=patient_id)


@post(
    "/api/v1/patients/bulk",
    opt=WRITE,
    status_code=201,
    tags=["patients"],
    summary="Create many records in one transaction (all or nothing)",
)
async def create_patients(
    request: Request[Any, Any, Any],
    data: JSONBody[Annotated[list[PatientCreate], msgspec.Meta(min_length=1, max_length=10_000)]],
    patients: PatientService,
    gateway: Gateway,
) -> BulkCreated:
    await gateway.audit_ready()
    ids = await patients.create_many(records=data)
    await gateway.audit(request, "patients.bulk_create", resource_type=RESOURCE, detail=f"{len(ids)} records")
    return BulkCreated(ids=ids, count=len(ids))


@get("/api/v1/patients/{patient_id:str}", opt=READ, tags=["patients"], summary="Read one record")
async def read_patient(
    request: Request[Any, Any, Any],
    patient_id: FromPath[str],
    patients: PatientService,
    views: PatientViews,
    gateway: Gateway,
) -> Response[Any]:
    record = await patients.get(patient_id=patient_id)
    view = views.record(viewer=principal_of(request), record=record)
    etag = f'W/"{record.id}:{record.version}:{"d" if view.deidentified else "f"}"'
    await gateway.audit(
        request,
        "patients.read",
        resource_type=RESOURCE,
        resource_id=patient_id,
        patient_id=patient_id,
        detail="de-identified" if view.deidentified else None,
    )
    if request.headers.get("if-none-match") == etag:
        return Response(content=b"", status_code=304, headers={"ETag": etag})
    return Response(content=view.body, headers={"ETag": etag, "Cache-Control": "private, no-cache"})


@get("/api/v1/patients", opt=READ, tags=["patients"], summary="List records (filters, cursor paging)")
async def list_patients(
    request: Request[Any, Any, Any],
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    cursor: FromQuery[str | None] = None,
    sort: FromQuery[Literal["id", "-id"]] = "-id",
    sex: FromQuery[Literal["female", "male", "other", "unknown"] | None] = None,
    histology: FromQuery[Literal["squamous_cell_carcinoma", "adenocarcinoma", "other"] | None] = None,
    location: FromQuery[Literal["cervical", "upper", "middle", "lower", "egj"] | None] = None,
    stage_group: FromQuery[str | None] = None,
    vital_status: FromQuery[Literal["alive", "dead", "unknown"] | None] = None,
    origin: FromQuery[Literal["real", "synthetic"] | None] = None,
    source: FromQuery[str | None] = None,
    min_age: Annotated[int | None, QueryParameter(ge=0, le=130)] = None,
    max_age: Annotated[int | None, QueryParameter(ge=0, le=130)] = None,
    diagnosed_from: FromQuery[date | None] = None,
    diagnosed_to: FromQuery[date | None] = None,
    *,
    patients: PatientService,
    views: PatientViews,
    gateway: Gateway,
) -> PatientPage:
    filters = {
        "sex": sex,
        "histology": histology,
        "location": location,
        "stage_group": stage_group,
        "vital_status": vital_status,
        "origin": origin,
        "source": source,
        "min_age": min_age,
        "max_age": max_age,
        "diagnosed_from": diagnosed_from,
        "diagnosed_to": diagnosed_to,
    }
    items, nxt = await patients.page(filters=filters, limit=limit, cursor=cursor, sort=sort)
    await gateway.audit(request, "patients.list", resource_type=RESOURCE, detail=f"{len(items)} records")
    return PatientPage(items=views.summaries(viewer=principal_of(request), items=items), next_cursor=nxt)


@patch(
    "/api/v1/patients/{patient_id:str}",
    opt=WRITE,
    tags=["patients"],
    summary="Change demographics, risk factors, outcome",
)
async def update_patient(
    request: Request[Any, Any, Any],
    patient_id: FromPath[str],
    data: JSONBody[PatientUpdate],
    patients: PatientService,
    gateway: Gateway,
) -> dict[str, int]:
    await gateway.audit_ready()
    version = await patients.update(patient_id=patient_id, change=data)
    await gateway.audit(
        request, "patients.update", resource_type=RESOURCE, resource_id=patient_id, patient_id=patient_id
    )
    return {"version": version}


@delete("/api/v1/patients/{patient_id:str}", opt=WRITE, tags=["patients"], summary="Soft-delete a record")
async def delete_patient(
    request: Request[Any, Any, Any], patient_id: FromPath[str], patients: PatientService, gateway: Gateway
) -> None:
    await gateway.audit_ready()
    await patients.delete(patient_id=patient_id)
    await gateway.audit(
        request, "patients.delete", resource_type=RESOURCE, resource_id=patient_id, patient_id=patient_id
    )


@post(
    "/api/v1/patients/{patient_id:str}/{kind:str}",
    opt=WRITE,
    status_code=201,
    tags=["patients"],
    summary="Add staging, a treatment, an observation, a biomarker or a condition",
)
async def add_to_patient(
    request: Request[Any, Any, Any],
    patient_id: FromPath[str],
    kind: FromPath[str],
    data: JSONBody[dict[str, Any]],
    patients: PatientService,
    gateway: Gateway,
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
    await gateway.audit_ready()
    version = await patients.add(patient_id=patient_id, kind=kind, item=item)
    await gateway.audit(
        request, f"patients.add_{kind}", resource_type=RESOURCE, resource_id=patient_id, patient_id=patient_id
    )
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
