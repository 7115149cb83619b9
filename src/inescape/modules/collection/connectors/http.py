"""Reading from a remote source with retries and an outbound rate limit, shared by the HTTP
connectors.

Timeouts, 429 (its ``Retry-After`` honoured, in seconds or as an HTTP date) and 5xx answers,
and a body cut short or not JSON are retried with exponential backoff and jitter; past
``max_retries`` the page is ``Unavailable`` and the job retries later from its checkpoint.
Another 4xx fails at once with ``Invalid`` carrying the connector's advice (``hint``).

Every request a connector's client sends (retries and token requests included) first waits
its turn at the source's host: ``requests_per_s`` requests a second, spaced evenly, counted
per host by the platform's rate limiter. With Redis configured the count is shared by every
job in every worker process; without it, by the jobs of one process (and the same when Redis
is down: the pace then holds per process until it is back).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
import msgspec

from inescape.infra.ratelimit import MemoryRateLimiter, RateLimiter, rate_limiter_for
from inescape.kernel.errors import DomainError, Invalid, Unavailable
from inescape.kernel.ports import Cache
from inescape.modules.collection.connectors.base import Reach

MAX_WAIT_S = 120.0
DEFAULT_RATE = 10.0  # requests a second to one source host, unless its config says otherwise
_LOCAL = MemoryRateLimiter()  # the process's own pace, when there is no Redis


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


# --- the outbound rate limit ---------------------------------------------------------------


def limiter_of(cache: Cache | None) -> RateLimiter:
    """The platform's limiter when it is Redis (shared across processes), else this process's."""
    limiter = rate_limiter_for(cache) if cache is not None else _LOCAL
    return limiter if limiter.backend == "redis" else _LOCAL


async def wait_turn(limiter: RateLimiter, url: httpx.URL, rate_per_s: float) -> None:
    """Wait until a request to ``url``'s host keeps that host's pace."""
    key = f"collection-source:{url.host}:{url.port or url.scheme}"
    while True:
        try:
            decision = await limiter.hit(key, 1, 1.0 / rate_per_s)
        except Unavailable:  # Redis down: keep the pace in this process rather than none
            decision = await _LOCAL.hit(key, 1, 1.0 / rate_per_s)
        if decision.allowed:
            return
        await asyncio.sleep(decision.retry_after_s)


def paced_client(reach: Reach, rate_per_s: float, **options: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every request (redirects included) waits its turn at
    its host, then goes only where the outbound allow-list lets it (``outbound.py``)."""

    async def pace(request: httpx.Request) -> None:
        await wait_turn(reach.limiter, request.url, rate_per_s)

    return httpx.AsyncClient(event_hooks={"request": [pace, reach.outbound.pin]}, **options)


# --- reading with retries ------------------------------------------------------------------

Reader = Callable[[httpx.Response], Any]  # raises ValueError for a body cut short
Refusal = Callable[[httpx.Response], DomainError | None]  # an error answer that must not be retried


def read_json(response: httpx.Response) -> Any:
    return json.loads(response.content)


def outcome_text(response: httpx.Response) -> str:
    """The diagnostics of an OperationOutcome body (FHIR's error shape), else ``""``."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return ""
    issues = body.get("issue") if isinstance(body, dict) else None
    texts = [
        str(i.get("diagnostics") or (i.get("details") or {}).get("text") or i.get("code") or "")
        for i in issues or []
        if isinstance(i, dict)
    ]
    return "; ".join(t for t in texts if t)[:300]


async def _attempt(
    client: httpx.AsyncClient, url: str, retry: Retry, read: Reader, refuse: Refusal | None, **kw: Any
) -> tuple[httpx.Response, Any] | tuple[str, float | None]:
    """(response, read body) on success, else (problem, Retry-After) for a fault worth retrying."""
    try:
        response = await client.request(url=url, timeout=retry.timeout_s, **kw)
    except httpx.TransportError as exc:  # timeouts included
        return f"{type(exc).__name__} for {url}", None
    status = response.status_code
    refused = refuse(response) if refuse is not None and status >= 400 else None
    if refused is not None:
        raise refused
    if status == 429 or status >= 500:
        return f"HTTP {status} for {url}", retry_after(response)
    if status >= 400:
        said = outcome_text(response)
        raise Invalid(
            f"{retry.what} answered HTTP {status} for {url}{f' ({said})' if said else ''}; {retry.hint}"
        )
    try:
        return response, read(response)
    except ValueError:
        return f"a body cut short or not readable for {url}", None


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    retry: Retry,
    *,
    method: str = "GET",
    read: Reader = read_json,
    refuse: Refusal | None = None,
    **options: Any,
) -> tuple[httpx.Response, Any]:
    """The answer at ``url`` and its body as ``read`` gives it, retried as the module
    docstring says; ``refuse`` turns an error answer into an error raised at once."""
    problem = ""
    for attempt in range(retry.max_retries + 1):
        outcome = await _attempt(client, url, retry, read, refuse, method=method, **options)
        if isinstance(outcome[0], httpx.Response):
            return outcome[0], outcome[1]
        problem, wait = outcome
        if attempt < retry.max_retries:
            await asyncio.sleep(wait if wait is not None else backoff(retry, attempt))
    raise Unavailable(
        f"{retry.what} failed {retry.max_retries + 1} times: {problem}; the job retries later",
        backend=retry.backend,
    )


async def fetch_json(
    client: httpx.AsyncClient, url: str, retry: Retry, *, method: str = "GET", body: Any = None
) -> tuple[bytes, Any]:
    """The JSON body at ``url`` (raw and parsed), retried as the module docstring says."""
    response, parsed = await fetch(client, url, retry, method=method, json=body)
    return response.content, parsed
