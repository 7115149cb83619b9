"""``/api/v1/collection/...``: the connectors, file uploads (streamed to the ``datasets``
bucket, never whole in memory), collection jobs and each job's reject report."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from inescape.kernel.ids import new_id
from inescape.kernel.jobs import JobView
from inescape.modules.auth.api import audit_request, principal_of
from inescape.modules.collection import service
from inescape.modules.collection.connectors.base import connectors, get_connector, schema_of
from inescape.modules.collection.connectors.upload import UPLOADS
from inescape.modules.collection.schemas import CollectionRequest, SourceKind, UploadView
from inescape.modules.collection.secrets import seal_secrets
from inescape.modules.collection.uploads import MAX_UPLOAD_BYTES, store_upload

READ = {"permission": "collection.jobs.read"}
MANAGE = {"permission": "collection.jobs.manage"}


async def audited(
    request: Request[Any, Any, Any], action: str, *, resource_id: str | None, detail: str | None = None
) -> None:
    await audit_request(request, action, resource_type="collection", resource_id=resource_id, detail=detail)


@get(
    "/api/v1/collection/sources", opt=READ, tags=["collection"], summary="Connectors and their config schemas"
)
async def list_sources() -> list[SourceKind]:
    return [SourceKind(name=c.name, title=c.title, config_schema=schema_of(c)) for c in connectors()]


@post(
    "/api/v1/collection/uploads",
    opt=MANAGE,
    status_code=201,
    tags=["collection"],
    summary="Upload a file (CSV, Parquet, FHIR NDJSON or a Bundle), streamed to storage",
    description="Send a `multipart/form-data` form with the file as its `file` part (and optionally "
    "`format`), or the file as the body with `?filename=` naming it. Then POST a job with "
    '`{"connector": "upload", "config": {"upload_id": ..., "format": ...}}`.',
    request_max_body_size=MAX_UPLOAD_BYTES,
)
async def upload(request: Request[Any, Any, Any], filename: FromQuery[str | None] = None) -> UploadView:
    services = request.app.state.services
    upload_id = new_id()
    key = f"collection/upload/{upload_id}/payload"
    received = await store_upload(
        services.storage,
        key,
        request.stream(),
        content_type=request.headers.get("Content-Type", "application/octet-stream"),
        filename=filename,
    )
    who = principal_of(request)
    view = UploadView(
        id=upload_id,
        filename=received.filename,
        content_type=received.content_type,
        bytes=received.size,
        sha256=received.sha256,
        key=key,
        format=received.format,
    )
    doc = msgspec.to_builtins(view) | {
        "created_by": who.username if who else None,
        "created_at": services.clock.now().isoformat(),
    }
    await services.documents.insert(UPLOADS, doc)
    await audited(request, "collection.uploaded", resource_id=upload_id, detail=received.filename)
    return view


@post(
    "/",  # under the module's job router: /api/v1/collection/jobs
    opt=MANAGE,
    status_code=202,
    tags=["collection"],
    summary="Collect from a source (a job: progress and counts in GET /api/v1/collection/jobs/{id})",
)
async def submit(request: Request[Any, Any, Any], data: JSONBody[CollectionRequest]) -> JobView:
    services = request.app.state.services
    config = service.check_request(data)  # 404 / 422 now, not in the job
    if data.connector == "upload":
        await service.upload_exists(services, config)
    connector = get_connector(data.connector)
    params = msgspec.to_builtins(data) | {"config": seal_secrets(connector, data.config)}
    who = principal_of(request)
    async with services.uow() as uow:
        job: JobView = await services.submit_job(
            uow,
            module="collection",
            kind="collection.collect",
            queue="collection",
            params=params,
            owner=who.username if who else None,
        )
    await audited(
        request, "collection.job_submitted", resource_id=job.id, detail=f"{data.connector} {data.source}"
    )
    return job


async def _report(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["location", "source_id", "field", "message"])
    async for doc in rows:
        for error in doc.get("errors") or [{"field": "record", "message": doc.get("reason", "")}]:
            writer.writerow(
                [
                    doc["location"],
                    doc.get("source_id") or "",
                    error.get("field", ""),
                    error.get("message", ""),
                ]
            )
        yield out.getvalue().encode()
        out.seek(0)
        out.truncate()
    if out.getvalue():
        yield out.getvalue().encode()


@get(
    "/{job_id:str}/rejects",
    opt=READ,
    tags=["collection"],
    summary="The job's rejected records as CSV: where each was in the source, and why",
)
async def rejects(request: Request[Any, Any, Any], job_id: FromPath[str]) -> Stream:
    services = request.app.state.services
    await services.jobs.get(job_id, module="collection")  # 404 for another module's job
    await audited(request, "collection.rejects_read", resource_id=job_id)
    headers = {"Content-Disposition": f'attachment; filename="rejects-{job_id}.csv"'}
    return Stream(_report(service.rejects_of(services, job_id)), media_type="text/csv", headers=headers)


ROUTES = [list_sources, upload]
JOB_ROUTES = [submit, rejects]
