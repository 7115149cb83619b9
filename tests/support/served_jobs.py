"""Watching a job of a served process over HTTP (the kill-mid-job tests)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.support.auth import http_bearer

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")
_tokens: dict[str, dict[str, str]] = {}


def admin(base: str) -> dict[str, str]:
    """One login per server (tokens outlive a restart: the signing keys are in the data dir)."""
    if base not in _tokens:
        _tokens[base] = http_bearer(base, "admin")
    return _tokens[base]


def job_state(base: str, module: str, job_id: str) -> dict:
    return httpx.get(f"{base}/api/v1/{module}/jobs/{job_id}", timeout=5, headers=admin(base)).json()


def wait_job(
    base: str,
    module: str,
    job_id: str,
    until: Callable[[dict], bool],
    *,
    timeout: float = 60,
    poll: float = 0.05,
    while_active: bool = False,
) -> dict:
    """Poll until ``until(job)``; with ``while_active``, a job that finishes first fails the test."""
    deadline = time.monotonic() + timeout
    job: dict = {}
    while time.monotonic() < deadline:
        job = job_state(base, module, job_id)
        if until(job):
            return job
        if while_active:
            assert job["status"] in ACTIVE, job
        time.sleep(poll)
    raise AssertionError(f"job stuck: {job}")


def wait_finished(base: str, module: str, job_id: str, *, timeout: float = 240) -> dict:
    return wait_job(base, module, job_id, lambda j: j["status"] in FINISHED, timeout=timeout, poll=0.2)
