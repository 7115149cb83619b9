"""Public surface of the generation module: functions, DTOs and errors other code may use."""

from __future__ import annotations

MODULE = "generation"

__all__ = ["MODULE"]
