"""The clinical core's contribution to the composition root."""

from __future__ import annotations

from typing import Any

from inescape.infra.platform import ModuleContext
from inescape.kernel.bus import Subscription
from inescape.kernel.modules import Bound, ModuleSpec
from inescape.modules.auth.api import GatewayApi
from inescape.modules.patients.api import ClinicalCodecs, PatientsApi
from inescape.modules.patients.cohort_service import CohortService
from inescape.modules.patients.controllers import ROUTES
from inescape.modules.patients.events import PatientCreated, PatientDeleted, PatientUpdated
from inescape.modules.patients.facade import Codecs, Patients
from inescape.modules.patients.fhir_service import BUCKET, EXPORT, PREFIX, FhirService
from inescape.modules.patients.routes.cohort import COHORT_ROUTES
from inescape.modules.patients.routes.fhir import FHIR_ROUTES
from inescape.modules.patients.routes.fhir_api import FHIR_API_ROUTES
from inescape.modules.patients.routes.saved import SAVED_ROUTES
from inescape.modules.patients.saved import SavedCohorts
from inescape.modules.patients.service import PatientService
from inescape.modules.patients.settings import PatientsSettings
from inescape.modules.patients.views import PatientViews


def bind(ctx: ModuleContext[PatientsSettings | None]) -> Bound:
    platform = ctx.platform
    settings = ctx.settings if isinstance(ctx.settings, PatientsSettings) else PatientsSettings()
    records = PatientService(db=platform.db, uow=platform.uow, clock=platform.clock, cache=platform.cache)
    cohorts = CohortService(db=platform.db, cache=platform.cache, clock=platform.clock)
    views = PatientViews(gateway=ctx.facades.get(GatewayApi))
    saved = SavedCohorts(db=platform.db, uow=platform.uow, clock=platform.clock)
    fhir = FhirService(
        records=records,
        views=views,
        jobs=ctx.jobs,
        job_rows=platform.jobs,
        uow=platform.uow,
        storage=platform.storage,
        clock=platform.clock,
        settings=settings,
    )
    return Bound(
        facades={PatientsApi: Patients(records=records, cohorts=cohorts, saved=saved, views=views)},
        dependencies={
            "patients": records,
            "cohorts": cohorts,
            "views": views,
            "fhir": fhir,
            "saved_cohorts": saved,
        },
        subscriptions=_subscriptions(records, cohorts),
        job_kinds={EXPORT: fhir.run_export},
    )


def _subscriptions(records: PatientService, cohorts: CohortService) -> list[Subscription]:
    async def forget(event: Any) -> None:  # another process changed a record: drop our copy
        await records.forget(patient_id=event.patient_id)

    async def new_generation(_: Any) -> None:  # cached cohort answers are stale now
        await cohorts.records_changed()

    return [
        Subscription(PatientUpdated, forget, "patients.cache.updated"),
        Subscription(PatientDeleted, forget, "patients.cache.deleted"),
        *[
            Subscription(kind, new_generation, f"patients.cohort.{kind.__name__}")
            for kind in (PatientCreated, PatientUpdated, PatientDeleted)
        ],
    ]


spec = ModuleSpec(
    name="patients",
    title="Clinical core: the esophageal cancer record",
    port=8000,
    needs=("database", "cache"),
    bind=bind,
    library={ClinicalCodecs: lambda _: Codecs()},
    provides=(PatientsApi,),
    requires=(GatewayApi,),
    # the record lives in its SQL tables (models.py); only $export files go to a bucket
    owns=(f"{BUCKET}/{PREFIX}",),
    route_handlers=[*COHORT_ROUTES, *SAVED_ROUTES, *FHIR_ROUTES, *FHIR_API_ROUTES, *ROUTES],
    settings=PatientsSettings,
)
