"""Public surface of the collection module: functions, DTOs and errors other code may use."""

from __future__ import annotations

MODULE = "collection"

__all__ = ["MODULE"]
