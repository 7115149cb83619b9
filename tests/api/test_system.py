"""Health, metrics, OpenAPI, request ids and the error shape, on both backends."""

from __future__ import annotations

import json
import logging

from inescape.kernel.modules import MODULE_NAMES


async def test_liveness_answers(client):
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_detailed_health_lists_every_backend_and_module_as_ok(client, backend):
    response = await client.get("/health/detailed")

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    backends = {b["name"]: b for b in body["backends"]}
    assert set(backends) == {"database", "documents", "cache", "queue", "storage"}
    assert all(b["status"] == "ok" and b["latency_ms"] >= 0 for b in backends.values())
    expected = (
        {"database": "sqlite", "documents": "sql", "cache": "memory", "queue": "memory", "storage": "local"}
        if backend == "embedded"
        else {
            "database": "postgresql",
            "documents": "mongodb",
            "cache": "redis",
            "queue": "redis",
            "storage": "s3",
        }
    )
    assert {n: b["backend"] for n, b in backends.items()} == expected
    modules = {m["name"]: m for m in body["modules"]}
    assert set(MODULE_NAMES) <= set(modules)
    assert {modules[n]["port"] for n in ("generation", "collection", "training", "cds")} == {
        8001,
        8002,
        8003,
        8004,
    }
    assert all(m["status"] == "ok" for m in modules.values())


async def test_the_openapi_document_is_served_with_the_job_routes(client):
    response = await client.get("/schema/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/health/detailed" in paths
    for module in MODULE_NAMES:
        assert f"/api/v1/{module}/jobs/{{job_id}}" in paths


async def test_every_response_carries_a_request_id_and_keeps_a_valid_incoming_one(client):
    fresh = await client.get("/health")
    kept = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    rejected = await client.get("/health", headers={"X-Request-ID": "bad id\twith spaces"})
    unknown = await client.get("/api/no/such/route")  # other paths are the dashboard's

    assert len(fresh.headers["x-request-id"]) == 36
    assert kept.headers["x-request-id"] == "abc-123"
    assert rejected.headers["x-request-id"] != "bad id\twith spaces"
    assert unknown.headers["x-request-id"]
    assert unknown.json()["request_id"] == unknown.headers["x-request-id"]


async def test_an_unknown_route_gets_404_in_the_error_shape(client):
    response = await client.get("/api/v1/nothing-here")

    assert response.status_code == 404
    body = response.json()
    assert body["status_code"] == 404
    assert "/api/v1/nothing-here" in body["detail"]


async def test_a_wrong_method_gets_405_in_the_error_shape(client):
    response = await client.delete("/health")

    assert response.status_code == 405
    assert response.json()["status_code"] == 405
    assert "DELETE" in response.json()["detail"]


async def test_metrics_count_requests_by_route_template_method_and_status(client, app_services):
    job_id = "01a21696-170d-758d-b51a-5af739f6aa64"
    await client.get(f"/api/v1/cds/jobs/{job_id}")
    await client.get("/api/v1/cds/jobs")

    text = (await client.get("/metrics")).text

    assert (
        'inescape_http_requests_total{method="GET",route="/api/v1/cds/jobs/{job_id}",status="404"} 1.0'
    ) in text
    assert (
        'inescape_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/cds/jobs"'
    ) in text
    assert "inescape_jobs_total" in text
    assert "inescape_bus_events_total" in text


async def test_a_module_can_add_a_business_metric(client, app_services):
    app_services.metrics.counter("cohorts_generated_total", "Cohorts generated", ["profile"]).labels(
        "iran-golestan"
    ).inc(3)

    text = (await client.get("/metrics")).text

    assert 'inescape_cohorts_generated_total{profile="iran-golestan"} 3.0' in text


async def test_log_lines_are_json_with_the_request_id(client, caplog):
    from inescape.infra.telemetry import JsonFormatter

    with caplog.at_level(logging.INFO, logger="inescape.access"):
        await client.get("/api/v1/cds/jobs", headers={"X-Request-ID": "trace-me-1"})

    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "inescape.access"]
    assert lines[-1]["request_id"] == "trace-me-1"
    assert lines[-1]["route"] == "/api/v1/cds/jobs"
    assert lines[-1]["status"] == 200
