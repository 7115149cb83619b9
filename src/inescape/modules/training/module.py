"""The training module's contribution to the composition root: its spec, and ``bind``, which
builds its services from the ports and facades it is given."""

from __future__ import annotations

from inescape.infra.platform import ModuleContext
from inescape.kernel.modules import Bound, ModuleSpec
from inescape.modules.auth.api import GatewayApi
from inescape.modules.generation.api import DatasetsApi
from inescape.modules.patients.api import PatientsApi
from inescape.modules.training.api import FittingApi, RegistryApi, SurvivalModels
from inescape.modules.training.controllers import ROUTES
from inescape.modules.training.data import CohortSource
from inescape.modules.training.job import FitJob
from inescape.modules.training.library import Fitting
from inescape.modules.training.portable import PortableModels
from inescape.modules.training.registry import BUCKET, COLLECTION, PREFIX, ModelRegistry
from inescape.modules.training.runs import RUNS, RunStore
from inescape.modules.training.service import FIT, ModelService, RunService
from inescape.modules.training.settings import TrainingSettings


def bind(ctx: ModuleContext[TrainingSettings | None]) -> Bound:
    p = ctx.platform
    settings = ctx.settings if isinstance(ctx.settings, TrainingSettings) else TrainingSettings()
    registry = ModelRegistry(documents=p.documents, storage=p.storage, clock=p.clock, uow=p.uow)
    runs = RunStore(documents=p.documents, clock=p.clock)
    cohorts = CohortSource(patients=ctx.facades.get(PatientsApi), datasets=ctx.facades.get(DatasetsApi))
    return Bound(
        facades={RegistryApi: registry},
        dependencies={
            "runs": RunService(
                jobs=ctx.jobs, job_rows=p.jobs, uow=p.uow, runs=runs, cohorts=cohorts, settings=settings
            ),
            "models": ModelService(registry=registry, clock=p.clock, settings=settings),
        },
        job_kinds={FIT: FitJob(registry=registry, runs=runs, cohorts=cohorts, settings=settings)},
    )


spec = ModuleSpec(
    name="training",
    title="Survival and risk model training",
    port=8003,
    needs=("database", "documents", "storage", "queue"),
    bind=bind,
    library={SurvivalModels: lambda _: PortableModels(), FittingApi: lambda _: Fitting()},
    provides=(RegistryApi,),
    # GatewayApi: the gateway (auth) writes the audit events the routes declare
    requires=(PatientsApi, DatasetsApi, GatewayApi),
    route_handlers=ROUTES,
    owns=(RUNS, COLLECTION, f"{BUCKET}/{PREFIX}/"),
    settings=TrainingSettings,
)
