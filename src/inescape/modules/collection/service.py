"""Collection's use cases: uploads, submitting a collection job, and the job itself.

The job reads its source page by page; each page's records are upserted through the clinical
core and the cursor after the page is checkpointed in the same transaction, so a worker killed
mid-job resumes after the last committed page and never doubles a record (the upsert is keyed
by (source, source id) besides). Rejects and raw-payload checksums are documents with ids
fixed by (job, page, item), so a page done again writes the same ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import msgspec

from inescape.infra.jobs import JobService
from inescape.infra.platform import Jobs
from inescape.kernel.clock import Clock
from inescape.kernel.errors import Conflict
from inescape.kernel.ids import new_id
from inescape.kernel.jobs import JobContext, JobView
from inescape.kernel.ports import DocumentStore
from inescape.modules.auth.api import GatewayApi
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
    Reach,
    get_connector,
    parse_config,
    public_config,
)
from inescape.modules.collection.connectors.upload import UploadRecords
from inescape.modules.collection.events import DatasetCollected
from inescape.modules.collection.ingest import Checks, map_page
from inescape.modules.collection.schemas import CollectionRequest, UploadView
from inescape.modules.collection.secrets import open_secrets, seal_secrets
from inescape.modules.collection.uploads import store_upload
from inescape.modules.generation.api import DatasetInfo, DatasetsApi
from inescape.modules.patients.api import ClinicalCodecs, PatientsApi

REJECTS = "collection_rejects"
PAYLOADS = "collection_payloads"
JOB_KIND = "collection.collect"
COUNTS = ("read", "accepted", "created", "updated", "duplicates", "rejected")


def check_request(request: CollectionRequest) -> Any:
    """The connector's config, parsed: 404 for an unknown connector, 422 naming the field."""
    connector = get_connector(request.connector)
    return parse_config(connector, open_secrets(connector, request.config))


