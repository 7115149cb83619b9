"""``/api/v1/patients``: every access goes through RBAC, is audited (fail closed), and
researchers only ever receive de-identified records."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from inescape.modules.auth.api import audit_request, deidentifier_of, for_viewer, principal_of
from inescape.modules.patients.schemas import (
    Biomarker,
    Condition,
    Observation,
    PatientCreate,
    PatientUpdate,
    Staging,
    Treatment,
)
from inescape.modules.patients.service import PatientService

READ = {"permission": "patients.read"}
WRITE = {"permission": "patients.write"}
SUB_RESOURCES: dict[str, type[msgspec.Struct]] = {
    "staging": Staging,
    "treatments": Treatment,
    "observations": Observation,
    "biomarkers": Biomarker,
    "conditions": Condition,
}


class Created(msgspec.Struct, frozen=True, kw_only=True):
    id: str


class BulkCreated(msgspec.Struct, frozen=True, kw_only=True):
    ids: list[str]
    count: int


class PatientPage(msgspec.Struct, frozen=True, kw_only=True):
    items: list[dict[str, Any]]
    next_cursor: str | None


def service_of(request: Request[Any, Any, Any]) -> PatientService:
    svc: PatientService = request.app.state.services.extensions["patients"]
    return svc


async def audited(
    request: Request[Any, Any, Any],
    action: str,
    *,
    patient_id: str | None = None,
    outcome: str = "success",
    detail: str | None = None,
) -> None:
    """Write the audit event; if the audit store is down this raises (503): no unaudited access."""
    await audit_request(
        request,
        action,
        resource_type="patient",
        resource_id=patient_id,
        patient_id=patient_id,
        outcome=outcome,
        detail=detail,
    )


async def audit_store_ready(request: Request[Any, Any, Any]) -> None:
    """Before a write: refuse (503) while the audit store is down, so no write goes unaudited."""
    from inescape.kernel.errors import Unavailable

    try:
        await request.app.state.services.documents.ping()
    except Exception as exc:
        raise Unavailable(
            "The audit log is unreachable; patient data cannot be changed now.",
            backend="audit",
            retry_after=5,
        ) from exc


@post("/api/v1/patients", opt=WRITE, status_code=201, tags=["patients"], summary="Create a whole record")
async def create_patient(request: Request[Any, Any, Any], data: JSONBody[PatientCreate]) -> Created:
    await audit_store_ready(request)
    services = request.app.state.services
    async with services.uow() as uow:
        patient_id = await service_of(request).create(uow, data)
    await audited(request, "patients.create", patient_id=patient_id)
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
) -> BulkCreated:
    await audit_store_ready(request)
    async with request.app.state.services.uow() as uow:
        ids = await service_of(request).create_many(uow, data)
    await audited(request, "patients.bulk_create", detail=f"{len(ids)} records")
    return BulkCreated(ids=ids, count=len(ids))


@get("/api/v1/patients/{patient_id:str}", opt=READ, tags=["patients"], summary="Read one record")
async def read_patient(request: Request[Any, Any, Any], patient_id: FromPath[str]) -> Response[Any]:
    record = await service_of(request).get(request.app.state.services.db.sessions, patient_id)
    viewer = principal_of(request)
    deidentified = viewer is None or viewer.is_researcher_only
    etag = f'W/"{record.id}:{record.version}:{"d" if deidentified else "f"}"'
    await audited(
        request, "patients.read", patient_id=patient_id, detail="de-identified" if deidentified else None
    )
    if request.headers.get("if-none-match") == etag:
        return Response(content=b"", status_code=304, headers={"ETag": etag})
    body = for_viewer(
        viewer, deidentifier_of(request.app.state.services), msgspec.to_builtins(record), patient_id=record.id
    )
    return Response(content=body, headers={"ETag": etag, "Cache-Control": "private, no-cache"})


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
    items, nxt = await service_of(request).page(
        request.app.state.services.db.sessions, filters=filters, limit=limit, cursor=cursor, sort=sort
    )
    await audited(request, "patients.list", detail=f"{len(items)} records")
    viewer = principal_of(request)
    deid = deidentifier_of(request.app.state.services)
    rows = [for_viewer(viewer, deid, msgspec.to_builtins(s), patient_id=s.id) for s in items]
    return PatientPage(items=rows, next_cursor=nxt)


@patch(
    "/api/v1/patients/{patient_id:str}",
    opt=WRITE,
    tags=["patients"],
    summary="Change demographics, risk factors, outcome",
)
async def update_patient(
    request: Request[Any, Any, Any], patient_id: FromPath[str], data: JSONBody[PatientUpdate]
) -> dict[str, int]:
    await audit_store_ready(request)
    async with request.app.state.services.uow() as uow:
        version = await service_of(request).update(uow, patient_id, data)
    await audited(request, "patients.update", patient_id=patient_id)
    return {"version": version}


@delete("/api/v1/patients/{patient_id:str}", opt=WRITE, tags=["patients"], summary="Soft-delete a record")
async def delete_patient(request: Request[Any, Any, Any], patient_id: FromPath[str]) -> None:
    await audit_store_ready(request)
    async with request.app.state.services.uow() as uow:
        await service_of(request).delete(uow, patient_id)
    await audited(request, "patients.delete", patient_id=patient_id)


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
) -> dict[str, int]:
    from inescape.kernel.errors import Invalid, NotFound

    item_type = SUB_RESOURCES.get(kind)
    if item_type is None:
        raise NotFound(f"no sub-resource {kind!r}; use one of {', '.join(SUB_RESOURCES)}")
    try:
        item = msgspec.convert(data, item_type)
    except msgspec.ValidationError as exc:
        raise Invalid(
            f"The {kind} entry is invalid: {exc}", errors=[{"field": kind, "message": str(exc)}]
        ) from None
    await audit_store_ready(request)
    async with request.app.state.services.uow() as uow:
        version = await service_of(request).add(uow, patient_id, kind, item)
    await audited(request, f"patients.add_{kind}", patient_id=patient_id)
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
