"""The collection module's contribution to the composition root."""

from __future__ import annotations

from inescape.kernel.modules import ModuleSpec

spec = ModuleSpec(
    name="collection",
    title="Collection from real sources",
    port=8002,
    needs=("database", "documents", "storage", "queue"),
)
