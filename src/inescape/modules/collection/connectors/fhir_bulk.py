"""FHIR Bulk Data (``$export``): a server's Patients and their Conditions, Observations,
Procedures and MedicationRequests as NDJSON files, read as a resumable job.

The export's steps are in ``fhir_export``; signing in (a bearer token or SMART Backend
Services) in ``fhir_auth``. The cursor holds the status URL as soon as the kick-off answers,
then the manifest and the (Patient file, line) reached, so a worker killed at any point
resumes where the last committed page left off: it never kicks off a second export, and a
page done again upserts the same records. Related resources are joined to their Patient by
``subject``/``patient`` reference: the related files are read whole into memory first (again
on a resume), so an export is bounded by what a worker holds; Patients then go a page at a time.
A line that is not a JSON resource (a file cut short) and each OperationOutcome in the
manifest's ``error`` files are rejects. Once every page is committed the export is deleted
on the server. File URLs that need the token must be on the FHIR server's own origin.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, ClassVar, Literal

import httpx
import msgspec

from inescape.kernel.errors import Invalid
from inescape.modules.collection.connectors.base import Item, Page, Reach, register
from inescape.modules.collection.connectors.fhir_auth import (
    SECRETS,
    URL,
    FhirAuthConfig,
    check_auth,
    fhir_client,
)
from inescape.modules.collection.connectors.fhir_export import (
    NDJSON_HEADERS,
    Manifest,
    download,
    forget,
    kick_off,
    kickoff_url,
    poll,
    same_origin,
)
from inescape.modules.collection.connectors.fhir_server import record_of, retry_of
from inescape.modules.collection.connectors.http import paced_client
from inescape.modules.patients.api import ClinicalCodecs, PatientCreate

ResourceType = Literal["Patient", "Condition", "Observation", "Procedure", "MedicationRequest"]
TYPES: tuple[ResourceType, ...] = ("Patient", "Condition", "Observation", "Procedure", "MedicationRequest")
EXPORTING = 0.1  # of the progress bar, for the server's export before any file is read
Related = dict[str, list[tuple[dict[str, Any], bytes]]]  # patient id -> (resource, its line)

_INSTANT = r"^\d{4}-\d{2}-\d{2}T[0-9:.]+(Z|[+-]\d{2}:\d{2})\Z"


class FhirBulkConfig(FhirAuthConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    base_url: URL
    group_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9\-.]{1,64}\Z")] | None = None
    since: Annotated[str, msgspec.Meta(pattern=_INSTANT)] | None = None
    types: list[ResourceType] = msgspec.field(default_factory=lambda: list(TYPES))
    page_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 50  # Patients a page
    poll_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 10.0  # when the server gives no Retry-After
    max_export_s: Annotated[float, msgspec.Meta(gt=0, le=7 * 86_400)] = 86_400.0


def patient_of(resource: Mapping[str, Any]) -> str | None:
    ref = resource.get("subject") or resource.get("patient") or {}
    text = ref.get("reference") if isinstance(ref, dict) else None
    _, found, rid = str(text or "").rpartition("Patient/")
    return rid or None if found else None


def _resource(line: bytes) -> dict[str, Any] | None:
    try:
        found = json.loads(line)
    except ValueError:
        return None
    return found if isinstance(found, dict) and "resourceType" in found else None


def _outcome_item(line: bytes, where: str) -> Item:
    outcome = _resource(line) or {}
    said = "; ".join(
        str(i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code"))
        for i in outcome.get("issue") or []
        if isinstance(i, dict)
    )
    return Item(location=where, source_id=None, data=None, problem=f"the server could not export: {said}")


class FhirBulkConnector:
    name: ClassVar[str] = "fhir-bulk"
    title: ClassVar[str] = "FHIR Bulk Data $export: Patients with their related resources as NDJSON"
    config_type: ClassVar[type[msgspec.Struct]] = FhirBulkConfig
    secrets: ClassVar[tuple[str, ...]] = SECRETS

    def check(self, config: FhirBulkConfig) -> None:
        check_auth(config)
        if "Patient" not in config.types:
            message = "must hold Patient: records are made from Patients"
            raise Invalid(f"config.types: {message}", errors=[{"field": "config.types", "message": message}])

    async def payloads(self, reach: Reach, config: FhirBulkConfig) -> list[dict[str, Any]]:
        return []

    async def pages(
        self, reach: Reach, config: FhirBulkConfig, cursor: Mapping[str, Any] | None
    ) -> AsyncIterator[Page]:
        state = dict(cursor or {})
        async with fhir_client(reach, config) as fhir:
            if not state.get("status_url"):
                url = kickoff_url(config.base_url, config.group_id, list(config.types), config.since)
                state = {"status_url": await kick_off(fhir, url, retry_of(config))}
                yield Page(items=[], cursor=dict(state))
            if state.get("manifest") is None:
                async for page in self._export(fhir, state, config):
                    yield page
            manifest = msgspec.convert(state["manifest"], Manifest)
            async with self._files(reach, fhir, manifest, config) as files:
                related, problems = await self._related(files, manifest, config)
                if state.get("file") is None:  # the manifest is new: checkpoint it with its rejects
                    state = state | {"file": 0, "line": 0}
                    first = _next_position(manifest, 0, 0, None)
                    yield Page(
                        items=problems + await self._errors(files, manifest, config),
                        cursor=None if first is None else state | first,
                        raw=msgspec.json.encode(state["manifest"]),
                        fraction=EXPORTING,
                    )
                    state = state | (first or {})
                    if first is None:
                        await forget(fhir, state["status_url"])
                        return
                async for page in self._patients(files, manifest, related, state, config):
                    yield page
            await forget(fhir, state["status_url"])

    async def _export(
        self, fhir: httpx.AsyncClient, state: dict[str, Any], config: FhirBulkConfig
    ) -> AsyncIterator[Page]:
        """Poll until the manifest is in ``state``; a page each time the server's progress moves."""
        deadline = time.monotonic() + config.max_export_s
        shown: float | None = None
        while True:
            status = await poll(fhir, state["status_url"], retry_of(config))
            if status.manifest is not None:
                state["manifest"] = msgspec.to_builtins(status.manifest)
                return
            if status.progress is not None and status.progress != shown:
                shown = status.progress
                yield Page(items=[], cursor=dict(state), fraction=EXPORTING * shown)
            if time.monotonic() > deadline:
                raise Invalid(
                    f"the FHIR server's bulk export did not finish in {config.max_export_s:g} s; "
                    "raise max_export_s or export less (group_id, since, types)"
                )
            await asyncio.sleep(status.wait_s or config.poll_s)

    def _files(
        self, reach: Reach, fhir: httpx.AsyncClient, manifest: Manifest, config: FhirBulkConfig
    ) -> httpx.AsyncClient:
        if not manifest.requires_access_token:
            return paced_client(reach, config.requests_per_s, headers=NDJSON_HEADERS)
        for output in [*manifest.output, *manifest.error]:
            if not same_origin(output.url, config.base_url):
                raise Invalid(
                    f"the export's file {output.url} needs the access token but is not on "
                    f"{config.base_url}; refusing to send the token there"
                )
        return fhir_client(reach, config)

    async def _related(
        self, files: httpx.AsyncClient, manifest: Manifest, config: FhirBulkConfig
    ) -> tuple[Related, list[Item]]:
        related: Related = {}
        problems: list[Item] = []
        for index, output in enumerate(manifest.output):
            if output.type == "Patient":
                continue
            for n, line in enumerate(await download(files, output.url, retry_of(config)), start=1):
                resource = _resource(line)
                patient = patient_of(resource) if resource else None
                if resource is None:
                    where = f"{output.type} file {index + 1} line {n}"
                    problems.append(Item(location=where, source_id=None, data=None, problem=_cut(where)))
                elif patient is not None:
                    related.setdefault(patient, []).append((resource, line))
        return related, problems

    async def _errors(
        self, files: httpx.AsyncClient, manifest: Manifest, config: FhirBulkConfig
    ) -> list[Item]:
        return [
            _outcome_item(line, f"export error file {index + 1} line {n}")
            for index, output in enumerate(manifest.error)
            for n, line in enumerate(await download(files, output.url, retry_of(config)), start=1)
        ]

    async def _patients(
        self,
        files: httpx.AsyncClient,
        manifest: Manifest,
        related: Related,
        state: dict[str, Any],
        config: FhirBulkConfig,
    ) -> AsyncIterator[Page]:
        position: dict[str, int] | None = {"file": int(state["file"]), "line": int(state["line"])}
        while position is not None:
            index, at = position["file"], position["line"]
            output = manifest.output[index]
            lines = await download(files, output.url, retry_of(config))
            while position is not None and position["file"] == index:
                chunk = lines[at : at + config.page_size]
                items = [_patient_item(line, related, index, at + i) for i, line in enumerate(chunk)]
                at += len(chunk)
                position = _next_position(manifest, index, at, len(lines))
                yield Page(
                    items=items,
                    cursor=None if position is None else state | position,
                    raw=b"\n".join(
                        raw
                        for line, item in zip(chunk, items, strict=True)
                        for raw in _raw(line, item, related)
                    ),
                    fraction=_fraction(manifest, index, at, len(lines)),
                )

    def to_record(self, item: Item, config: FhirBulkConfig, *, codecs: ClinicalCodecs) -> PatientCreate:
        return record_of(item.data, codecs)


