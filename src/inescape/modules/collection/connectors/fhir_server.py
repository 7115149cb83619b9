"""A FHIR R4 server: Patients searched page by page (``next`` links), and for each Patient its
Conditions, Observations, Procedures and MedicationRequests, signed in with a bearer token or
SMART Backend Services (``fhir_auth``), at most ``requests_per_s`` requests a second.

Timeouts, 429 (its ``Retry-After`` honoured) and 5xx answers, and a body cut short are retried
(``connectors.http``) with exponential backoff and jitter; past ``max_retries`` the page is
``Unavailable`` and the job retries later from its checkpoint (the last page committed).
Another 4xx (a bad token, a wrong base URL) fails the job with the server's answer. ``next``
links must stay on the configured server: the token is never sent elsewhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, ClassVar

import httpx
import msgspec

from inescape.kernel.errors import Invalid
from inescape.modules.collection.connectors.base import Item, MappingFailed, Page, Reach, register
from inescape.modules.collection.connectors.fhir_auth import (
    SECRETS,
    URL,
    FhirAuthConfig,
    check_auth,
    fhir_client,
)
from inescape.modules.collection.connectors.http import Retry, fetch_json
from inescape.modules.patients.api import ClinicalCodecs, PatientCreate

RELATED = ("Condition", "Observation", "Procedure", "MedicationRequest")


class FhirConfig(FhirAuthConfig, frozen=True, kw_only=True, forbid_unknown_fields=True):
    base_url: URL
    page_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 50


def retry_of(config: FhirAuthConfig) -> Retry:
    return Retry(
        what="the FHIR server",
        hint="check the base URL and the token",
        backend="fhir",
        timeout_s=config.timeout_s,
        max_retries=config.max_retries,
        backoff_s=config.backoff_s,
    )


async def fetch(client: httpx.AsyncClient, url: str, config: FhirAuthConfig) -> tuple[bytes, dict[str, Any]]:
    """The JSON body at ``url`` (raw and parsed), retried as the module docstring says."""
    raw, parsed = await fetch_json(client, url, retry_of(config))
    if not isinstance(parsed, dict):
        raise Invalid(f"the FHIR server answered {url} with JSON that is not a Bundle; check the base URL")
    return raw, parsed


def _next(bundle: Mapping[str, Any], config: FhirConfig) -> str | None:
    link = next((x.get("url") for x in bundle.get("link") or [] if x.get("relation") == "next"), None)
    if link and not str(link).startswith(config.base_url.rstrip("/")):
        raise Invalid(f"the FHIR server's next link {link!r} leaves {config.base_url}; refusing to follow it")
    return str(link) if link else None


def _resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle.get("entry") or []
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]


class FhirServerConnector:
    name: ClassVar[str] = "fhir"
    title: ClassVar[str] = (
        "FHIR R4 server: Patient search with Condition, Observation, Procedure, MedicationRequest"
    )
    config_type: ClassVar[type[msgspec.Struct]] = FhirConfig
    secrets: ClassVar[tuple[str, ...]] = SECRETS

    def check(self, config: FhirConfig) -> None:
        check_auth(config)

    async def payloads(self, reach: Reach, config: FhirConfig) -> list[dict[str, Any]]:
        return []

    async def pages(
        self, reach: Reach, config: FhirConfig, cursor: Mapping[str, Any] | None
    ) -> AsyncIterator[Page]:
        base = config.base_url.rstrip("/")
        url: str | None = (cursor or {}).get("next") or f"{base}/Patient?_count={config.page_size}"
        async with fhir_client(reach, config) as client:
            while url is not None:
                raw, bundle = await fetch(client, url, config)
                bodies, items = [raw], []
                for patient in (r for r in _resources(bundle) if r.get("resourceType") == "Patient"):
                    related = await self._related(client, base, str(patient.get("id")), config, bodies)
                    items.append(
                        Item(
                            location=f"Patient/{patient.get('id')}",
                            source_id=patient.get("id"),
                            data=[patient, *related],
                        )
                    )
                url = _next(bundle, config)
                yield Page(
                    items=items, cursor={"next": url} if url else None, raw=b"[" + b",".join(bodies) + b"]"
                )

    async def _related(
        self, client: httpx.AsyncClient, base: str, patient_id: str, config: FhirConfig, bodies: list[bytes]
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for kind in RELATED:
            url: str | None = f"{base}/{kind}?patient={patient_id}&_count={config.page_size}"
            while url is not None:
                raw, bundle = await fetch(client, url, config)
                bodies.append(raw)
                found += [r for r in _resources(bundle) if r.get("resourceType") == kind]
                url = _next(bundle, config)
        return found

    def to_record(self, item: Item, config: FhirConfig, *, codecs: ClinicalCodecs) -> PatientCreate:
        return record_of(item.data, codecs)


def record_of(resources: list[dict[str, Any]], codecs: ClinicalCodecs) -> PatientCreate:
    """The record a Patient and its related resources give (the clinical core's FHIR mapping)."""
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}
    try:
        return codecs.from_bundle(bundle)
    except Invalid as exc:
        raise MappingFailed(exc.detail, errors=exc.errors) from None


register(FhirServerConnector())
