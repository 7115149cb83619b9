"""The FHIR server's use cases: read, search, and Bulk Data ``$export`` as a job of the platform.

Researchers (and anyone the gateway de-identifies for) get the de-identified copy of each
record (``fhir/server.py``), with its research id in every resource id; a resource id they name
is found by the research id in it (an HMAC per live record, no record read).

``$export`` is a ``patients.fhir_export`` job owned by the caller: it writes one NDJSON file per
resource type, then a manifest, under ``images/patients/fhir-export/<job id>/`` (the
``datasets`` bucket is the generation module's whole; the platform's other files live in
``images`` under their module's prefix). A Group id names a cohort by the patient list's
filters (``group_filters``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC
from typing import Any

import msgspec

from inescape.infra.jobs import JobService
from inescape.infra.platform import Jobs
from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock
from inescape.kernel.errors import Invalid, NotFound
from inescape.kernel.jobs import JobContext, JobStatus, JobView
from inescape.kernel.ports import ObjectStore
from inescape.modules.auth.api import Principal
from inescape.modules.patients import cursors
from inescape.modules.patients.api import MODULE, PatientNotFound, PatientRecord
from inescape.modules.patients.fhir.codes import Json
from inescape.modules.patients.fhir.server import (
    TYPES,
    Query,
    Systems,
    deidentified_resources,
    ndjson_lines,
    owner_of,
    record_resources,
)
from inescape.modules.patients.research import named_patient
from inescape.modules.patients.service import PatientService
from inescape.modules.patients.settings import PatientsSettings
from inescape.modules.patients.views import PatientViews

EXPORT = "patients.fhir_export"
BUCKET = "images"
PREFIX = "patients/fhir-export/"
# A Group id: filters of the patient list, ``<filter>-<value>`` joined by ``.`` ("all": everyone),
# e.g. ``histology-adenocarcinoma.stage-III``; ``_`` in a value is written ``-``.
GROUP_FILTERS = {
    "sex": ("sex", {"female", "male", "other", "unknown"}),
    "histology": ("histology", {"squamous_cell_carcinoma", "adenocarcinoma", "other"}),
    "location": ("location", {"cervical", "upper", "middle", "lower", "egj"}),
    "stage": ("stage_group", None),
    "vital": ("vital_status", {"alive", "dead", "unknown"}),
    "origin": ("origin", {"real", "synthetic"}),
}


def group_filters(group_id: str) -> dict[str, str]:
    """The patient list's filters a Group id stands for; ``NotFound`` for one that is not a cohort."""
    if group_id == "all":
        return {}
    filters: dict[str, str] = {}
    for part in group_id.split("."):
        name, _, raw = part.partition("-")
        known = GROUP_FILTERS.get(name)
        value = raw.replace("-", "_") if name != "stage" else raw
        if known is None or not raw or (known[1] is not None and value not in known[1]):
            raise NotFound(
                f"no Group {group_id!r}: a Group is 'all' or filters such as "
                "'histology-adenocarcinoma.stage-III' (sex, histology, location, stage, vital, origin)"
            )
        filters[known[0]] = value
    return filters


class Cursor(msgspec.Struct, frozen=True):
    patient: str  # the record to go on from (the real id: the cursor is encrypted)
    offset: int  # resources of that record already given


def _seal(cursor: Cursor) -> str:
    return cursors.seal(msgspec.json.encode(cursor).decode(), context=_CURSOR_CONTEXT)


def _open(text: str) -> Cursor:
    plain = cursors.unseal(
        text, context=_CURSOR_CONTEXT, field="_cursor", hint="follow the Bundle's next link"
    )
    try:
        return msgspec.json.decode(plain, type=Cursor)
    except msgspec.DecodeError:  # sealed by us, but not a search cursor
        raise Invalid(
            "_cursor is not one this server gave (follow the Bundle's next link)",
            errors=[{"field": "_cursor", "message": "invalid"}],
        ) from None


_CURSOR_CONTEXT = "patients.fhir.cursor"


