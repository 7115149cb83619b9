"""``/fhir``: a FHIR R4 server over the clinical record. The CapabilityStatement (public), read
and search of Patient, Condition, Observation, Procedure and MedicationRequest, and Bulk Data
``$export`` (``Patient`` and ``Group/<cohort>``: a saved cohort's id, or the list's filters),
with the record routes' permission (``patients.read``), audit and researcher de-identification.
Errors under ``/fhir`` are OperationOutcomes (the platform's error handlers, ``infra/http.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, delete, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, PathParameter
from litestar.response import Stream

from inescape import __version__
from inescape.infra.openapi import media
from inescape.kernel.errors import Invalid, NotFound
from inescape.kernel.ids import is_id
from inescape.kernel.jobs import JobStatus
from inescape.modules.auth.api import Audit, audit_note, principal_of
from inescape.modules.patients.controllers import READ, Views
from inescape.modules.patients.fhir.server import (
    FHIR_JSON,
    FHIR_NDJSON,
    TYPES,
    capability_statement,
    parse_query,
    search_bundle,
)
from inescape.modules.patients.fhir_service import FhirService, group_filters
from inescape.modules.patients.research import FILTER_FIELDS, refuse_hidden
from inescape.modules.patients.routes.query import Saved
from inescape.modules.patients.saved import CohortNotFound
from inescape.modules.patients.schemas import ExportManifest, FhirBundle, FhirResource

Fhir = NamedDependency[FhirService]
RESOURCE = "fhir"
NDJSON_FORMATS = ("application/fhir+ndjson", "application/ndjson", "ndjson")
# search and $export check their own query parameters (a FHIR search's are open-ended)
OWN_QUERY = {"query": "any"}


def _fhir(container: Any, description: str) -> dict[int, ResponseSpec]:
    return {
        200: ResponseSpec(container, generate_examples=False, media_type=FHIR_JSON, description=description)
    }


ACCEPTED = ResponseSpec(
    None, description="Accepted: the export runs; Content-Location names its status URL (no body)."
)


def _opt(action: str, *, resource_id: str | None = None, public: bool = False) -> dict[str, Any]:
    if public:
        return {"permission": "public"}
    return {"permission": READ, "audit": Audit(action, RESOURCE, resource_id=resource_id)}


def base_of(request: Request[Any, Any, Any]) -> str:
    return str(request.base_url).rstrip("/") + "/fhir"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def _kind(kind: str) -> str:
    if kind not in TYPES:
        raise NotFound(f"this server has no resource type {kind!r}; it serves {', '.join(TYPES)}")
    return kind


@get(
    "/fhir/metadata",
    opt=_opt("", public=True),
    media_type=FHIR_JSON,
    responses=_fhir(FhirResource, "The CapabilityStatement: what this server supports."),
    tags=["fhir"],
    summary="The CapabilityStatement",
)
async def metadata(request: Request[Any, Any, Any], fhir: Fhir) -> Response[Any]:
    published = fhir.published
    return _json(capability_statement(base_of(request), software_version=__version__, published=published))


@get(
    "/fhir/{kind:str}/{resource_id:str}",
    opt=_opt("patients.fhir_read", resource_id="resource_id"),
    media_type=FHIR_JSON,
    responses=_fhir(FhirResource, "The resource (de-identified for a researcher)."),
    tags=["fhir"],
    summary="Read a resource",
)
async def read(
    request: Request[Any, Any, Any], kind: FromPath[str], resource_id: FromPath[str], fhir: Fhir
) -> Response[Any]:
    resource, patient_id = await fhir.read(
        viewer=principal_of(request), kind=_kind(kind), resource_id=resource_id
    )
    audit_note(request, patient_id=patient_id, detail=kind)
    return _json(resource)


@get(
    "/fhir/{kind:str}",
    opt=_opt("patients.fhir_search") | OWN_QUERY,
    media_type=FHIR_JSON,
    responses=_fhir(FhirBundle, "A searchset Bundle: one page of matches."),
    tags=["fhir"],
    summary="Search a resource type",
)
async def search(request: Request[Any, Any, Any], kind: FromPath[str], fhir: Fhir) -> Response[Any]:
    params = {k: request.query_params.getall(k) for k in request.query_params}
    query = parse_query(_kind(kind), params)
    count = _count(params.get("_count"), fhir.settings.fhir_page_max)
    cursor = (params.get("_cursor") or [None])[-1]
    page = await fhir.search(viewer=principal_of(request), query=query, count=count, cursor=cursor)
    shown = {k: v for k, v in params.items() if k != "_cursor"}
    audit_note(request, detail=f"{kind}?{urlencode(shown, doseq=True)}: {len(page.found)} resources")
    base = base_of(request)
    self_url = f"{base}/{kind}?{urlencode(params, doseq=True)}"
    following = shown | {"_count": [str(count)], "_cursor": [page.next_cursor]}
    next_url = f"{base}/{kind}?{urlencode(following, doseq=True)}" if page.next_cursor else None
    return _json(
        search_bundle(base, kind, page.found, self_url=self_url, next_url=next_url, total=page.total)
    )


def _count(values: list[str] | None, most: int) -> int:
    if not values:
        return min(50, most)
    try:
        count = int(values[-1])
    except ValueError:
        count = -1
    if not 1 <= count <= most:
        raise Invalid(
            f"_count must be a whole number from 1 to {most}",
            errors=[{"field": "_count", "message": "out of range"}],
        )
    return count


async def _kick_off(
    request: Request[Any, Any, Any], fhir: Fhir, filters: dict[str, Any] | None
) -> Response[Any]:
    if "respond-async" not in request.headers.get("prefer", ""):
        raise Invalid(
            "a bulk export runs asynchronously: send 'Prefer: respond-async'",
            errors=[{"field": "Prefer", "message": "respond-async is required"}],
        )
    params = {k: request.query_params.getall(k) for k in request.query_params}
    unknown = [k for k in params if k not in ("_type", "_since", "_outputFormat")]
    if unknown:
        raise Invalid(
            f"$export takes _type, _since and _outputFormat, not {', '.join(unknown)}",
            errors=[{"field": k, "message": "unsupported"} for k in unknown],
        )
    types = [t for v in params.get("_type", []) for t in v.split(",") if t] or list(TYPES)
    wrong = [t for t in types if t not in TYPES]
    if wrong:
        raise Invalid(
            f"_type: this server exports {', '.join(TYPES)}, not {', '.join(wrong)}",
            errors=[{"field": "_type", "message": "unsupported type"}],
        )
    formats = params.get("_outputFormat", [])
    if formats and formats[-1] not in NDJSON_FORMATS:
        raise Invalid(
            "_outputFormat: only NDJSON (application/fhir+ndjson)",
            errors=[{"field": "_outputFormat", "message": "unsupported"}],
        )
    since = (params.get("_since") or [None])[-1]
    if since is not None and (len(since) < 10 or not since[:4].isdigit()):
        raise Invalid("_since must be an instant", errors=[{"field": "_since", "message": "not an instant"}])
    job = await fhir.kick_off(
        viewer=principal_of(request),
        types=list(dict.fromkeys(types)),
        since=since,
        filters=filters,
        request_url=str(request.url),
    )
    audit_note(request, resource_id=job.id, detail=f"{','.join(types)} {filters or 'all'}")
    status_url = f"{base_of(request)}/$export-status/{job.id}"
    return Response(b"", status_code=202, headers={"Content-Location": status_url})


@get(
    "/fhir/Patient/$export",
    opt=_opt("patients.fhir_export") | OWN_QUERY,
    status_code=202,
    responses={202: ACCEPTED},
    tags=["fhir"],
    summary="Bulk Data export of every Patient (asynchronous: Prefer: respond-async)",
)
async def export_patients(request: Request[Any, Any, Any], fhir: Fhir) -> Response[Any]:
    return await _kick_off(request, fhir, None)


@get(
    "/fhir/Group/{group_id:str}/$export",
    opt=_opt("patients.fhir_export", resource_id="group_id") | OWN_QUERY,
    status_code=202,
    responses={202: ACCEPTED},
    tags=["fhir"],
    summary="Bulk Data export of a cohort: the Group id is a saved cohort's id, or names the list's filters",
)
async def export_group(
    request: Request[Any, Any, Any],
    group_id: Annotated[
        str,
        PathParameter(
            description="A saved cohort's id (/api/v1/cohorts: the records it selects when the export "
            "runs), 'all', or the list's filters as name-value parts (histology-adenocarcinoma.stage-III)"
        ),
    ],
    fhir: Fhir,
    saved_cohorts: Saved,
    views: Views,
) -> Response[Any]:
    if not is_id(group_id):
        return await _kick_off(request, fhir, group_filters(group_id))
    try:
        filters = await saved_cohorts.filters_of(group_id)
    except CohortNotFound:
        raise NotFound(f"no Group {group_id!r}: no saved cohort has this id") from None
    if views.deidentifies(principal_of(request)):  # the export is de-identified: so is its selection
        refuse_hidden(filters, views, names=FILTER_FIELDS)
    return await _kick_off(request, fhir, filters)


@get(
    "/fhir/$export-status/{job_id:str}",
    opt=_opt("patients.fhir_export_status", resource_id="job_id"),
    media_type=FHIR_JSON,
    responses={
        **_fhir(ExportManifest, "The export is done: its manifest lists the files."),
        202: ResponseSpec(None, description="The export is still running (X-Progress says how far)"),
    },
    tags=["fhir"],
    summary="A bulk export's status: 202 while it runs, then 200 with the manifest",
)
async def export_status(request: Request[Any, Any, Any], job_id: FromPath[str], fhir: Fhir) -> Response[Any]:
    status = await fhir.status(viewer=principal_of(request), job_id=job_id, base=base_of(request))
    if status.manifest is not None:
        return _json(status.manifest, headers={"Expires": "0"})
    if status.job.status == JobStatus.FAILED:
        return _json(
            {
                "resourceType": "OperationOutcome",
                "issue": [
                    {"severity": "error", "code": "exception", "diagnostics": status.job.error or "failed"}
                ],
            },
            500,
        )
    progress = f"{round(status.job.progress * 100)}% done ({status.job.status})"
    retry = str(fhir.settings.fhir_export_retry_after_s)
    return Response(b"", status_code=202, headers={"X-Progress": progress, "Retry-After": retry})


@delete(
    "/fhir/$export-status/{job_id:str}",
    opt=_opt("patients.fhir_export_delete", resource_id="job_id"),
    status_code=202,
    responses={202: ResponseSpec(None, description="Cancelled, or its files deleted (no body).")},
    tags=["fhir"],
    summary="Cancel a bulk export, or delete its files",
)
async def export_delete(request: Request[Any, Any, Any], job_id: FromPath[str], fhir: Fhir) -> Response[Any]:
    await fhir.delete(viewer=principal_of(request), job_id=job_id)
    return Response(b"", status_code=202)


@get(
    "/fhir/$export-file/{job_id:str}/{name:str}",
    opt=_opt("patients.fhir_export_file", resource_id="job_id")
    | media({FHIR_NDJSON: "The export's resources of one type, one JSON resource a line."}),
    media_type=FHIR_NDJSON,
    tags=["fhir"],
    summary="One NDJSON file of a finished bulk export",
)
async def export_file(
    request: Request[Any, Any, Any], job_id: FromPath[str], name: FromPath[str], fhir: Fhir
) -> Stream:
    kind = name.removesuffix(".ndjson")
    chunks = await fhir.file(viewer=principal_of(request), job_id=job_id, kind=kind)
    audit_note(request, detail=name)

    async def body() -> AsyncIterator[bytes]:
        async for chunk in chunks:
            yield chunk

    return Stream(body(), media_type=FHIR_NDJSON)


FHIR_API_ROUTES = [
    metadata,
    export_patients,
    export_group,
    export_status,
    export_delete,
    export_file,
    read,
    search,
]
