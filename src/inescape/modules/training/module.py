"""The training module's contribution to the composition root."""

from __future__ import annotations

from inescape.kernel.modules import ModuleSpec

spec = ModuleSpec(
    name="training",
    title="Survival and risk model training",
    port=8003,
    needs=("database", "documents", "storage", "queue"),
)
