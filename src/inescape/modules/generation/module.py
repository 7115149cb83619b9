"""The generation module's contribution to the composition root."""

from __future__ import annotations

from inescape.kernel.modules import ModuleSpec
from inescape.modules.generation.controllers import JOB_ROUTES, ROUTES
from inescape.modules.generation.service import run

spec = ModuleSpec(
    name="generation",
    title="Synthetic cohort generation",
    port=8001,
    needs=("database", "documents", "storage", "queue"),
    route_handlers=ROUTES,
    job_routes=JOB_ROUTES,
    job_kinds={"generation.generate": run},
)
