"""The collection module's contribution to the composition root."""

from __future__ import annotations

from inescape.infra.platform import ModuleContext
from inescape.kernel.modules import Bound, ModuleSpec, Periodic
from inescape.modules.auth.api import GatewayApi
from inescape.modules.collection.connectors.base import Reach
from inescape.modules.collection.connectors.http import limiter_of
from inescape.modules.collection.connectors.outbound import Outbound
from inescape.modules.collection.connectors.upload import UPLOADS, UploadRecords
from inescape.modules.collection.routes.collect import JOB_ROUTES, ROUTES
from inescape.modules.collection.routes.schedules import SCHEDULE_ROUTES
from inescape.modules.collection.schedules import TICK_S, ScheduleService
from inescape.modules.collection.service import JOB_KIND, PAYLOADS, REJECTS, CollectionService
from inescape.modules.collection.settings import CollectionSettings
from inescape.modules.generation.api import DatasetsApi
from inescape.modules.patients.api import ClinicalCodecs, PatientsApi


def bind(ctx: ModuleContext[CollectionSettings | None]) -> Bound:
    platform, facades = ctx.platform, ctx.facades
    settings = ctx.settings if isinstance(ctx.settings, CollectionSettings) else CollectionSettings()
    outbound = Outbound(settings.allowed_hosts)  # a bad entry stops the start, naming the setting
    gateway = facades.get(GatewayApi)
    datasets = facades.get(DatasetsApi)
    uploads = UploadRecords(platform.documents)
    collection = CollectionService(
        gateway=gateway,
        patients=facades.get(PatientsApi),
        codecs=facades.get(ClinicalCodecs),
        datasets=datasets,
        uploads=uploads,
        reach=Reach(
            limiter=limiter_of(platform.cache), outbound=outbound, datasets=datasets, uploads=uploads
        ),
        documents=platform.documents,
        job_rows=platform.jobs,
        jobs=ctx.jobs,
        clock=platform.clock,
    )
    schedules = ScheduleService(
        db=platform.db, uow=platform.uow, clock=platform.clock, jobs=ctx.jobs, collection=collection
    )
    return Bound(
        dependencies={"collection": collection, "schedules": schedules},
        job_kinds={JOB_KIND: collection.run},
        periodic=[Periodic(name="collection.schedules", every_s=TICK_S, run=schedules.tick)],
    )


spec = ModuleSpec(
    name="collection",
    title="Collection from real sources",
    port=8002,
    needs=("database", "documents", "storage", "queue"),
    bind=bind,
    # GatewayApi first: a worker without auth is refused naming it (research-only jobs need it)
    requires=(GatewayApi, PatientsApi, ClinicalCodecs, DatasetsApi),
    route_handlers=[*ROUTES, *SCHEDULE_ROUTES],
    job_routes=JOB_ROUTES,
    owns=(UPLOADS, REJECTS, PAYLOADS),  # files go to the datasets through DatasetsApi
    settings=CollectionSettings,
)
