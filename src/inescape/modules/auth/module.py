"""The auth module's contribution to the composition root."""

from __future__ import annotations

from inescape.kernel.modules import ModuleSpec

spec = ModuleSpec(
    name="auth",
    title="Gateway: accounts, tokens, RBAC, rate limits, audit query API",
    port=8000,
    needs=("database", "cache", "documents"),
)