class CollectionService:
    """Uploads, collection jobs (submitted, then run by a worker) and their reject reports."""

    def __init__(
        self,
        *,
        gateway: GatewayApi,
        patients: PatientsApi,
        codecs: ClinicalCodecs,
        datasets: DatasetsApi,
        uploads: UploadRecords,
        reach: Reach,
        documents: DocumentStore,
        job_rows: JobService,
        jobs: Jobs,
        clock: Clock,
    ) -> None:
        self._gateway = gateway
        self._patients = patients
        self._codecs = codecs
        self._datasets = datasets
        self._uploads = uploads
        self._reach = reach
        self._documents = documents
        self._job_rows = job_rows
        self._jobs = jobs
        self.clock = clock

    # --- uploads ---------------------------------------------------------------------------
    async def receive_upload(
        self, *, body: AsyncIterator[bytes], content_type: str, filename: str | None, owner: str | None
    ) -> UploadView:
        """The file streamed to the datasets as it arrives, then recorded."""
        upload_id = new_id()
        key = self._datasets.upload_key(upload_id, filename)
        received = await store_upload(self._datasets, key, body, content_type=content_type, filename=filename)
        view = UploadView(
            id=upload_id,
            filename=received.filename,
            content_type=received.content_type,
            bytes=received.size,
            sha256=received.sha256,
            key=key,
            format=received.format,
        )
        await self._uploads.add(
            msgspec.to_builtins(view) | {"created_by": owner, "created_at": self.clock.now().isoformat()}
        )
        return view

    async def check(self, *, request: CollectionRequest, uploads_of: str | None = None) -> Any:
        """Everything a job request is checked for before it is accepted: 404 for an unknown
        connector or upload (or, with ``uploads_of``, an upload another user sent), 422
        naming the field (a URL the outbound allow-list refuses too); the parsed config."""
        config = check_request(request)
        await self._reach.outbound.check_config(config)
        if request.connector == "upload":
            await self._uploads.get(config.upload_id, owner=uploads_of)
        return config

    # --- jobs ------------------------------------------------------------------------------
    async def submit(
        self, *, request: CollectionRequest, owner: str | None, uploads_of: str | None = None
    ) -> JobView:
        """Check now (not in the job), seal the connector's secrets, submit the job.
        ``uploads_of``: whose uploads it may ingest (None: anyone's, an administrator)."""
        await self.check(request=request, uploads_of=uploads_of)
        return await self._jobs.submit(
            module="collection", kind=JOB_KIND, params=job_params(request), owner=owner
        )

    async def run(self, ctx: JobContext) -> dict[str, Any]:
        """The ``collection.collect`` job."""
        request = msgspec.convert(ctx.params, CollectionRequest)
        connector = get_connector(request.connector)
        config = parse_config(connector, open_secrets(connector, request.config))
        checks = Checks(
            patients=self._patients,
            codecs=self._codecs,
            deid=self._gateway.deidentifier if request.research_only else None,
            # a day early: a date shifted to within a day of today is checked again whatever
            # the zone or the moment the clinical core reckons its today in
            today=self.clock.now().date() - timedelta(days=1),
        )
        state = dict(ctx.checkpoint or {})
        page_no = int(state.get("page", 0))
        if not state.get("finished"):
            async for page in connector.pages(self._reach, config, state.get("cursor")):
                await self._ingest(ctx, request, connector, config, page, page_no, checks)
                page_no += 1
                await ctx.progress(0.99 if page.cursor is None else page.fraction)
        return await self._finish(ctx, request, connector, config)

    async def _ingest(
        self,
        ctx: JobContext,
        request: CollectionRequest,
        connector: Connector,
        config: Any,
        page: Page,
        page_no: int,
        checks: Checks,
    ) -> None:
        if page.raw:
            await self._keep_payload(ctx.job_id, page_no, page.raw)
        mapped = map_page(checks, connector, config, page.items, source=request.source)
        await self._keep_rejects(ctx.job_id, page_no, mapped.rejects)
        async with ctx.unit() as unit:
            # map_page passed every record through check_record, as it is now (de-identified too)
            done = await self._patients.upsert_records(unit.session, mapped.records, checked=True)
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
        await self._patients.records_changed([d.patient_id for d in done if d.outcome == "updated"])

    async def _keep_payload(self, job_id: str, page_no: int, raw: bytes) -> None:
        key = self._datasets.payload_key(job_id, page_no)
        await self._datasets.put(key, raw, content_type="application/json")
        doc = {
            "id": f"{job_id}:{page_no:05d}",
            "job_id": job_id,
            "page": page_no,
            "key": key,
            "bytes": len(raw),
            "sha256": hashlib.sha256(raw).hexdigest(),
        }
        await self._put(PAYLOADS, doc)

    async def _keep_rejects(self, job_id: str, page_no: int, rejects: list[Any]) -> None:
        """One batch; a page done again after a crash finds some ids taken, and what the batch
        left out is written one by one (each replacing the same document)."""
        docs = [
            {"id": f"{job_id}:{page_no:05d}:{index:05d}", "job_id": job_id, "page": page_no, "index": index}
            | msgspec.to_builtins(reject)
            for index, reject in enumerate(rejects)
        ]
        kept = await self._documents.insert_many(REJECTS, docs) if docs else 0
        for doc in docs[kept:]:
            await self._put(REJECTS, doc)

    async def _put(self, collection: str, doc: dict[str, Any]) -> None:
        try:
            await self._documents.insert(collection, doc)
        except Conflict:  # the page is being done again after a crash: the same document
            await self._documents.replace(collection, doc["id"], doc)

    async def _finish(
        self, ctx: JobContext, request: CollectionRequest, connector: Connector, config: Any
    ) -> dict[str, Any]:
        job = await self._job_rows.get(ctx.job_id)
        pages = await self._documents.find(
            PAYLOADS, {"job_id": ctx.job_id}, sort=[("page", 1)], limit=100_000
        )
        payloads = await connector.payloads(self._reach, config) + [
            {k: p[k] for k in ("key", "bytes", "sha256")} for p in pages
        ]
        counts = {k: int(job.counts.get(k, 0)) for k in COUNTS}
        now = self.clock.now().isoformat()
        await self._datasets.register(
            DatasetInfo(
                id=ctx.job_id,
                kind="collected",
                origin="real",
                source=request.source,
                connector=connector.name,
                config=public_config(connector, config),
                research_only=request.research_only,
                started_at=job.started_at.isoformat() if job.started_at else None,
                finished_at=now,
                counts=counts,
                payloads=payloads,
                created_at=now,
            )
        )
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

    # --- reject reports --------------------------------------------------------------------
    async def rejects(self, *, job_id: str, owner: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """The job's rejects in order (404 for an unknown job, another module's, or with
        ``owner`` another user's), read a batch at a time as they are sent."""
        await self._job_rows.get(job_id, module="collection", owner=owner)
        return self._rejects_of(job_id)

    async def _rejects_of(self, job_id: str, *, batch: int = 500) -> AsyncIterator[dict[str, Any]]:
        skip = 0
        while True:
            found = await self._documents.find(
                REJECTS, {"job_id": job_id}, sort=[("page", 1), ("index", 1)], limit=batch, skip=skip
            )
            for doc in found:
                yield dict(doc)
            if len(found) < batch:
                return
            skip += batch


def job_params(request: CollectionRequest) -> dict[str, Any]:
    """A job's params: the request with the connector's secrets sealed."""
    params: dict[str, Any] = msgspec.to_builtins(request)
    return params | {"config": seal_secrets(get_connector(request.connector), request.config)}