def _cut(where: str) -> str:
    return f"{where} is not a FHIR resource in JSON (a line cut short?)"


def _patient_item(line: bytes, related: Related, index: int, at: int) -> Item:
    where = f"Patient file {index + 1} line {at + 1}"
    patient = _resource(line)
    if patient is None or patient.get("resourceType") != "Patient":
        return Item(location=where, source_id=None, data=None, problem=_cut(where))
    pid = str(patient.get("id") or "") or None
    others = [r for r, _ in related.get(pid or "", [])]
    return Item(location=f"Patient/{pid}", source_id=pid, data=[patient, *others])


def _raw(line: bytes, item: Item, related: Related) -> list[bytes]:
    return [line, *(raw for _, raw in related.get(item.source_id or "", []))]


def _next_position(manifest: Manifest, index: int, line: int, lines: int | None) -> dict[str, int] | None:
    """The (file, line) after ``line`` lines of Patient file ``index``; None: nothing is left."""
    if lines is not None and line < lines:
        return {"file": index, "line": line}
    after = index + 1 if lines is not None else index
    for i in range(after, len(manifest.output)):
        if manifest.output[i].type == "Patient":
            return {"file": i, "line": 0}
    return None


def _fraction(manifest: Manifest, index: int, line: int, lines: int) -> float:
    patients = [i for i, o in enumerate(manifest.output) if o.type == "Patient"]
    done = patients.index(index) + (line / lines if lines else 1.0)
    return EXPORTING + (1 - EXPORTING) * done / len(patients)


register(FhirBulkConnector())
