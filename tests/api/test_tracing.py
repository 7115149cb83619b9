"""OpenTelemetry tracing: off by default, on with the standard variables, one server span per
request named by its route, carrying the request id."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inescape.app import create_app
from inescape.infra.telemetry import configure_tracing, tracing_enabled
from inescape.settings import load_settings


@pytest.mark.parametrize(
    ("env", "enabled"),
    [
        ({}, False),
        ({"OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_tracing_follows_the_standard_otel_variables(env, enabled):
    assert tracing_enabled(env) is enabled
    assert (configure_tracing(env) is not None) is enabled


def test_the_app_has_no_tracer_when_nothing_is_configured(tmp_path, monkeypatch):
    for key in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(key, raising=False)

    app = create_app(load_settings({"INESCAPE_DATA_DIR": str(tmp_path)}), [])

    assert app.asgi_handler.tracer is None


async def test_each_request_becomes_a_span_named_by_its_route(tmp_path):
    exporter = InMemorySpanExporter()
    app = create_app(load_settings({"INESCAPE_DATA_DIR": str(tmp_path)}), [])
    app.asgi_handler.tracer = configure_tracing({}, exporter=exporter)

    async with AsyncTestClient(app) as client:
        await client.get("/api/v1/nowhere")
        await client.get("/health", headers={"X-Request-ID": "span-me"})

    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert "GET /health" in spans
    assert spans["GET /health"].attributes["inescape.request_id"] == "span-me"
    assert spans["GET /health"].attributes["http.route"] == "/health"
    assert "GET /api/v1/nowhere" in spans  # unmatched: named by the raw path
