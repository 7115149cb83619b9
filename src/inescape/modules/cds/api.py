"""Public surface of decision support: staging and recommendations on plain values, usable
from a notebook without a server, and the DTOs the endpoints answer with.

    from inescape.modules.cds.api import stage, recommend

    stage(kind="pathological", histology="adenocarcinoma", t="T1b", n="N0", m="M0", grade="G3")
    # StageResult(stage_group="IC", table=..., row=..., rule=..., source=...)
    recommend(histology="adenocarcinoma", location="egj", t="T3", n="N1", m="M0", ecog=1)
    # Recommendations(options=[...], more_data_needed=[...], rule_set=...)
"""

from __future__ import annotations

from typing import Any

from inescape.modules.cds import guidelines
from inescape.modules.cds.guidelines import Citation, MissingFact, Option, Recommendations
from inescape.modules.cds.risk import RiskAnswer
from inescape.modules.cds.schemas import ClinicalFacts, Decision, PriorTreatment
from inescape.modules.cds.service import recommend as _recommend
from inescape.modules.cds.staging import StageResult, StagingError, stage

MODULE = "cds"


def recommend(facts: ClinicalFacts | None = None, **values: Any) -> Recommendations:
    """Ranked options for ``facts`` (or the same facts as keywords: ``histology=..., t=...``);
    the stage group is computed from T, N and M when they are given."""
    import msgspec

    chosen = facts if facts is not None else msgspec.convert(values, ClinicalFacts)
    answer: Recommendations = _recommend(chosen, strict=True)[0]
    return answer


__all__ = [
    "MODULE",
    "Citation",
    "ClinicalFacts",
    "Decision",
    "MissingFact",
    "Option",
    "PriorTreatment",
    "Recommendations",
    "RiskAnswer",
    "StageResult",
    "StagingError",
    "guidelines",
    "recommend",
    "stage",
]
