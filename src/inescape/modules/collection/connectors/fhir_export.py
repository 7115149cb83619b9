"""FHIR Bulk Data export, the client's side: the kick-off, polling its status, the completion
manifest, and reading NDJSON files.

The kick-off (``GET [base]/Patient/$export`` or ``Group/[id]/$export`` with ``Prefer:
respond-async``) answers 202 with the status URL in ``Content-Location``. The status URL
answers 202 while the export runs (``Retry-After`` says when to ask again, ``X-Progress`` how
far it is), then 200 with the manifest. An error answer there with an OperationOutcome that is
not ``transient`` (or a 404/410: the export is gone) means the export failed: the job fails
with the server's reason. 429 and a 5xx without such an outcome are retried as ``http`` says.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode, urlsplit

import httpx
import msgspec

from inescape.kernel.errors import DomainError, Invalid
from inescape.modules.collection.connectors.http import Retry, fetch, outcome_text, retry_after

KICKOFF_HEADERS = {"Accept": "application/fhir+json", "Prefer": "respond-async"}
NDJSON_HEADERS = {"Accept": "application/fhir+ndjson"}
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*%")


class Output(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    url: str
    count: int | None = None


class Manifest(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    transaction_time: str
    request: str
    requires_access_token: bool = False
    output: list[Output] = []
    error: list[Output] = []


class Status(msgspec.Struct, frozen=True, kw_only=True):
    """One status answer: the manifest once done, else when to ask again and how far it is."""

    manifest: Manifest | None = None
    wait_s: float = 0.0
    progress: float | None = None  # 0..1, from X-Progress when it holds a percentage


def kickoff_url(base: str, group_id: str | None, types: list[str], since: str | None) -> str:
    target = f"Group/{group_id}" if group_id else "Patient"
    query = {"_type": ",".join(types)} | ({"_since": since} if since else {})
    return f"{base.rstrip('/')}/{target}/$export?{urlencode(query, safe=',')}"


def _location(response: httpx.Response) -> str:
    if response.status_code != 202 or not response.headers.get("Content-Location"):
        raise ValueError("no status URL")  # not a bulk kick-off answer: retried, then Unavailable
    return str(response.headers["Content-Location"])


def _kickoff_refused(response: httpx.Response) -> DomainError | None:
    if response.status_code == 429 or response.status_code >= 500:
        return None
    said = outcome_text(response) or f"HTTP {response.status_code}"
    return Invalid(
        f"the FHIR server refused the bulk export ({said}); check base_url, group_id, types and "
        "that the server supports $export and the client's scopes allow it"
    )


async def kick_off(client: httpx.AsyncClient, url: str, retry: Retry) -> str:
    """The status URL of a new export."""
    _, status_url = await fetch(
        client, url, retry, headers=KICKOFF_HEADERS, read=_location, refuse=_kickoff_refused
    )
    return str(status_url)


def _transient(response: httpx.Response) -> bool:
    try:
        body = json.loads(response.content)
    except ValueError:
        return True  # no OperationOutcome: a proxy's error page, not the export's
    issues = body.get("issue") if isinstance(body, dict) else None
    return not issues or any(isinstance(i, dict) and i.get("code") == "transient" for i in issues)


def _status_refused(response: httpx.Response) -> DomainError | None:
    code = response.status_code
    if code in (404, 410):
        return Invalid(f"the export at {response.url} is gone (HTTP {code}): it expired or was deleted")
    if code == 429 or (code >= 500 and _transient(response)) or code in (401, 403):
        return None
    said = outcome_text(response) or f"HTTP {code}"
    return Invalid(f"the FHIR server's bulk export failed: {said}")


def _status(response: httpx.Response) -> Status:
    if response.status_code == 200:
        return Status(manifest=msgspec.json.decode(response.content, type=Manifest))
    found = _PERCENT.search(response.headers.get("X-Progress", ""))
    return Status(
        wait_s=retry_after(response) or 0.0,
        progress=min(1.0, float(found.group(1)) / 100) if found else None,
    )


def _read_status(response: httpx.Response) -> Status:
    try:
        return _status(response)
    except msgspec.ValidationError as exc:
        raise Invalid(f"the FHIR server's bulk export manifest is not one: {exc}") from None
    except msgspec.DecodeError:
        raise ValueError("manifest cut short") from None


async def poll(client: httpx.AsyncClient, status_url: str, retry: Retry) -> Status:
    _, status = await fetch(client, status_url, retry, read=_read_status, refuse=_status_refused)
    return status  # type: ignore[no-any-return]


async def download(client: httpx.AsyncClient, url: str, retry: Retry) -> list[bytes]:
    """The lines of an NDJSON file (a line cut short is kept: it becomes a reject)."""
    response, _ = await fetch(client, url, retry, headers=NDJSON_HEADERS, read=lambda r: None)
    return [line for line in response.content.split(b"\n") if line.strip()]


def same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


async def forget(client: httpx.AsyncClient, status_url: str) -> None:
    """Tell the server its files may go (best effort: they expire on their own)."""
    try:
        await client.delete(status_url, timeout=10)
    except httpx.HTTPError:
        return
