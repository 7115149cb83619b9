"""``/api/v1/cds/...``, ``/api/v1/patients/{id}/cds`` and the CDS Hooks endpoints. Every call
goes through RBAC and is audited (declared beside its permission; fail closed: no audit, no
answer).

Each route is given by name what the module's ``bind`` built: ``decisions``
(``DecisionService``) and ``hook_service`` (``HookService``)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody

from inescape.modules.auth.api import Audit, audit_note, username_of
from inescape.modules.cds import hooks
from inescape.modules.cds.api import ClinicalFacts, RiskAnswer, StageResult
from inescape.modules.cds.hook_service import HookService
from inescape.modules.cds.schemas import (
    Cards,
    Discovery,
    PatientDecision,
    RecommendationsAnswer,
    StagingRequest,
)
from inescape.modules.cds.service import DecisionService

PUBLIC = {"permission": "public"}
AnyRequest = Request[Any, Any, Any]
# dependencies by name (``Bound.dependencies``)
Decisions = NamedDependency[DecisionService]
Hooks = NamedDependency[HookService]


def use(action: str) -> dict[str, Any]:
    """Decision support on facts sent in the request: a question, which changes nothing."""
    return {"permission": "cds.use", "audit": Audit(action, "cds", read_only=True)}


def hooks_call(action: str, resource_type: str, resource_id: str | None = None) -> dict[str, Any]:
    """A CDS Hooks call from an EHR."""
    return {"permission": "cds.hooks", "audit": Audit(action, resource_type, resource_id=resource_id)}


def answer(container: Any, description: str) -> dict[int, ResponseSpec]:
    """The JSON a handler encodes itself, documented by the Struct it holds."""
    return {200: ResponseSpec(data_container=container, generate_examples=False, description=description)}


def _json(value: Any) -> Response[bytes]:
    return Response(msgspec.json.encode(value), media_type="application/json")


@post(
    "/api/v1/cds/staging",
    opt=use("cds.staging"),
    status_code=200,
    responses=answer(StageResult, "The stage group and the row of the manual it comes from."),
    tags=["cds"],
    summary="AJCC 8th stage group",
)
async def staging(
    request: AnyRequest, data: JSONBody[StagingRequest], decisions: Decisions
) -> Response[bytes]:
    result = decisions.stage(request=data)
    audit_note(request, detail=f"{result.kind} {result.scheme}")
    return _json(result)


@post(
    "/api/v1/cds/recommendations",
    opt=use("cds.recommendations"),
    status_code=200,
    responses=answer(RecommendationsAnswer, "The stage used and the ranked options."),
    tags=["cds"],
    summary="Guideline treatment options, ranked, with evidence and the data still needed",
)
async def recommendations(
    request: AnyRequest, data: JSONBody[ClinicalFacts], decisions: Decisions
) -> Response[bytes]:
    answer, staged, problem = decisions.recommend(facts=data)
    audit_note(request, detail=answer.rule_set)
    return _json({"stage": staged, "stage_problem": problem, "recommendations": answer})


@post(
    "/api/v1/cds/risk",
    opt=use("cds.risk"),
    status_code=200,
    responses=answer(RiskAnswer, "Survival at 1, 3 and 5 years, or why there is none."),
    tags=["cds"],
    summary="1-, 3- and 5-year survival from the production model",
)
async def risk(request: AnyRequest, data: JSONBody[ClinicalFacts], decisions: Decisions) -> Response[bytes]:
    answer = await decisions.assess_risk(facts=data)
    if answer.model:
        audit_note(request, detail=f"{answer.model} v{answer.version}")
    return _json(answer)


@get(
    "/api/v1/patients/{patient_id:str}/cds",
    opt={
        "permission": "cds.patients.read",
        "audit": Audit("cds.patient", "patient", resource_id="patient_id", patient_id="patient_id"),
    },
    responses=answer(PatientDecision, "The stage, options and risk, from the record."),
    tags=["cds"],
    summary="Stage, recommendations and risk for a stored patient",
)
async def patient_decision(patient_id: FromPath[str], decisions: Decisions) -> Response[bytes]:
    decision = await decisions.for_patient(patient_id=patient_id)
    return _json(decision)


@get(
    "/cds-services",
    opt=PUBLIC,
    responses=answer(Discovery, "The services."),
    tags=["cds-hooks"],
    summary="CDS Hooks discovery",
)
async def discovery() -> dict[str, Any]:
    return {"services": [hooks.SERVICE]}


@post(
    "/cds-services/{service_id:str}",
    opt=hooks_call("cds.hooks.patient-view", "fhir-patient"),
    status_code=200,
    responses=answer(Cards, "The cards for the patient."),
    tags=["cds-hooks"],
    summary="CDS Hooks patient-view: cards for the patient in context",
)
async def hook(
    request: AnyRequest,
    service_id: FromPath[str],
    data: JSONBody[hooks.HookRequest],
    hook_service: Hooks,
) -> Response[bytes]:
    cards, skipped = await hook_service.cards(service_id=service_id, request=data)
    audit_note(
        request,
        resource_id=data.context.patientId,
        detail=f"hookInstance {data.hookInstance}; {len(cards)} cards; {skipped} resources skipped",
    )
    return _json({"cards": cards})


@post(
    "/cds-services/{service_id:str}/feedback",
    opt=hooks_call("cds.hooks.feedback", "cds", resource_id="service_id"),
    status_code=200,
    tags=["cds-hooks"],
    summary="CDS Hooks feedback: cards accepted or overridden, with reasons",
)
async def feedback(
    request: AnyRequest,
    service_id: FromPath[str],
    data: JSONBody[hooks.Feedback],
    hook_service: Hooks,
) -> dict[str, Any]:
    await hook_service.feedback(service_id=service_id, feedback=data, user=username_of(request))
    outcomes = ", ".join(f"{i.card}:{i.outcome}" for i in data.feedback)
    audit_note(request, detail=outcomes[:500])
    return {}


ROUTES = [staging, recommendations, risk, patient_decision, discovery, hook, feedback]
