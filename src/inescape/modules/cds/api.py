"""Public surface of the cds module: functions, DTOs and errors other code may use."""

from __future__ import annotations

MODULE = "cds"

__all__ = ["MODULE"]
