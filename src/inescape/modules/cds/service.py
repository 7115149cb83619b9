"""Decision support's use cases: stage, recommend, estimate risk, and all three for a patient."""

from __future__ import annotations

from typing import Any

import msgspec

from inescape.kernel.errors import Invalid
from inescape.modules.cds import guidelines
from inescape.modules.cds.api import (
    ClinicalFacts,
    Decision,
    Recommendations,
    RiskAnswer,
    StageResult,
    StagingError,
)
from inescape.modules.cds.facts import facts_of
from inescape.modules.cds.risk import RiskService
from inescape.modules.cds.schemas import StagingRequest
from inescape.modules.cds.staging import stage
from inescape.modules.patients.api import PatientsApi

STAGEABLE = ("squamous_cell_carcinoma", "adenocarcinoma")
RISK_FACTS = ("age", "sex", "histology", "location", "kind", "t", "n", "m", "grade", "stage_group", "ecog")


def stage_request(request: StagingRequest) -> StageResult:
    return stage(**msgspec.structs.asdict(request))


def resolve_stage(
    facts: ClinicalFacts, *, strict: bool
) -> tuple[ClinicalFacts, StageResult | None, str | None]:
    """The facts with ``stage_group`` computed from T, N and M where they allow it, the staging
    that did it, and why there is none. A given stage group that contradicts its TNM is refused
    (``strict``: facts from a request) or replaced, with a note (a stored record)."""
    tnm = {"t": facts.t, "n": facts.n, "m": facts.m}
    if facts.histology not in STAGEABLE or None in tnm.values():
        if facts.stage_group is not None:
            return facts, None, None
        lacking = [name for name, value in {"histology": facts.histology, **tnm}.items() if value is None]
        if lacking:
            return facts, None, f"No stage: {', '.join(lacking)} unknown."
        return facts, None, "No stage: only squamous cell carcinoma and adenocarcinoma are staged."
    try:
        result = stage(
            kind=facts.kind,
            histology=str(facts.histology),
            t=str(facts.t),
            n=str(facts.n),
            m=str(facts.m),
            grade=facts.grade,
            location=facts.location,
        )
    except StagingError as exc:  # a combination the tables do not define: say why, decide nothing
        return facts, None, exc.detail
    given = facts.stage_group
    resolved = msgspec.structs.replace(facts, stage_group=result.stage_group)
    if given is None or given == result.stage_group:
        return resolved, result, None
    clash = f"stage_group {given} contradicts {facts.t} {facts.n} {facts.m} (stage {result.stage_group})"
    if strict:
        raise Invalid(clash, errors=[{"field": "stage_group", "message": clash}])
    return resolved, result, f"Recorded {clash}; the computed stage is used."


def guideline_facts(facts: ClinicalFacts) -> guidelines.Facts:
    fields = set(guidelines.Facts.__struct_fields__)
    values = {k: v for k, v in msgspec.structs.asdict(facts).items() if k in fields}
    values["prior_treatments"] = [
        guidelines.PriorTreatment(kind=t.kind, intent=t.intent, margin=t.margin)
        for t in facts.prior_treatments
    ]
    if facts.pathologic_complete_response is None and facts.kind == "post_neoadjuvant":
        # ypT0N0 is a pathologic complete response; residual T or N disease is not (AJCC 8th).
        if facts.t == "T0" and facts.n == "N0":
            values["pathologic_complete_response"] = True
        elif facts.t not in (None, "TX", "T0") or facts.n in ("N1", "N2", "N3"):
            values["pathologic_complete_response"] = False
    return guidelines.Facts(**values)


def recommend(
    facts: ClinicalFacts, *, strict: bool = True
) -> tuple[Recommendations, StageResult | None, str | None]:
    resolved, staged, problem = resolve_stage(facts, strict=strict)
    return guidelines.recommend(guideline_facts(resolved)), staged, problem


def risk_facts(facts: ClinicalFacts) -> dict[str, Any]:
    return {name: getattr(facts, name) for name in RISK_FACTS}


class DecisionService:
    """Stage, recommendations and risk, for given facts or a stored patient."""

    def __init__(self, *, risk: RiskService, patients: PatientsApi) -> None:
        self.risk = risk
        self._patients = patients

    def stage(self, *, request: StagingRequest) -> StageResult:
        return stage_request(request)

    def recommend(self, *, facts: ClinicalFacts) -> tuple[Recommendations, StageResult | None, str | None]:
        """Recommendations for facts from a request (a stage group contradicting TNM is refused)."""
        return recommend(facts, strict=True)

    async def assess_risk(self, *, facts: ClinicalFacts) -> RiskAnswer:
        resolved, _, _ = resolve_stage(facts, strict=False)
        return await self.risk.assess(facts=risk_facts(resolved))

    async def decide(
        self, *, facts: ClinicalFacts, patient_id: str | None, strict: bool, outcome: Any = None
    ) -> Decision:
        """``outcome``: the stored record's (a patient recorded as dead gets no risk number)."""
        resolved, staged, problem = resolve_stage(facts, strict=strict)
        recommendations = guidelines.recommend(guideline_facts(resolved))
        if outcome is not None and outcome.vital_status == "dead":
            risk = self.risk.deceased(outcome.death_date)
        else:
            risk = await self.risk.assess(facts=risk_facts(resolved))
        return Decision(
            patient_id=patient_id,
            facts=msgspec.to_builtins(resolved),
            stage=staged,
            stage_problem=problem,
            recommendations=recommendations,
            risk=risk,
        )

    async def for_patient(self, *, patient_id: str) -> Decision:
        """All three for a stored patient (``PatientNotFound`` if absent)."""
        record = await self._patients.read_record(patient_id)
        return await self.decide(
            facts=facts_of(record), patient_id=patient_id, strict=False, outcome=record.outcome
        )
