"""The collection module's contribution to the composition root."""

from __future__ import annotations

from inescape.kernel.modules import ModuleSpec
from inescape.modules.collection.controllers import JOB_ROUTES, ROUTES
from inescape.modules.collection.schedule_routes import SCHEDULE_ROUTES
from inescape.modules.collection.schedules import SCHEDULER
from inescape.modules.collection.service import run

spec = ModuleSpec(
    name="collection",
    title="Collection from real sources",
    port=8002,
    needs=("database", "documents", "storage", "queue"),
    route_handlers=[*ROUTES, *SCHEDULE_ROUTES],
    job_routes=JOB_ROUTES,
    job_kinds={"collection.collect": run},
    periodic=[SCHEDULER],
)
