"""cBioPortal: the clinical data of a study (``esca_tcga``, Esophageal Carcinoma, TCGA
Firehose Legacy, by default), no token needed for the public portal.

``GET {base_url}/studies/{study_id}/clinical-data?clinicalDataType=PATIENT`` (then
``SAMPLE``), paged with ``pageNumber``/``pageSize`` until a page comes back short. The answer
is long-format (one row per patient and attribute, every value a string) and a patient's rows
may span API pages, so the whole study is read and pivoted first (a study is at most some
thousands of patients), then ingested ``patients_per_page`` patients at a time in patient-id
order; the cursor is the number of patients done, and a resumed job reads the study again and
skips them. Faults are retried as ``connectors.http`` says.

Mapping, by attribute id (TCGA's; other studies may name them otherwise and are rejected
naming the attribute that is missing): ``INITIAL_PATHOLOGIC_DX_YEAR`` gives the diagnosis date
(1 July of that year, as for GDC), ``DAYS_TO_BIRTH`` (else ``AGE`` in years) the birth date,
``SEX``/``GENDER``, ``ICD_O_3_HISTOLOGY`` and ``ICD_O_3_SITE`` the condition (a site that is
not esophagus or EGJ, or no location, is a reject), ``AJCC_PATHOLOGIC_TUMOR_STAGE`` and
``PATH_T/N/M_STAGE`` the staging (left out as GDC's is), ``OS_STATUS`` with ``DAYS_TO_DEATH``
(else ``OS_MONTHS``) and ``LAST_CONTACT_DAYS_TO``/``DAYS_TO_LAST_FOLLOWUP`` (else
``OS_MONTHS``) the outcome, the first sample's ``GRADE`` the grade. Nothing else is mapped.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import date, timedelta
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

import httpx
import msgspec

from inescape.kernel.errors import Invalid
from inescape.modules.collection.connectors.base import Item, MappingFailed, Page, Reach, field_of, register
from inescape.modules.collection.connectors.gdc_mapping import ajcc, fail, reported, tumour
from inescape.modules.collection.connectors.http import DEFAULT_RATE, Retry, fetch_json, paced_client
from inescape.modules.patients.api import ClinicalCodecs, PatientCreate

DAYS_A_MONTH = 365.25 / 12


class CbioportalConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    base_url: Annotated[str, msgspec.Meta(pattern=r"^https?://[^\s]+\Z", max_length=500)] = (
        "https://www.cbioportal.org/api"
    )
    study_id: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_]{0,99}\Z")] = "esca_tcga"
    page_size: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 10_000  # API rows a request
    patients_per_page: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 50
    timeout_s: Annotated[float, msgspec.Meta(gt=0, le=300)] = 60.0
    max_retries: Annotated[int, msgspec.Meta(ge=0, le=10)] = 5
    backoff_s: Annotated[float, msgspec.Meta(ge=0, le=60)] = 1.0
    requests_per_s: Annotated[float, msgspec.Meta(gt=0, le=1000)] = DEFAULT_RATE  # to the host, all jobs


def retry_of(config: CbioportalConfig) -> Retry:
    return Retry(
        what="cBioPortal",
        hint="check base_url (the API root, e.g. https://www.cbioportal.org/api) and study_id "
        "(GET /api/studies?keyword=esophag lists the studies)",
        backend="cbioportal",
        timeout_s=config.timeout_s,
        max_retries=config.max_retries,
        backoff_s=config.backoff_s,
    )


async def clinical_rows(
    client: httpx.AsyncClient, config: CbioportalConfig, kind: str, bodies: list[bytes]
) -> list[dict[str, Any]]:
    """Every ``kind`` (PATIENT or SAMPLE) row of the study, page by page."""
    base = f"{config.base_url.rstrip('/')}/studies/{quote(config.study_id)}/clinical-data"
    rows: list[dict[str, Any]] = []
    number = 0
    while True:
        query = f"clinicalDataType={kind}&projection=SUMMARY&pageSize={config.page_size}&pageNumber={number}"
        url = f"{base}?{query}"
        raw, found = await fetch_json(client, url, retry_of(config))
        if not isinstance(found, list):
            raise Invalid(f"cBioPortal answered {url} with JSON that is not a list; check base_url")
        bodies.append(raw)
        rows += [r for r in found if isinstance(r, dict)]
        if len(found) < config.page_size:
            return rows
        number += 1


def pivot(patients: list[dict[str, Any]], samples: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Attributes by patient id: the patient's, then its first sample's (by sample id)."""
    wide: dict[str, dict[str, str]] = {}
    for row in patients:
        wide.setdefault(str(row.get("patientId")), {})[str(row.get("clinicalAttributeId"))] = str(
            row.get("value")
        )
    for row in sorted(samples, key=lambda r: str(r.get("sampleId"))):
        attrs = wide.setdefault(str(row.get("patientId")), {})
        attrs.setdefault(str(row.get("clinicalAttributeId")), str(row.get("value")))
    wide.pop("None", None)
    return wide


