"""The patients module's contribution to the composition root."""

from __future__ import annotations

from inescape.kernel.modules import ModuleSpec

spec = ModuleSpec(
    name="patients",
    title="Clinical core: the esophageal cancer record",
    port=8000,
    needs=("database", "cache"),
)
