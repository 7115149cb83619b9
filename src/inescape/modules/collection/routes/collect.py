"""``/api/v1/collection/...``: the connectors, file uploads (streamed to the ``datasets``
bucket, never whole in memory), collection jobs and each job's reject report."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.response import Stream

from inescape.infra.openapi import errors, media
from inescape.infra.spreadsheet import safe_cell
from inescape.kernel.jobs import JobView
from inescape.modules.auth.api import Audit, audit_note, owner_scope, username_of
from inescape.modules.collection.connectors.base import connectors, schema_of
from inescape.modules.collection.schemas import CollectionRequest, SourceKind, SourceKindList, UploadView
from inescape.modules.collection.service import CollectionService
from inescape.modules.collection.uploads import MAX_UPLOAD_BYTES

READ = {"permission": "collection.jobs.read"}
RESOURCE = "collection"  # the audit events' resource type
Collection = NamedDependency[CollectionService]


def audited(permission: str, action: str, *, resource_id: str | None = None) -> dict[str, Any]:
    """A route's permission (``read`` or ``manage`` collection jobs) and its audit event."""
    return {
        "permission": f"collection.jobs.{permission}",
        "audit": Audit(action, RESOURCE, resource_id=resource_id),
    }


@get(
    "/api/v1/collection/sources", opt=READ, tags=["collection"], summary="Connectors and their config schemas"
)
async def list_sources() -> SourceKindList:
    return SourceKindList(
        items=[SourceKind(name=c.name, title=c.title, config_schema=schema_of(c)) for c in connectors()]
    )


@post(
    "/api/v1/collection/uploads",
    opt=audited("manage", "collection.uploaded"),
    status_code=201,
    tags=["collection"],
    summary="Upload a file (CSV, Parquet, FHIR NDJSON or a Bundle), streamed to storage",
    description="Send a `multipart/form-data` form with the file as its `file` part (and optionally "
    "`format`), or the file as the body with `?filename=` naming it. Then POST a job with "
    '`{"connector": "upload", "config": {"upload_id": ..., "format": ...}}`.',
    request_max_body_size=MAX_UPLOAD_BYTES,
)
async def upload(
    request: Request[Any, Any, Any], collection: Collection, filename: FromQuery[str | None] = None
) -> UploadView:
    view = await collection.receive_upload(
        body=request.stream(),
        content_type=request.headers.get("Content-Type", "application/octet-stream"),
        filename=filename,
        owner=username_of(request),
    )
    audit_note(request, resource_id=view.id, detail=view.filename)
    return view


@post(
    "/",  # under the module's job router: /api/v1/collection/jobs
    opt=audited("manage", "collection.job_submitted"),
    responses=errors(404),
    status_code=202,
    tags=["collection"],
    summary="Collect from a source (a job: progress and counts in GET /api/v1/collection/jobs/{id})",
)
async def submit(
    request: Request[Any, Any, Any], data: JSONBody[CollectionRequest], collection: Collection
) -> JobView:
    job = await collection.submit(request=data, owner=username_of(request), uploads_of=owner_scope(request))
    audit_note(request, resource_id=job.id, detail=f"{data.connector} {data.source}")
    return job


async def _report(rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["location", "source_id", "field", "message"])
    async for doc in rows:
        for error in doc.get("errors") or [{"field": "record", "message": doc.get("reason", "")}]:
            writer.writerow(
                safe_cell(cell)  # a rejected value is whatever the source held, formulas too
                for cell in (
                    doc["location"],
                    doc.get("source_id") or "",
                    error.get("field", ""),
                    error.get("message", ""),
                )
            )
        yield out.getvalue().encode()
        out.seek(0)
        out.truncate()
    if out.getvalue():
        yield out.getvalue().encode()


@get(
    "/{job_id:str}/rejects",
    opt={
        **audited("read", "collection.rejects_read", resource_id="job_id"),
        **media({"text/csv": "A header row, then one row per problem: location, source_id, field, message."}),
    },
    media_type="text/csv",
    tags=["collection"],
    summary="The job's rejected records as CSV: where each was in the source, and why",
)
async def rejects(request: Request[Any, Any, Any], job_id: FromPath[str], collection: Collection) -> Stream:
    # 404 for another module's job, or another user's unless the caller reads everyone's
    rows = await collection.rejects(job_id=job_id, owner=owner_scope(request, reading=True))
    headers = {"Content-Disposition": f'attachment; filename="rejects-{job_id}.csv"'}
    return Stream(_report(rows), media_type="text/csv", headers=headers)


ROUTES = [list_sources, upload]
JOB_ROUTES = [submit, rejects]
