"""Public surface of the auth module: functions, DTOs and errors other code may use."""

from __future__ import annotations

MODULE = "auth"

__all__ = ["MODULE"]
