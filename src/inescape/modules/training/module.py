"""The training module's contribution to the composition root."""

from __future__ import annotations

from inescape.kernel.modules import ModuleSpec
from inescape.modules.training.controllers import ROUTES
from inescape.modules.training.service import run
from inescape.modules.training.settings import TrainingSettings

spec = ModuleSpec(
    name="training",
    title="Survival and risk model training",
    port=8003,
    needs=("database", "documents", "storage", "queue"),
    route_handlers=ROUTES,
    job_kinds={"training.fit": run},
    settings=TrainingSettings,
)
