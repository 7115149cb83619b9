"""The clinical core's contribution to the composition root."""

from __future__ import annotations

from typing import Any

from inescape.kernel.bus import Subscription
from inescape.kernel.modules import ModuleSpec
from inescape.modules.patients.cohort_routes import COHORT_ROUTES, GENERATION_KEY
from inescape.modules.patients.controllers import ROUTES
from inescape.modules.patients.events import PatientCreated, PatientDeleted, PatientUpdated
from inescape.modules.patients.fhir_routes import FHIR_ROUTES
from inescape.modules.patients.service import PatientService


async def start(services: Any) -> None:
    svc = PatientService(services.clock, services.cache)
    services.extensions["patients"] = svc

    async def forget(event: Any) -> None:  # another process changed a record: drop our copy
        await svc.forget(event.patient_id)

    services.bus.subscribe(Subscription(PatientUpdated, forget, "patients.cache.updated"))
    services.bus.subscribe(Subscription(PatientDeleted, forget, "patients.cache.deleted"))

    async def new_generation(_: Any) -> None:  # cached cohort answers are stale now
        await services.cache.incr(GENERATION_KEY)

    for kind in (PatientCreated, PatientUpdated, PatientDeleted):
        services.bus.subscribe(Subscription(kind, new_generation, f"patients.cohort.{kind.__name__}"))


spec = ModuleSpec(
    name="patients",
    title="Clinical core: the esophageal cancer record",
    port=8000,
    needs=("database", "cache"),
    route_handlers=[*COHORT_ROUTES, *FHIR_ROUTES, *ROUTES],
    on_startup=[start],
)
