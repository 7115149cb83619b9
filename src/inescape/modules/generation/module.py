"""The generation module's contribution to the composition root."""

from __future__ import annotations

from inescape.infra.platform import ModuleContext
from inescape.kernel.modules import Bound, Facades, ModuleSpec
from inescape.modules.auth.api import GatewayApi
from inescape.modules.cds.api import StagingApi
from inescape.modules.generation.api import (
    BUCKET,
    DATASETS,
    FIT_NAMES,
    PROFILES,
    DatasetsApi,
    GenerationApi,
    GeneratorApi,
    ProfileFittingApi,
)
from inescape.modules.generation.controllers import JOB_ROUTES, ROUTES
from inescape.modules.generation.datasets import Datasets
from inescape.modules.generation.fitting.controllers import ROUTES as FITTING_ROUTES
from inescape.modules.generation.fitting.service import BUDGETS, FIT_KIND, SETTINGS, SPENDS, FittingService
from inescape.modules.generation.library import Generator
from inescape.modules.generation.service import JOB_KIND, GenerationService, ProfileService
from inescape.modules.patients.api import ClinicalCodecs, PatientsApi


def generator(facades: Facades) -> Generator:
    """The backend-free generator (notebooks, ``inescape generate --out``, and this module's
    own services), built from cds's ``StagingApi`` and the clinical core's ``ClinicalCodecs``
    (both library facades)."""
    return Generator(staging=facades.get(StagingApi), codecs=facades.get(ClinicalCodecs))


def bind(ctx: ModuleContext[None]) -> Bound:
    platform, facades = ctx.platform, ctx.facades
    patients = facades.get(PatientsApi)
    library = generator(facades)
    datasets = Datasets(documents=platform.documents, storage=platform.storage)
    profiles = ProfileService(documents=platform.documents, clock=platform.clock, generator=library)
    generation = GenerationService(
        generator=library,
        profiles=profiles,
        datasets=datasets,
        patients=patients,
        jobs=ctx.jobs,
        uow=platform.uow,
        clock=platform.clock,
        gateway=facades.get(GatewayApi),
    )
    fitting = FittingService(
        documents=platform.documents,
        clock=platform.clock,
        generator=library,
        patients=patients,
        datasets=datasets,
        gateway=facades.get(GatewayApi),
        jobs=ctx.jobs,
    )
    return Bound(
        facades={DatasetsApi: datasets, GenerationApi: generation, ProfileFittingApi: fitting},
        dependencies={
            "profiles": profiles,
            "generation": generation,
            "datasets": datasets,
            "fitting": fitting,
        },
        job_kinds={JOB_KIND: generation.run, FIT_KIND: fitting.run},
    )


spec = ModuleSpec(
    name="generation",
    title="Synthetic cohort generation",
    port=8001,
    needs=("database", "documents", "storage", "queue"),
    bind=bind,
    library={GeneratorApi: generator},
    provides=(DatasetsApi, GenerationApi, ProfileFittingApi),
    # GatewayApi: the gateway (auth) writes the audit events the routes declare
    requires=(StagingApi, ClinicalCodecs, PatientsApi, GatewayApi),
    route_handlers=[*ROUTES, *FITTING_ROUTES],
    job_routes=JOB_ROUTES,
    owns=(
        PROFILES,
        FIT_NAMES,
        DATASETS,
        BUDGETS,
        SPENDS,
        SETTINGS,
        f"{BUCKET}/",
    ),  # collection writes its part through DatasetsApi
)
