"""Files uploaded to ``POST /api/v1/collection/uploads``: CSV or Parquet with a column
mapping, FHIR R4 NDJSON (bulk data: each Patient followed by the resources about it) and a FHIR
Bundle.

CSV and NDJSON are read line by line from the ``datasets`` bucket; a Bundle is one JSON
document and is read whole (at most ``MAX_BUNDLE_BYTES``). The cursor is the number of items
already ingested: a resumed job reads past them again without ingesting them twice. Parquet is
read a slice of rows at a time (``connectors/parquet.py``); its cursor is the row offset.
"""

from __future__ import annotations

import csv
import json
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, ClassVar, Literal, get_args

import msgspec

from inescape.kernel.errors import Invalid, NotFound
from inescape.kernel.ports import DocumentStore
from inescape.modules.collection.connectors.base import Item, MappingFailed, Page, Reach, field_of, register
from inescape.modules.collection.connectors.lines import lines_of, logical_lines
from inescape.modules.collection.connectors.mapping import record_from_row, unknown_fields
from inescape.modules.collection.connectors.parquet import parquet_pages
from inescape.modules.generation.api import DatasetsApi
from inescape.modules.patients.api import ClinicalCodecs, PatientCreate

UPLOADS = "collection_uploads"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
Format = Literal["csv", "parquet", "ndjson", "bundle"]
FORMATS: tuple[str, ...] = get_args(Format)
MAPPED = ("csv", "parquet")  # rows: need a column mapping


class UploadConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    upload_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    format: Format
    # record field -> column; CSV and Parquet need at least source_record_id (the source's own id)
    mapping: dict[str, str] = {}
    delimiter: Annotated[str, msgspec.Meta(min_length=1, max_length=1)] = ","
    page_size: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 500


class UploadNotFound(NotFound):
    pass


class UploadRecords:
    """What is known of each uploaded file (``collection_uploads``); its bytes are a dataset
    object (``DatasetsApi.upload_key``)."""

    def __init__(self, documents: DocumentStore) -> None:
        self._documents = documents

    async def get(self, upload_id: str, *, owner: str | None = None) -> dict[str, Any]:
        """``owner``: only an upload that user sent is found (another's is 404, as if it did
        not exist); None finds anyone's."""
        found = await self._documents.get(UPLOADS, upload_id)
        if found is None or (owner is not None and found.get("created_by") != owner):
            raise UploadNotFound(
                f"no upload {upload_id!r}; POST the file to /api/v1/collection/uploads first"
            )
        return dict(found)

    async def add(self, doc: dict[str, Any]) -> None:
        await self._documents.insert(UPLOADS, doc)


def _stores(reach: Reach) -> tuple[DatasetsApi, UploadRecords]:
    if reach.datasets is None or reach.uploads is None:
        raise RuntimeError("the upload connector reads uploads: give it the datasets and the upload records")
    return reach.datasets, reach.uploads


class UploadConnector:
    name: ClassVar[str] = "upload"
    title: ClassVar[str] = "File upload: CSV (with a column mapping), FHIR R4 NDJSON or Bundle"
    config_type: ClassVar[type[msgspec.Struct]] = UploadConfig
    secrets: ClassVar[tuple[str, ...]] = ()

    def check(self, config: UploadConfig) -> None:
        if config.format not in MAPPED:
            return
        if "source_record_id" not in config.mapping:
            raise _config_error("config.mapping", "map source_record_id to the column holding each row's id")
        unknown = unknown_fields(config.mapping)
        if unknown:
            raise _config_error("config.mapping", f"the record has no field {unknown[0]!r}")

    async def payloads(self, reach: Reach, config: UploadConfig) -> list[dict[str, Any]]:
        upload = await _stores(reach)[1].get(config.upload_id)
        return [{k: upload[k] for k in ("key", "sha256", "bytes", "filename")}]

    async def pages(
        self, reach: Reach, config: UploadConfig, cursor: Mapping[str, Any] | None
    ) -> AsyncIterator[Page]:
        datasets, uploads = _stores(reach)
        upload = await uploads.get(config.upload_id)
        if config.format == "parquet":
            async for rows in _parquet(datasets, upload["key"], config, cursor):
                yield rows
            return
        done = int((cursor or {}).get("items", 0))
        items = _items(datasets, upload["key"], config)
        page: list[Item] = []
        seen = 0
        async for item in items:
            seen += 1
            if seen <= done:
                continue
            page.append(item)
            if len(page) == config.page_size:
                yield Page(items=page, cursor={"items": seen})
                page = []
        yield Page(items=page, cursor=None)

    def to_record(self, item: Item, config: UploadConfig, *, codecs: ClinicalCodecs) -> PatientCreate:
        if config.format in MAPPED:
            return _convert(record_from_row(item.data, config.mapping))
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": item.data}
        try:
            return codecs.from_bundle(bundle)
        except Invalid as exc:
            raise MappingFailed(exc.detail, errors=exc.errors) from None


