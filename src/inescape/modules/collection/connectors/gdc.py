"""The NCI Genomic Data Commons API: a project's cases (TCGA-ESCA by default) with their
demographic, diagnoses (and their treatments), exposures and follow-ups, no token needed.

``POST {base_url}/cases`` with the ``filters`` (``project.project_id`` in the project), the
``expand`` groups and ``from``/``size`` in a JSON body (GDC's form for large queries); a page
is one answer, the cursor the ``from`` of the next one, the end where ``data.pagination.total``
says. Faults are retried as ``connectors.http`` says (429 with Retry-After, 5xx, timeouts, a
body cut short). The mapping and what it cannot map: ``gdc_mapping``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, ClassVar

import msgspec

from inescape.kernel.errors import Invalid
from inescape.modules.collection.connectors.base import Item, MappingFailed, Page, Reach, field_of, register
from inescape.modules.collection.connectors.gdc_mapping import case_record
from inescape.modules.collection.connectors.http import DEFAULT_RATE, Retry, fetch_json, paced_client
from inescape.modules.patients.api import ClinicalCodecs, PatientCreate

EXPAND = "demographic,diagnoses,diagnoses.treatments,exposures,follow_ups"


class GdcConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    base_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s]+\Z", max_length=500)] = (
        "https://api.gdc.cancer.gov"
    )
    project_id: Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9][A-Z0-9_-]{0,63}\Z")] = "TCGA-ESCA"
    page_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 60.0
    max_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 5
    backoff_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0
    requests_per_s: Annotated[float, msgspec.Meta(gt=0, le=1000)] = DEFAULT_RATE  # to the host, all jobs


def retry_of(config: GdcConfig) -> Retry:
    return Retry(
        what="the GDC API",
        hint="check base_url (the API root, e.g. https://api.gdc.cancer.gov) and project_id",
        backend="gdc",
        timeout_s=config.timeout_s,
        max_retries=config.max_retries,
        backoff_s=config.backoff_s,
    )


def query(config: GdcConfig, start: int) -> dict[str, Any]:
    """The ``/cases`` request body for the page starting at ``start``."""
    return {
        "filters": {"op": "in", "content": {"field": "project.project_id", "value": [config.project_id]}},
        "expand": EXPAND,
        "format": "JSON",
        "size": config.page_size,
        "from": start,
    }


def hits_of(envelope: Any, url: str) -> tuple[list[dict[str, Any]], int]:
    """(hits, total) of a GDC list answer; ``Invalid`` when it is not one."""
    data = envelope.get("data") if isinstance(envelope, dict) else None
    hits = data.get("hits") if isinstance(data, dict) else None
    total = (data.get("pagination") or {}).get("total") if isinstance(data, dict) else None
    if not isinstance(hits, list) or not isinstance(total, int):
        raise Invalid(
            f"the GDC API answered {url} without data.hits and data.pagination.total; "
            "check base_url: it should be the API root, e.g. https://api.gdc.cancer.gov"
        )
    return [h for h in hits if isinstance(h, dict)], total


def item_of(case: dict[str, Any], position: int) -> Item:
    source_id = case.get("submitter_id") or case.get("case_id")
    where = f"case {source_id}" if source_id else f"hit {position}"
    return Item(location=where, source_id=str(source_id) if source_id else None, data=case)


class GdcConnector:
    name: ClassVar[str] = "gdc"
    title: ClassVar[str] = "NCI GDC API: a project's cases (TCGA-ESCA) with clinical data"
    config_type: ClassVar[type[msgspec.Struct]] = GdcConfig
    secrets: ClassVar[tuple[str, ...]] = ()

    def check(self, config: GdcConfig) -> None:
        return None

    async def payloads(self, reach: Reach, config: GdcConfig) -> list[dict[str, Any]]:
        return []

    async def pages(
        self, reach: Reach, config: GdcConfig, cursor: Mapping[str, Any] | None
    ) -> AsyncIterator[Page]:
        url = f"{config.base_url.rstrip('/')}/cases"
        start = int((cursor or {}).get("from", 0))
        async with paced_client(
            reach, config.requests_per_s, headers={"Accept": "application/json"}
        ) as client:
            while True:
                raw, envelope = await fetch_json(
                    client, url, retry_of(config), method="POST", body=query(config, start)
                )
                hits, total = hits_of(envelope, url)
                items = [item_of(case, start + i) for i, case in enumerate(hits)]
                start += len(hits)
                done = not hits or start >= total
                yield Page(
                    items=items,
                    cursor=None if done else {"from": start},
                    raw=raw,
                    fraction=min(1.0, start / total) if total else 1.0,
                )
                if done:
                    return

    def to_record(self, item: Item, config: GdcConfig, *, codecs: ClinicalCodecs) -> PatientCreate:
        try:
            return msgspec.convert(case_record(item.data), PatientCreate, strict=False)
        except msgspec.ValidationError as exc:
            field, message = field_of(exc)
            raise MappingFailed(
                f"{field}: {message}", errors=[{"field": field, "message": message}]
            ) from None


register(GdcConnector())
