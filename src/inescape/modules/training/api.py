"""Public surface of the training module: functions, DTOs and errors other code may use."""

from __future__ import annotations

MODULE = "training"

__all__ = ["MODULE"]
