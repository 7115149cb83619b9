"""FHIR R4 (mCODE) for clinicians and data stewards: one record as a Bundle, a cohort as NDJSON.
Identified data: researchers are not given these (they use the de-identified endpoints)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from inescape.modules.patients import repository as repo
from inescape.modules.patients.controllers import audited, service_of
from inescape.modules.patients.fhir import to_bundle, to_ndjson
from inescape.modules.patients.models import patients

EXPORT = {"permission": "patients.export"}
PAGE = 200


@get(
    "/api/v1/patients/{patient_id:str}/fhir",
    opt=EXPORT,
    tags=["fhir"],
    summary="The record as a FHIR R4 Bundle with mCODE profiles",
)
async def patient_bundle(request: Request[Any, Any, Any], patient_id: FromPath[str]) -> Response[Any]:
    record = await service_of(request).get(request.app.state.services.db.sessions, patient_id)
    await audited(request, "patients.export_fhir", patient_id=patient_id)
    return Response(to_bundle(record), media_type="application/fhir+json")


@get(
    "/api/v1/patients/export.ndjson",
    opt=EXPORT,
    tags=["fhir"],
    summary="A cohort as FHIR NDJSON (bulk-data style), streamed; the list's filters apply",
)
async def cohort_ndjson(
    request: Request[Any, Any, Any],
    histology: FromQuery[str | None] = None,
    stage_group: FromQuery[str | None] = None,
    sex: FromQuery[str | None] = None,
    origin: FromQuery[str | None] = None,
    source: FromQuery[str | None] = None,
) -> Stream:
    services = request.app.state.services
    filters = {
        "histology": histology,
        "stage_group": stage_group,
        "sex": sex,
        "origin": origin,
        "source": source,
    }
    query = repo.filtered(filters, today=services.clock.now().date()).with_only_columns(patients.c.id)
    async with services.db.sessions() as session:
        ids = list((await session.scalars(query.order_by(patients.c.id))).all())
    await audited(request, "patients.export_ndjson", detail=f"{len(ids)} records")

    async def lines() -> AsyncIterator[str]:
        for start in range(0, len(ids), PAGE):  # a page of records at a time: memory stays flat
            async with services.db.sessions() as session:
                records = [r for i in ids[start : start + PAGE] if (r := await repo.load(session, i))]
            for line in to_ndjson(records):
                yield line

    return Stream(lines(), media_type="application/fhir+ndjson")


FHIR_ROUTES = [patient_bundle, cohort_ndjson]
