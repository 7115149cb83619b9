"""Public surface of the patients module: functions, DTOs and errors other code may use."""

from __future__ import annotations

MODULE = "patients"

__all__ = ["MODULE"]
