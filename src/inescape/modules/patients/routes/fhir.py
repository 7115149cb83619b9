"""FHIR R4 (mCODE) for clinicians and data stewards: one record as a Bundle, a cohort as NDJSON.
Identified data: researchers are not given these (they use the de-identified endpoints)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get
from litestar.openapi import ResponseSpec
from litestar.params import FromPath
from litestar.response import Stream

from inescape.infra.openapi import errors, media
from inescape.modules.auth.api import audit_note
from inescape.modules.patients.controllers import Patients, audited
from inescape.modules.patients.fhir import to_bundle, to_ndjson
from inescape.modules.patients.routes.query import (
    FILTER_DEPENDENCY,
    QueryFilters,
    Saved,
    SchemeParam,
    resolved,
)
from inescape.modules.patients.schemas import FhirBundle

EXPORT = "patients.export"


@get(
    "/api/v1/patients/{patient_id:str}/fhir",
    opt=audited(EXPORT, "patients.export_fhir", one=True),
    media_type="application/fhir+json",
    responses={
        200: ResponseSpec(
            FhirBundle,
            generate_examples=False,
            media_type="application/fhir+json",
            description="A collection Bundle: the Patient and every resource of the record.",
        )
    },
    tags=["fhir"],
    summary="The record as a FHIR R4 Bundle with mCODE profiles",
)
async def patient_bundle(patient_id: FromPath[str], patients: Patients) -> Response[Any]:
    record = await patients.get(patient_id=patient_id)
    return Response(to_bundle(record), media_type="application/fhir+json")


@get(
    "/api/v1/patients/export.ndjson",
    # the audit event is written when the answer starts: before a byte
    opt={
        **audited(EXPORT, "patients.export_ndjson"),
        **media({"application/fhir+ndjson": "FHIR R4 resources of every record, one JSON resource a line."}),
    },
    dependencies=FILTER_DEPENDENCY,
    responses=errors(404),  # cohort=<id> names no saved cohort
    media_type="application/fhir+ndjson",
    tags=["fhir"],
    summary="A cohort as FHIR NDJSON (bulk-data style), streamed; the list's filters and cohort=<id> apply",
)
async def cohort_ndjson(
    request: Request[Any, Any, Any],
    patients: Patients,
    query_filters: QueryFilters,
    saved_cohorts: Saved,
    scheme: SchemeParam = None,
) -> Stream:
    filters = await resolved(saved_cohorts, query_filters, scheme)
    ids = await patients.matching_ids(filters=filters)
    audit_note(request, detail=f"{len(ids)} records")

    async def lines() -> AsyncIterator[str]:
        async for record in patients.records(ids=ids):
            for line in to_ndjson([record]):
                yield line

    return Stream(lines(), media_type="application/fhir+ndjson")


FHIR_ROUTES = [patient_bundle, cohort_ndjson]
