"""FHIR R4 (mCODE) for clinicians and data stewards: one record as a Bundle, a cohort as NDJSON.
Identified data: researchers are not given these (they use the de-identified endpoints)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery
from litestar.response import Stream

from inescape.modules.patients.controllers import RESOURCE, Gateway
from inescape.modules.patients.fhir import to_bundle, to_ndjson
from inescape.modules.patients.service import PatientService

EXPORT = {"permission": "patients.export"}


@get(
    "/api/v1/patients/{patient_id:str}/fhir",
    opt=EXPORT,
    tags=["fhir"],
    summary="The record as a FHIR R4 Bundle with mCODE profiles",
)
async def patient_bundle(
    request: Request[Any, Any, Any], patient_id: FromPath[str], patients: PatientService, gateway: Gateway
) -> Response[Any]:
    record = await patients.get(patient_id=patient_id)
    await gateway.audit(
        request, "patients.export_fhir", resource_type=RESOURCE, resource_id=patient_id, patient_id=patient_id
    )
    return Response(to_bundle(record), media_type="application/fhir+json")


@get(
    "/api/v1/patients/export.ndjson",
    opt=EXPORT,
    tags=["fhir"],
    summary="A cohort as FHIR NDJSON (bulk-data style), streamed; the list's filters apply",
)
async def cohort_ndjson(
    request: Request[Any, Any, Any],
    patients: PatientService,
    gateway: Gateway,
    histology: FromQuery[str | None] = None,
    stage_group: FromQuery[str | None] = None,
    sex: FromQuery[str | None] = None,
    origin: FromQuery[str | None] = None,
    source: FromQuery[str | None] = None,
) -> Stream:
    filters = {
        "histology": histology,
        "stage_group": stage_group,
        "sex": sex,
        "origin": origin,
        "source": source,
    }
    ids = await patients.matching_ids(filters=filters)
    await gateway.audit(
        request, "patients.export_ndjson", resource_type=RESOURCE, detail=f"{len(ids)} records"
    )

    async def lines() -> AsyncIterator[str]:
        async for record in patients.records(ids=ids):
            for line in to_ndjson([record]):
                yield line

    return Stream(lines(), media_type="application/fhir+ndjson")


FHIR_ROUTES = [patient_bundle, cohort_ndjson]
