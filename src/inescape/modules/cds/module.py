"""The cds module's contribution to the composition root: its spec, and ``bind``, which builds
its services from the ports and facades it is given."""

from __future__ import annotations

from inescape.infra.platform import ModuleContext
from inescape.kernel.bus import Subscription
from inescape.kernel.modules import Bound, ModuleSpec
from inescape.modules.auth.api import GatewayApi
from inescape.modules.cds.api import StagingApi
from inescape.modules.cds.controllers import ROUTES
from inescape.modules.cds.guidelines import load_rules
from inescape.modules.cds.hook_service import CARDS, FEEDBACK, HookService
from inescape.modules.cds.library import CdsLibrary
from inescape.modules.cds.risk import RiskService
from inescape.modules.cds.service import DecisionService
from inescape.modules.cds.settings import CdsSettings
from inescape.modules.patients.api import ClinicalCodecs, PatientsApi
from inescape.modules.training.api import RegistryApi, SurvivalModels
from inescape.modules.training.events import ModelPromoted


async def check_rules() -> None:
    load_rules()  # a broken rule file stops the start, with its error, not the first request


def bind(ctx: ModuleContext[CdsSettings | None]) -> Bound:
    p = ctx.platform
    settings = ctx.settings if isinstance(ctx.settings, CdsSettings) else CdsSettings()
    risk = RiskService(
        registry=ctx.facades.get(RegistryApi),
        models=ctx.facades.get(SurvivalModels),
        purpose=settings.risk_purpose,
        refresh_s=settings.risk_refresh_s,
    )
    decisions = DecisionService(risk=risk, patients=ctx.facades.get(PatientsApi))
    hook_service = HookService(
        decisions=decisions,
        codecs=ctx.facades.get(ClinicalCodecs),
        documents=p.documents,
        clock=p.clock,
        settings=settings,
    )
    return Bound(
        dependencies={
            "decisions": decisions,
            "hook_service": hook_service,
        },
        subscriptions=[Subscription(ModelPromoted, risk.on_promoted, "cds.risk.model_promoted")],
        on_startup=[check_rules],
    )


spec = ModuleSpec(
    name="cds",
    title="Clinical decision support",
    port=8004,
    needs=("database", "cache", "documents"),  # storage only when the risk model is (re)loaded
    bind=bind,
    library={StagingApi: lambda _: CdsLibrary()},
    # GatewayApi: the gateway (auth) writes the audit events the routes declare
    requires=(RegistryApi, SurvivalModels, PatientsApi, ClinicalCodecs, GatewayApi),
    route_handlers=ROUTES,
    owns=(CARDS, FEEDBACK),
    settings=CdsSettings,
)
