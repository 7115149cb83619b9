"""Reading JSON from a remote source with retries, shared by the HTTP connectors.

Timeouts, 429 (its ``Retry-After`` honoured, in seconds or as an HTTP date) and 5xx answers,
and a body cut short or not JSON are retried with exponential backoff and jitter; past
``max_retries`` the page is ``Unavailable`` and the job retries later from its checkpoint.
Another 4xx fails at once with ``Invalid`` carrying the connector's advice (``hint``).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from typing import Any

import httpx
import msgspec

from inescape.kernel.errors import Invalid, Unavailable

MAX_WAIT_S = 120.0


class Retry(msgspec.Struct, frozen=True, kw_only=True):
    """How a source is retried; ``what`` names it in errors (``the GDC API``), ``hint`` says
    what to check when it refuses a request (a 4xx other than 429)."""

    what: str
    hint: str
    backend: str  # the short name an ``Unavailable`` carries (``gdc``)
    timeout_s: float = 30.0
    max_retries: int = 5
    backoff_s: float = 1.0


def backoff(retry: Retry, attempt: int) -> float:
    """Exponential, capped, with full jitter in its upper half (retries of many jobs spread)."""
    jitter = 0.5 + random.random() / 2  # noqa: S311  (spread, not secrecy)
    return float(min(MAX_WAIT_S, retry.backoff_s * 2**attempt) * jitter)


def retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return min(MAX_WAIT_S, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(MAX_WAIT_S, max(0.0, when.timestamp() - time.time()))


async def _attempt(
    client: httpx.AsyncClient, method: str, url: str, retry: Retry, body: Any
) -> tuple[bytes, Any] | tuple[str, float | None]:
    """(raw, parsed) on success, else (problem, Retry-After) for a fault worth retrying."""
    try:
        response = await client.request(method, url, json=body, timeout=retry.timeout_s)
    except httpx.TransportError as exc:  # timeouts included
        return f"{type(exc).__name__} for {url}", None
    status = response.status_code
    if status == 429 or status >= 500:
        return f"HTTP {status} for {url}", retry_after(response)
    if status >= 400:
        raise Invalid(f"{retry.what} answered HTTP {status} for {url}; {retry.hint}")
    try:
        return response.content, json.loads(response.content)
    except ValueError:
        return f"a body cut short or not JSON for {url}", None


async def fetch_json(
    client: httpx.AsyncClient, url: str, retry: Retry, *, method: str = "GET", body: Any = None
) -> tuple[bytes, Any]:
    """The JSON body at ``url`` (raw and parsed), retried as the module docstring says."""
    problem = ""
    for attempt in range(retry.max_retries + 1):
        outcome = await _attempt(client, method, url, retry, body)
        if isinstance(outcome[0], bytes):
            return outcome[0], outcome[1]
        problem, wait = outcome
        if attempt < retry.max_retries:
            await asyncio.sleep(wait if wait is not None else backoff(retry, attempt))
    raise Unavailable(
        f"{retry.what} failed {retry.max_retries + 1} times: {problem}; the job retries later",
        backend=retry.backend,
    )