class CbioportalConnector:
    name: ClassVar[str] = "cbioportal"
    title: ClassVar[str] = "cBioPortal: a study's patient and sample clinical data (esca_tcga)"
    config_type: ClassVar[type[msgspec.Struct]] = CbioportalConfig
    secrets: ClassVar[tuple[str, ...]] = ()

    def check(self, config: CbioportalConfig) -> None:
        return None

    async def payloads(self, reach: Reach, config: CbioportalConfig) -> list[dict[str, Any]]:
        return []

    async def pages(
        self, reach: Reach, config: CbioportalConfig, cursor: Mapping[str, Any] | None
    ) -> AsyncIterator[Page]:
        bodies: list[bytes] = []
        async with paced_client(
            reach, config.requests_per_s, headers={"Accept": "application/json"}
        ) as client:
            patients = await clinical_rows(client, config, "PATIENT", bodies)
            samples = await clinical_rows(client, config, "SAMPLE", bodies)
        wide = pivot(patients, samples)
        ids = sorted(wide)
        done = int((cursor or {}).get("patients", 0))
        raw = b"[" + b",".join(bodies) + b"]"
        while True:
            chunk = ids[done : done + config.patients_per_page]
            done += len(chunk)
            items = [Item(location=f"patient {p}", source_id=p, data=wide[p]) for p in chunk]
            end = done >= len(ids)
            yield Page(
                items=items,
                cursor=None if end else {"patients": done},
                raw=raw,
                fraction=done / len(ids) if ids else 1.0,
            )
            if end:
                return
            raw = b""  # the study's answers are kept once a run

    def to_record(self, item: Item, config: CbioportalConfig, *, codecs: ClinicalCodecs) -> PatientCreate:
        try:
            return msgspec.convert(patient_record(item.data), PatientCreate, strict=False)
        except msgspec.ValidationError as exc:
            field, message = field_of(exc)
            raise MappingFailed(
                f"{field}: {message}", errors=[{"field": field, "message": message}]
            ) from None


def number(attrs: Mapping[str, str], name: str) -> float | None:
    try:
        return float(attrs[name])
    except (KeyError, ValueError):
        return None


def patient_record(attrs: Mapping[str, str]) -> dict[str, Any]:
    """The record (JSON-shaped) a pivoted patient makes; ``MappingFailed`` naming the attribute."""
    year = number(attrs, "INITIAL_PATHOLOGIC_DX_YEAR")
    if year is None:
        raise fail("INITIAL_PATHOLOGIC_DX_YEAR", "not reported: the diagnosis date cannot be derived")
    diagnosed = date(int(year), 7, 1)
    sex = str(reported(attrs.get("SEX") or attrs.get("GENDER")) or "").lower()
    condition = tumour(
        str(reported(attrs.get("ICD_O_3_HISTOLOGY")) or ""),
        str(reported(attrs.get("ICD_O_3_SITE")) or "").upper(),
        str(attrs.get("GRADE") or ""),
        diagnosed,
        fields=("ICD_O_3_HISTOLOGY", "ICD_O_3_SITE"),
    )
    return {
        "sex": sex if sex in ("male", "female") else "unknown",
        "birth_date": born(attrs, diagnosed).isoformat(),
        "conditions": [condition],
        "staging": ajcc(
            str(attrs.get("AJCC_PATHOLOGIC_TUMOR_STAGE") or ""),
            *(str(attrs.get(f"PATH_{x}_STAGE") or "") for x in "TNM"),
            method=f"AJCC {attrs.get('AJCC_STAGING_EDITION') or 'unknown'} edition (cBioPortal)",
            assessed_on=diagnosed,
        ),
        "outcome": outcome(attrs, diagnosed),
    }


def born(attrs: Mapping[str, str], diagnosed: date) -> date:
    days = number(attrs, "DAYS_TO_BIRTH")
    if days is not None and days < 0:
        return diagnosed + timedelta(days=int(days))
    age = number(attrs, "AGE")
    if age is not None and age > 0:
        return diagnosed - timedelta(days=round(age * 365.25))
    raise fail("AGE", "no DAYS_TO_BIRTH or AGE: the birth date cannot be derived")


def outcome(attrs: Mapping[str, str], diagnosed: date) -> dict[str, Any]:
    status = str(attrs.get("OS_STATUS") or "").upper()
    vital = "dead" if "DECEASED" in status else "alive" if "LIVING" in status else "unknown"
    months = number(attrs, "OS_MONTHS")
    os_days = round(months * DAYS_A_MONTH) if months is not None else None
    death = number(attrs, "DAYS_TO_DEATH")
    death = death if death is not None else os_days
    if vital == "dead" and death is None:
        raise fail("DAYS_TO_DEATH", "the patient died but neither DAYS_TO_DEATH nor OS_MONTHS is reported")
    contact = number(attrs, "LAST_CONTACT_DAYS_TO") or number(attrs, "DAYS_TO_LAST_FOLLOWUP")
    last = max(
        (d for d in (contact, os_days, death if vital == "dead" else None) if d is not None), default=0
    )
    found: dict[str, Any] = {
        "vital_status": vital,
        "last_follow_up": (diagnosed + timedelta(days=int(last))).isoformat(),
    }
    if vital == "dead":
        found["death_date"] = (diagnosed + timedelta(days=int(death or 0))).isoformat()
    return found


register(CbioportalConnector())
