"""Logs (JSON lines with the request id), Prometheus metrics and OpenTelemetry tracing."""

from __future__ import annotations

import contextvars
import logging
import os
import platform
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "inescape_request_id", default=None
)

_encoder = msgspec.json.Encoder(enc_hook=str)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "color_message",
}


def install_request_id_on_records() -> None:
    """Stamp every log record with the current request id when it is created (formatting
    may happen later, outside the request). Idempotent."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_inescape", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        request_id = request_id_var.get()
        if request_id is not None:
            record.request_id = request_id
        return record

    factory._inescape = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encoder.encode(entry).decode()


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    install_request_id_on_records()
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "dramatiq", "botocore", "urllib3", "pymongo"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    logging.getLogger("uvicorn.error").propagate = True
    # Python's warnings become records of the ``py.warnings`` logger: one JSON line each,
    # rather than raw multi-line text on stderr. Released first: a second set-up in the same
    # process (after something else replaced ``warnings.showwarning``) captures again.
    logging.captureWarnings(False)
    logging.captureWarnings(True)
    # Lightning's banners and tips ("GPU available", "💡 Tip: ...") are INFO records of its
    # loggers. Importing it sets their level to INFO again (and, before logging is set up,
    # gives them a plain-text handler of their own), so they are dropped here, at the handler;
    # its warnings still come through, and at DEBUG everything does.
    if root.level > logging.DEBUG:
        handler.addFilter(quiet_lightning)
    for name in LIGHTNING_LOGGERS:
        chatty = logging.getLogger(name)
        chatty.handlers.clear()
        chatty.propagate = True


LIGHTNING_LOGGERS = ("lightning", "pytorch_lightning", "lightning_fabric")


def quiet_lightning(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or record.name.split(".", 1)[0] not in LIGHTNING_LOGGERS


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# jobs run from a fraction of a second (a small upload) to hours (training on a large cohort)
JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 3 * 3600.0, 12 * 3600.0)


class Metrics:
    """One registry per process (not prometheus' global one, so apps in tests don't clash).

    Platform metrics are attributes; modules add business metrics with ``counter`` /
    ``histogram`` / ``gauge`` (names are prefixed ``inescape_``)."""

    def __init__(self, *, version: str = "unknown") -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # the *_created series only double the scrape size
        self.registry = CollectorRegistry(auto_describe=True)
        # the standard process_* (CPU, memory, open files) and python_* (gc, version) series
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        Gauge(
            "inescape_build_info",
            "The running version (always 1)",
            ("version", "python_version"),
            registry=self.registry,
        ).labels(version, platform.python_version()).set(1)
        self.http_requests = Counter(
            "inescape_http_requests_total",
            "HTTP requests by route template, method and status",
            ("route", "method", "status"),
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "inescape_http_request_duration_seconds",
            "HTTP request latency by route and method",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.jobs = Counter(
            "inescape_jobs_total",
            "Job state transitions by kind and status",
            ("kind", "status"),
            registry=self.registry,
        )
        self.bus_events = Counter(
            "inescape_bus_events_total",
            "Bus events by name and outcome (published, delivered, retried, failed)",
            ("event", "outcome"),
            registry=self.registry,
        )
        self.job_duration = Histogram(
            "inescape_job_duration_seconds",
            "How long a job's attempt ran, by kind and outcome (succeeded, failed, cancelled, retried)",
            ("kind", "outcome"),
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.jobs_queued = Gauge(
            "inescape_jobs_queued",
            "Jobs waiting in each module's queue (read from the jobs table at scrape time)",
            ("queue",),
            registry=self.registry,
        )
        self.jobs_running = Gauge(
            "inescape_jobs_running",
            "Jobs running now, by module queue (read from the jobs table at scrape time)",
            ("queue",),
            registry=self.registry,
        )
        self._custom: dict[str, Any] = {}

    def _get(self, kind: type, name: str, doc: str, labels: Sequence[str], **kw: Any) -> Any:
        full = name if name.startswith("inescape_") else f"inescape_{name}"
        metric = self._custom.get(full)
        if metric is None:
            metric = kind(full, doc, tuple(labels), registry=self.registry, **kw)
            self._custom[full] = metric
        return metric

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        return self._get(Counter, name, doc, labels)  # type: ignore[no-any-return]

    def histogram(
        self, name: str, doc: str, labels: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
    ) -> Histogram:
        return self._get(Histogram, name, doc, labels, buckets=tuple(buckets))  # type: ignore[no-any-return]

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        return self._get(Gauge, name, doc, labels)  # type: ignore[no-any-return]

    def observe_job(self, kind: str, status: str) -> None:
        self.jobs.labels(kind, str(status)).inc()

    def observe_job_duration(self, kind: str, outcome: str, seconds: float) -> None:
        self.job_duration.labels(kind, outcome).observe(seconds)

    def set_job_counts(self, queues: Iterable[str], counts: Iterable[tuple[str, str, int]]) -> None:
        """``counts``: (queue, status, jobs) for the queued and running jobs; every queue in
        ``queues`` is shown, at 0 when it has none."""
        for gauge in (self.jobs_queued, self.jobs_running):
            gauge.clear()
        for queue in queues:
            self.jobs_queued.labels(queue).set(0)
            self.jobs_running.labels(queue).set(0)
        for queue, status, n in counts:
            gauge = self.jobs_running if status == "running" else self.jobs_queued
            gauge.labels(queue).set(n)

    def observe_event(self, name: str, outcome: str) -> None:
        self.bus_events.labels(name, outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


def tracing_enabled(env: Mapping[str, str]) -> bool:
    """On when an exporter is named or an OTLP endpoint is set (the standard variables)."""
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure_tracing(
    env: Mapping[str, str] | None = None, *, service: str = "inescape", exporter: Any = None
) -> Any:
    """Return a tracer (or None when tracing is off). ``exporter`` overrides the one named by
    ``OTEL_TRACES_EXPORTER`` (``otlp`` by default, or ``console``)."""
    env = os.environ if env is None else env
    if exporter is None and not tracing_enabled(env):
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", service)})
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        name = env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
        if name == "console":
            from opentelemetry.sdk.trace.export import ConsoleSpanExporter

            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider.get_tracer("inescape")
