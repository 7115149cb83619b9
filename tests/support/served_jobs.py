"""Watching a job of a served process over HTTP (the kill-mid-job tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.auth import http_bearer
from tests.support.processes import Served

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


def database_url_of(env: dict[str, str]) -> str:
    """The database a served process with ``env`` uses (the embedded SQLite file without one)."""
    return env.get("INESCAPE_DATABASE_URL") or f"sqlite:///{env['INESCAPE_DATA_DIR']}/inescape.db"


def source_counts(database_url: str, source: str) -> tuple[int, int]:
    """(records, distinct source ids) of ``source``: equal when nothing was doubled."""
    from sqlalchemy import create_engine, text

    from inescape.migrate import sync_url

    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            total, distinct = conn.execute(
                text("SELECT count(*), count(DISTINCT source_record_id) FROM patients WHERE source = :s"),
                {"s": source},
            ).one()
    finally:
        engine.dispose()
    return int(total), int(distinct)


def kill_mid_job(
    served_env: dict[str, str],
    log_dir: Path,
    backend: str,
    module: str,
    submit: Callable[[str], str],
    midway: Callable[[dict], bool],
    *,
    poll: float = 0.05,
    finish_timeout: float = 240,
    before_stop: Callable[[str], object] | None = None,
) -> tuple[dict, dict, object]:
    """Serve the platform (and a worker on the real servers, where the queue is Redis), submit a
    job with ``submit(base_url)``, kill the process running it once ``midway(job)`` holds (the
    job must still be active), start that process again and wait for the job to finish.
    Returns the job seen midway, the finished job, and ``before_stop(base_url)``'s answer (asked
    while the processes still serve)."""
    real = backend == "real"
    server = Served("serve", env=served_env, log=log_dir / "serve.log").start()
    worker = Served("worker", env=served_env, log=log_dir / "worker.log").start() if real else None
    running_jobs = worker if worker is not None else server
    try:
        job_id = submit(server.url)
        seen = wait_job(server.url, module, job_id, midway, timeout=180, poll=poll, while_active=True)
        running_jobs.kill()
        running_jobs.start()
        done = wait_finished(server.url, module, job_id, timeout=finish_timeout)
        extra = before_stop(server.url) if before_stop is not None else None
    finally:
        for process in (worker, server):
            if process is not None:
                process.stop()
    return seen, done, extra
