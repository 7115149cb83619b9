"""The modules' business metrics, counted from the events they publish (so no module needs to
know about Prometheus), and the job gauges read from the jobs table when /metrics is scraped."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from inescape.infra.faults import unavailable_from
from inescape.infra.platform import Platform
from inescape.infra.telemetry import Metrics
from inescape.kernel.bus import Subscription
from inescape.kernel.events import Event
from inescape.modules.collection.events import DatasetCollected
from inescape.modules.generation.events import DatasetGenerated
from inescape.modules.patients.events import PatientCreated
from inescape.modules.training.events import ModelPromoted, ModelRegistered

log = logging.getLogger("inescape.metrics")

Count = Callable[[Any], None]


def _counters(metrics: Metrics) -> dict[str, list[tuple[type[Event], Count]]]:
    """Per module, the events it publishes and how each is counted."""
    patients = metrics.counter("patients_created_total", "Patient records created, by origin", ["origin"])
    datasets = metrics.counter(
        "generation_datasets_total", "Synthetic cohorts generated, by profile", ["profile"]
    )
    generated = metrics.counter(
        "generation_patients_total", "Synthetic patients generated, by profile", ["profile"]
    )
    records = metrics.counter(
        "collection_records_total",
        "Collected records by connector and outcome (accepted, duplicate, rejected)",
        ["connector", "outcome"],
    )
    models = metrics.counter(
        "training_model_versions_total", "Model versions by registry event (registered, promoted)", ["event"]
    )

    def collected(e: DatasetCollected) -> None:
        for outcome, n in (("accepted", e.accepted), ("duplicate", e.duplicates), ("rejected", e.rejected)):
            records.labels(e.connector, outcome).inc(n)

    def generated_cohort(e: DatasetGenerated) -> None:
        datasets.labels(e.profile).inc()
        generated.labels(e.profile).inc(e.n)

    return {
        "patients": [(PatientCreated, lambda e: patients.labels(e.origin).inc())],
        "generation": [(DatasetGenerated, generated_cohort)],
        "collection": [(DatasetCollected, collected)],
        "training": [
            (ModelRegistered, lambda _e: models.labels("registered").inc()),
            (ModelPromoted, lambda _e: models.labels("promoted").inc()),
        ],
    }


def module_metric_subscriptions(metrics: Metrics, served: Iterable[str]) -> list[Subscription]:
    """Subscriptions counting the events of the modules this process serves (a module's
    events are counted where the module runs, once)."""
    found = []
    counters = _counters(metrics)
    for module in served:
        for event_type, count in counters.get(module, []):
            found.append(Subscription(event_type, _handler(count), f"metrics.{event_type.__name__}"))
    return found


def _handler(count: Count) -> Callable[[Any], Awaitable[None]]:
    async def handle(event: Any) -> None:
        count(event)

    return handle


async def refresh_job_gauges(platform: Platform, queues: Iterable[str]) -> None:
    """Queued and running jobs per queue, as the jobs table has them now; with the database
    away the gauges keep their last values and /metrics still answers."""
    try:
        counts = await platform.jobs.unfinished_counts()
    except Exception as exc:
        if unavailable_from(exc) is None:  # not the database being away: a bug, let it show
            raise
        log.warning("job gauges not refreshed: the database is unavailable", extra={"error": str(exc)})
        return
    platform.metrics.set_job_counts(queues, counts)
