"""Collection's use cases: uploads, submitting a collection job, and the job itself.

The job reads its source page by page; each page's records are upserted through the clinical
core and the cursor after the page is checkpointed in the same transaction, so a worker killed
mid-job resumes after the last committed page and never doubles a record (the upsert is keyed
by (source, source id) besides). Rejects and raw-payload checksums are documents with ids
fixed by (job, page, item), so a page done again writes the same ones.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from inescape.kernel.errors import Conflict, NotFound
from inescape.modules.auth.api import deidentifier_of
from inescape.modules.collection.connectors import (  # noqa: F401  (registers them)
    cbioportal,
    fhir_bulk,
    fhir_server,
    gdc,
    upload,
)
from inescape.modules.collection.connectors.base import (
    Connector,
    Page,
    get_connector,
    parse_config,
    public_config,
)
from inescape.modules.collection.connectors.lines import BUCKET
from inescape.modules.collection.events import DatasetCollected
from inescape.modules.collection.ingest import map_page
from inescape.modules.collection.schemas import CollectionRequest
from inescape.modules.collection.secrets import open_secrets
from inescape.modules.patients.api import records_changed, upsert_records

DATASETS = "dataset_metadata"
REJECTS = "collection_rejects"
PAYLOADS = "collection_payloads"


class DatasetNotFound(NotFound):
    pass


def check_request(request: CollectionRequest) -> Any:
    """The connector's config, parsed: 404 for an unknown connector, 422 naming the field."""
    connector = get_connector(request.connector)
    return parse_config(connector, open_secrets(connector, request.config))


async def run(ctx: Any) -> dict[str, Any]:
    """The ``collection.collect`` job."""
    request = msgspec.convert(ctx.params, CollectionRequest)
    connector = get_connector(request.connector)
    config = parse_config(connector, open_secrets(connector, request.config))
    deid = deidentifier_of(ctx.services) if request.research_only else None
    state = dict(ctx.checkpoint or {})
    page_no = int(state.get("page", 0))
    if not state.get("finished"):
        async for page in connector.pages(ctx.services, config, state.get("cursor")):
            await _ingest(ctx, request, connector, config, page, page_no, deid)
            page_no += 1
            await ctx.progress(0.99 if page.cursor is None else page.fraction)
    return await _finish(ctx, request, connector, config)


async def _ingest(
    ctx: Any,
    request: CollectionRequest,
    connector: Connector,
    config: Any,
    page: Page,
    page_no: int,
    deid: Any,
) -> None:
    services = ctx.services
    if page.raw:
        await _keep_payload(services, ctx.job_id, page_no, page.raw)
    mapped = map_page(services, connector, config, page.items, source=request.source, deid=deid)
    await _keep_rejects(services, ctx.job_id, page_no, mapped.rejects)
    async with ctx.unit() as unit:
        # map_page passed every record through check_record, as it is now (de-identified too)
        done = await upsert_records(services, unit.session, mapped.records, checked=True)
        outcomes = [d.outcome for d in done]
        unit.checkpoint({"page": page_no + 1, "cursor": page.cursor, "finished": page.cursor is None})
        unit.count(
            read=len(page.items),
            accepted=outcomes.count("created") + outcomes.count("updated"),
            created=outcomes.count("created"),
            updated=outcomes.count("updated"),
            duplicates=outcomes.count("unchanged") + mapped.repeats,
            rejected=len(mapped.rejects),
        )
    await records_changed(services, [d.patient_id for d in done if d.outcome == "updated"])


async def _keep_payload(services: Any, job_id: str, page_no: int, raw: bytes) -> None:
    key = f"collection/run/{job_id}/page-{page_no:05d}.json"
    await services.storage.put(BUCKET, key, raw, content_type="application/json")
    doc = {
        "id": f"{job_id}:{page_no:05d}",
        "job_id": job_id,
        "page": page_no,
        "key": key,
        "bytes": len(raw),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    await _put(services, PAYLOADS, doc)


async def _keep_rejects(services: Any, job_id: str, page_no: int, rejects: list[Any]) -> None:
    """One batch; a page done again after a crash finds some ids taken, and what the batch
    left out is written one by one (each replacing the same document)."""
    docs = [
        {"id": f"{job_id}:{page_no:05d}:{index:05d}", "job_id": job_id, "page": page_no, "index": index}
        | msgspec.to_builtins(reject)
        for index, reject in enumerate(rejects)
    ]
    kept = await services.documents.insert_many(REJECTS, docs) if docs else 0
    for doc in docs[kept:]:
        await _put(services, REJECTS, doc)


async def _put(services: Any, collection: str, doc: dict[str, Any]) -> None:
    try:
        await services.documents.insert(collection, doc)
    except Conflict:  # the page is being done again after a crash: the same document
        await services.documents.replace(collection, doc["id"], doc)


async def _finish(ctx: Any, request: CollectionRequest, connector: Connector, config: Any) -> dict[str, Any]:
    services = ctx.services
    job = await services.jobs.get(ctx.job_id)
    pages = await services.documents.find(PAYLOADS, {"job_id": ctx.job_id}, sort=[("page", 1)], limit=100_000)
    payloads = await connector.payloads(services, config) + [
        {k: p[k] for k in ("key", "bytes", "sha256")} for p in pages
    ]
    counts = {
        k: int(job.counts.get(k, 0))
        for k in ("read", "accepted", "created", "updated", "duplicates", "rejected")
    }
    metadata = {
        "id": ctx.job_id,
        "kind": "collected",
        "origin": "real",
        "source": request.source,
        "connector": connector.name,
        "config": public_config(connector, config),
        "research_only": request.research_only,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": services.clock.now().isoformat(),
        "counts": counts,
        "payloads": payloads,
        "created_at": services.clock.now().isoformat(),
    }
    await _put(services, DATASETS, metadata)
    async with ctx.unit() as unit:  # fenced: only the job's lease holder announces the dataset
        unit.publish(
            DatasetCollected(
                dataset_id=ctx.job_id,
                source=request.source,
                connector=connector.name,
                research_only=request.research_only,
                read=counts["read"],
                accepted=counts["accepted"],
                duplicates=counts["duplicates"],
                rejected=counts["rejected"],
            )
        )
    return {"dataset_id": ctx.job_id, **counts}


async def rejects_of(services: Any, job_id: str, *, batch: int = 500) -> Any:
    """The job's rejects in order, read a batch at a time."""
    skip = 0
    while True:
        found = await services.documents.find(
            REJECTS, {"job_id": job_id}, sort=[("page", 1), ("index", 1)], limit=batch, skip=skip
        )
        for doc in found:
            yield doc
        if len(found) < batch:
            return
        skip += batch


async def upload_exists(services: Any, config: Any) -> None:
    from inescape.modules.collection.connectors.upload import upload_of

    await upload_of(services, config.upload_id)