def _config_error(field: str, message: str) -> Invalid:
    return Invalid(f"{field}: {message}", errors=[{"field": field, "message": message}])


def _convert(data: dict[str, Any]) -> PatientCreate:
    try:
        return msgspec.convert(data, PatientCreate, strict=False)
    except msgspec.ValidationError as exc:
        field, message = field_of(exc)
        raise MappingFailed(f"{field}: {message}", errors=[{"field": field, "message": message}]) from None


def _parquet(
    datasets: DatasetsApi, key: str, config: UploadConfig, cursor: Mapping[str, Any] | None
) -> AsyncIterator[Page]:
    return parquet_pages(
        datasets,
        key,
        columns=list(config.mapping.values()),
        id_column=config.mapping["source_record_id"],
        page_size=config.page_size,
        start=int((cursor or {}).get("rows", 0)),
    )


def _items(datasets: DatasetsApi, key: str, config: UploadConfig) -> AsyncIterator[Item]:
    if config.format == "csv":
        return _csv_items(datasets, key, config)
    if config.format == "ndjson":
        return _fhir_items(_ndjson_resources(datasets, key))
    return _fhir_items(_bundle_resources(datasets, key))


async def _csv_items(datasets: DatasetsApi, key: str, config: UploadConfig) -> AsyncIterator[Item]:
    """Rows numbered as a spreadsheet shows them (the header is row 1)."""
    header: list[str] | None = None
    id_column = config.mapping["source_record_id"]
    async for number, text in logical_lines(lines_of(datasets, key)):
        cells = next(csv.reader([text], delimiter=config.delimiter), [])
        if header is None:
            header = [c.strip() for c in cells]
            continue
        if not any(c.strip() for c in cells):
            continue
        row = dict(zip(header, cells, strict=False))
        problem = None if len(cells) == len(header) else f"{len(cells)} cells, the header has {len(header)}"
        source_id = (row.get(id_column) or "").strip() or None
        yield Item(location=f"row {number}", source_id=source_id, data=row, problem=problem)


async def _ndjson_resources(datasets: DatasetsApi, key: str) -> AsyncIterator[tuple[str, Any]]:
    number = 0
    async for line in lines_of(datasets, key):
        number += 1
        if line.strip():
            try:
                yield f"line {number}", {"resource": json.loads(line)}
            except ValueError as exc:
                yield f"line {number}", exc


async def _bundle_resources(datasets: DatasetsApi, key: str) -> AsyncIterator[tuple[str, Any]]:
    raw = bytearray()
    async for chunk in datasets.stream(key):
        raw += chunk
        if len(raw) > MAX_BUNDLE_BYTES:
            raise Invalid("a Bundle upload is at most 64 MiB; upload FHIR NDJSON for more")
    try:
        bundle = json.loads(bytes(raw))
    except ValueError as exc:
        raise Invalid(f"the upload is not a JSON FHIR Bundle: {exc}") from None
    for i, entry in enumerate(bundle.get("entry") or [] if isinstance(bundle, dict) else []):
        # the whole entry: its fullUrl resolves the Bundle's urn:uuid references
        yield f"entry {i}", entry if isinstance(entry, dict) else ValueError("an entry that is not an object")


async def _fhir_items(entries: AsyncIterator[tuple[str, Any]]) -> AsyncIterator[Item]:
    """Each Patient with the resources that follow it (bulk-data order), as one item whose
    data are Bundle entries (``{"resource", "fullUrl"?}``)."""
    held: list[dict[str, Any]] = []
    where = ""
    async for location, entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else entry
        if not isinstance(resource, dict):
            yield Item(
                location=location, source_id=None, data=None, problem=f"not a FHIR resource: {resource}"
            )
            continue
        if resource.get("resourceType") == "Patient" and held:
            yield _patient_item(where, held)
            held = []
        if not held:
            where = location
        held.append(entry)
    if held:
        yield _patient_item(where, held)


def _patient_item(location: str, entries: list[dict[str, Any]]) -> Item:
    first = entries[0]["resource"]
    if first.get("resourceType") != "Patient":
        return Item(location=location, source_id=None, data=entries, problem="resources before any Patient")
    patient_id = str(first.get("id") or "") or None
    return Item(location=f"Patient/{patient_id} ({location})", source_id=patient_id, data=entries)


register(UploadConnector())
