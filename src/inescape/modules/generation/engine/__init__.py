"""The vectorised, deterministic cohort generator (numpy + polars, no loop per patient)."""

from __future__ import annotations

from inescape.modules.generation.api import Quota
from inescape.modules.generation.engine.frames import Cohort, concat
from inescape.modules.generation.engine.generate import generate
from inescape.modules.generation.engine.records import to_records

__all__ = ["Cohort", "Quota", "concat", "generate", "to_records"]