class SearchPage(msgspec.Struct, frozen=True):
    found: list[Json]
    next_cursor: str | None
    total: int | None


class ExportStatus(msgspec.Struct, frozen=True):
    """``manifest`` once done; else ``progress`` (0-1) while it runs."""

    job: JobView
    manifest: Json | None = None


class FhirService:
    def __init__(
        self,
        *,
        records: PatientService,
        views: PatientViews,
        jobs: Jobs,
        job_rows: JobService,
        uow: Callable[[], UnitOfWork],
        storage: ObjectStore,
        clock: Clock,
        settings: PatientsSettings,
    ) -> None:
        self._records = records
        self._views = views
        self._jobs = jobs
        self._job_rows = job_rows
        self._uow = uow
        self._storage = storage
        self._clock = clock
        self.settings = settings
        self.published = clock.now().date().isoformat()  # the CapabilityStatement's date
        self.systems = Systems(
            namespace=settings.fhir_namespace,
            mrn=settings.fhir_mrn_system or None,
            national_id=settings.fhir_national_id_system or None,
        )

    # --- what a viewer may see ----------------------------------------------------------
    def _as_seen(self, record: PatientRecord, deidentified: bool, types: Sequence[str] = TYPES) -> list[Json]:
        if deidentified:
            who = self._views.pseudonym(record.id)
            found = deidentified_resources(record, who, today=self._records.today(), types=types)
        else:
            found = record_resources(record, types)
        return [self.systems.rewrite(r) for r in found]

    async def _patient_id(self, named: str, deidentified: bool) -> str:
        """The record a viewer names (a researcher names it by its research id)."""
        if not deidentified:
            return named
        return await named_patient(named, patients=self._records, views=self._views)

    # --- read and search ---------------------------------------------------------------
    async def read(self, *, viewer: Principal | None, kind: str, resource_id: str) -> tuple[Json, str]:
        """The resource and the id of the record it belongs to."""
        deidentified = self._views.deidentifies(viewer)
        missing = NotFound(f"no {kind}/{resource_id}")
        try:
            record = await self._records.get(
                patient_id=await self._patient_id(owner_of(resource_id), deidentified)
            )
        except PatientNotFound:
            raise missing from None
        for resource in self._as_seen(record, deidentified, (kind,)):
            if resource["id"] == resource_id:
                return resource, record.id
        raise missing

    async def search(
        self, *, viewer: Principal | None, query: Query, count: int, cursor: str | None
    ) -> SearchPage:
        deidentified = self._views.deidentifies(viewer)
        if query.patient is not None:
            try:
                ids = [await self._patient_id(query.patient, deidentified)]
            except PatientNotFound:
                ids = []
        else:
            ids = await self._records.matching_ids(filters={})
        start = _open(cursor) if cursor else None
        plain_list = query.kind == "Patient" and not (query.patient or query.dates or query.gender)
        total = len(ids) if plain_list else None
        if start is not None:
            ids = [i for i in ids if i >= start.patient]
        found: list[Json] = []
        async for record in self._records.records(ids=ids):
            matching = [r for r in self._as_seen(record, deidentified, (query.kind,)) if query.matches(r)]
            skip = start.offset if start is not None and record.id == start.patient else 0
            if len(found) == count and matching[skip:]:
                return SearchPage(found, _seal(Cursor(record.id, skip)), total)
            room = count - len(found)
            found += matching[skip : skip + room]
            if len(matching) > skip + room:
                return SearchPage(found, _seal(Cursor(record.id, skip + room)), total)
        if query.patient is not None and start is None:
            total = len(found)
        return SearchPage(found, None, total)

    # --- Bulk Data $export -------------------------------------------------------------
    async def kick_off(
        self,
        *,
        viewer: Principal | None,
        types: Sequence[str],
        since: str | None,
        filters: Mapping[str, Any] | None,
        request_url: str,
    ) -> JobView:
        params = {
            "types": list(types),
            "since": since,
            "filters": dict(filters) if filters is not None else {},
            "deidentified": self._views.deidentifies(viewer),
            "request": request_url,
            "transaction_time": self._clock.now().astimezone(UTC).isoformat(),
        }
        owner = viewer.username if viewer is not None else None  # as every job records its owner
        return await self._jobs.submit(module=MODULE, kind=EXPORT, params=params, owner=owner)

    async def _own(self, viewer: Principal | None, job_id: str) -> JobView:
        job = await self._job_rows.get(job_id, module=MODULE)
        if job.kind != EXPORT:
            raise NotFound(f"no export {job_id}")
        if job.owner != (viewer.username if viewer is not None else None):
            raise NotFound(f"no export {job_id}")  # another user's, answered as missing: ids do not leak
        return job

    async def status(self, *, viewer: Principal | None, job_id: str, base: str) -> ExportStatus:
        job = await self._own(viewer, job_id)
        if job.status != JobStatus.SUCCEEDED:
            if job.status in (JobStatus.CANCELLED,):
                raise NotFound(f"the export {job_id} was cancelled or deleted")
            return ExportStatus(job)
        key = f"{PREFIX}{job_id}/manifest.json"
        if not await self._storage.exists(BUCKET, key):
            raise NotFound(f"the export {job_id} was deleted")
        manifest = msgspec.json.decode(await self._storage.get(BUCKET, key))
        for output in manifest["output"]:
            output["url"] = f"{base}/$export-file/{job_id}/{output['type']}.ndjson"
        return ExportStatus(job, manifest)

    async def delete(self, *, viewer: Principal | None, job_id: str) -> None:
        """Cancel a running export, and delete its files."""
        job = await self._own(viewer, job_id)
        if not job.status.finished:
            async with self._uow() as uow:
                await self._job_rows.cancel(uow.session, job_id, module=MODULE)
        for key in await self._storage.list(BUCKET, f"{PREFIX}{job_id}/"):
            await self._storage.delete(BUCKET, key)

    async def file(self, *, viewer: Principal | None, job_id: str, kind: str) -> AsyncIterator[bytes]:
        job = await self._own(viewer, job_id)
        key = f"{PREFIX}{job_id}/{kind}.ndjson"
        if (
            job.status != JobStatus.SUCCEEDED
            or kind not in TYPES
            or not await self._storage.exists(BUCKET, key)
        ):
            raise NotFound(f"no file {kind}.ndjson in export {job_id}")
        return self._storage.stream(BUCKET, key)

    async def run_export(self, ctx: JobContext) -> dict[str, Any]:
        """The ``patients.fhir_export`` job: one pass over the cohort per resource type."""
        params = ctx.params
        ids = await self._records.matching_ids(filters=dict(params["filters"]))
        since = params.get("since")
        deidentified = bool(params["deidentified"])
        outputs = []
        for n, kind in enumerate(params["types"]):
            counted = [0]

            async def lines(kind: str = kind, counted: list[int] = counted) -> AsyncIterator[bytes]:
                async for record in self._records.records(ids=ids):
                    if since and record.updated_at.isoformat() < since:
                        continue
                    for line in ndjson_lines(self._as_seen(record, deidentified, (kind,))):
                        counted[0] += 1
                        yield line

            key = f"{PREFIX}{ctx.job_id}/{kind}.ndjson"
            await self._storage.put_stream(BUCKET, key, lines(), content_type="application/fhir+ndjson")
            outputs.append({"type": kind, "url": "", "count": counted[0]})
            await ctx.progress((n + 1) / len(params["types"]), **{kind: counted[0]})
        manifest = {
            "transactionTime": params["transaction_time"],
            "request": params["request"],
            "requiresAccessToken": True,
            "output": [o for o in outputs if o["count"]],
            "error": [],
        }
        await self._storage.put(
            BUCKET,
            f"{PREFIX}{ctx.job_id}/manifest.json",
            msgspec.json.encode(manifest),
            content_type="application/json",
        )
        return {o["type"]: o["count"] for o in outputs}
