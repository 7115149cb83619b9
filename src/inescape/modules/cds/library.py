"""The library facade (no backend): staging and recommendations on plain values."""

from __future__ import annotations

from typing import Any

import msgspec

from inescape.modules.cds.api import ClinicalFacts, Recommendations, StageResult
from inescape.modules.cds.service import recommend
from inescape.modules.cds.staging import stage


class CdsLibrary:
    """``StagingApi``."""

    def stage(self, **inputs: Any) -> StageResult:
        return stage(**inputs)

    def recommend(self, facts: ClinicalFacts | None = None, **values: Any) -> Recommendations:
        chosen = facts if facts is not None else msgspec.convert(values, ClinicalFacts)
        answer, _, _ = recommend(chosen, strict=True)
        return answer


__all__ = ["CdsLibrary"]
