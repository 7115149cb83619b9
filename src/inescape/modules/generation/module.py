"""The generation module's contribution to the composition root."""

from __future__ import annotations

from inescape.kernel.modules import ModuleSpec

spec = ModuleSpec(
    name="generation",
    title="Synthetic cohort generation",
    port=8001,
    needs=("database", "storage", "queue"),
)
