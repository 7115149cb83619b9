"""The cds module's contribution to the composition root."""

from __future__ import annotations

from inescape.kernel.modules import ModuleSpec

spec = ModuleSpec(
    name="cds",
    title="Clinical decision support",
    port=8004,
    needs=("database", "cache"),
)
