"""The cds module's contribution to the composition root."""

from __future__ import annotations

from typing import Any

from inescape.kernel.bus import Subscription
from inescape.kernel.modules import ModuleSpec
from inescape.modules.cds.controllers import ROUTES
from inescape.modules.cds.guidelines import load_rules
from inescape.modules.cds.risk import RiskService
from inescape.modules.cds.service import DecisionService
from inescape.modules.cds.settings import CdsSettings
from inescape.modules.training.api import ModelPromoted


async def start(services: Any) -> None:
    settings = services.module_settings.get("cds") or CdsSettings()
    load_rules()  # a broken rule file stops the start, with its error, not the first request
    risk = RiskService(services, model_name=settings.risk_model, refresh_s=settings.risk_refresh_s)
    services.extensions["cds"] = DecisionService(risk)
    services.bus.subscribe(Subscription(ModelPromoted, risk.on_promoted, "cds.risk.model_promoted"))


spec = ModuleSpec(
    name="cds",
    title="Clinical decision support",
    port=8004,
    needs=("database", "cache", "documents"),  # storage only when the risk model is (re)loaded
    route_handlers=ROUTES,
    on_startup=[start],
    settings=CdsSettings,
)
