"""The worker composition root: ``inescape worker`` runs jobs from the module queues.

The runtime's event loop lives in its own thread; dramatiq's worker threads hand each job id
to it and wait. SIGTERM or SIGINT stops taking new messages, lets running jobs reach their
next commit, and exits; a SIGKILL leaves the job's row and checkpoint, and the next start
re-queues it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Sequence

from inescape.runtime.process import Runtime, served_specs
from inescape.settings import Settings

log = logging.getLogger("inescape.worker")


def run_worker(
    settings: Settings, *, modules: Sequence[str] | None = None, metrics: tuple[str, int] | None = None
) -> int:
    """``metrics``: (host, port) to serve this process's Prometheus metrics on (the job
    durations and outcomes are counted where the jobs run)."""
    runtime = Runtime(settings, served_specs(settings, modules))
    if metrics is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics[1], addr=metrics[0], registry=runtime.services.metrics.registry)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="inescape-runtime", daemon=True)
    thread.start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        asyncio.run_coroutine_threadsafe(runtime.start(worker=True), loop).result()
        _warn_without_ml(runtime)
        log.info(
            "worker ready",
            extra={"queues": list(runtime.services.queue.queues), "broker": runtime.services.queue.backend},
        )
        stop.wait()
        log.info("worker stopping")
    finally:
        asyncio.run_coroutine_threadsafe(runtime.stop(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
    return 0


def _warn_without_ml(runtime: Runtime) -> None:
    """A worker taking training jobs without torch fails each run with the install hint;
    say so once at start, so the operator need not wait for the first run."""
    from inescape.modules.training.availability import missing_ml, ml_missing_message

    missing = missing_ml()
    if missing is not None and any(spec.name == "training" for spec in runtime.specs):
        log.warning(ml_missing_message(missing), extra={"missing": missing})
