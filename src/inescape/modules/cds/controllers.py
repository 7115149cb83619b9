"""``/api/v1/cds/...``, ``/api/v1/patients/{id}/cds`` and the CDS Hooks endpoints. Every call
goes through RBAC and is audited (fail closed: no audit, no answer).

Each route is given by name what the module's ``bind`` built: ``decisions``
(``DecisionService``), ``hook_service`` (``HookService``) and ``gateway`` (``GatewayApi``)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, SkipValidation

from inescape.modules.auth.api import GatewayApi, principal_of
from inescape.modules.cds import hooks
from inescape.modules.cds.api import ClinicalFacts
from inescape.modules.cds.hook_service import HookService
from inescape.modules.cds.schemas import StagingRequest
from inescape.modules.cds.service import DecisionService

USE = {"permission": "cds.use"}
PATIENTS = {"permission": "cds.patients.read"}
HOOKS = {"permission": "cds.hooks"}
PUBLIC = {"permission": "public"}
AnyRequest = Request[Any, Any, Any]
# dependencies by name (``Bound.dependencies``); a Protocol is injected unchecked (no isinstance)
Decisions = NamedDependency[DecisionService]
Hooks = NamedDependency[HookService]
Gateway = NamedDependency[SkipValidation[GatewayApi]]


def _json(value: Any) -> Response[bytes]:
    return Response(msgspec.json.encode(value), media_type="application/json")


@post("/api/v1/cds/staging", opt=USE, status_code=200, tags=["cds"], summary="AJCC 8th stage group")
async def staging(
    request: AnyRequest, data: JSONBody[StagingRequest], decisions: Decisions, gateway: Gateway
) -> Response[bytes]:
    result = decisions.stage(request=data)
    await gateway.audit(request, "cds.staging", resource_type="cds", detail=f"{result.kind} {result.scheme}")
    return _json(result)


@post(
    "/api/v1/cds/recommendations",
    opt=USE,
    status_code=200,
    tags=["cds"],
    summary="Guideline treatment options, ranked, with evidence and the data still needed",
)
async def recommendations(
    request: AnyRequest, data: JSONBody[ClinicalFacts], decisions: Decisions, gateway: Gateway
) -> Response[bytes]:
    answer, staged, problem = decisions.recommend(facts=data)
    await gateway.audit(request, "cds.recommendations", resource_type="cds", detail=answer.rule_set)
    return _json({"stage": staged, "stage_problem": problem, "recommendations": answer})


@post(
    "/api/v1/cds/risk",
    opt=USE,
    status_code=200,
    tags=["cds"],
    summary="1-, 3- and 5-year survival from the production model",
)
async def risk(
    request: AnyRequest, data: JSONBody[ClinicalFacts], decisions: Decisions, gateway: Gateway
) -> Response[bytes]:
    answer = await decisions.assess_risk(facts=data)
    detail = f"{answer.model} v{answer.version}" if answer.model else None
    await gateway.audit(request, "cds.risk", resource_type="cds", detail=detail)
    return _json(answer)


@get(
    "/api/v1/patients/{patient_id:str}/cds",
    opt=PATIENTS,
    tags=["cds"],
    summary="Stage, recommendations and risk for a stored patient",
)
async def patient_decision(
    request: AnyRequest, patient_id: FromPath[str], decisions: Decisions, gateway: Gateway
) -> Response[bytes]:
    decision = await decisions.for_patient(patient_id=patient_id)
    await gateway.audit(
        request, "cds.patient", resource_type="patient", resource_id=patient_id, patient_id=patient_id
    )
    return _json(decision)


@get("/cds-services", opt=PUBLIC, tags=["cds-hooks"], summary="CDS Hooks discovery")
async def discovery() -> dict[str, Any]:
    return {"services": [hooks.SERVICE]}


@post(
    "/cds-services/{service_id:str}",
    opt=HOOKS,
    status_code=200,
    tags=["cds-hooks"],
    summary="CDS Hooks patient-view: cards for the patient in context",
)
async def hook(
    request: AnyRequest,
    service_id: FromPath[str],
    data: JSONBody[hooks.HookRequest],
    hook_service: Hooks,
    gateway: Gateway,
) -> Response[bytes]:
    cards, skipped = await hook_service.cards(service_id=service_id, request=data)
    await gateway.audit(
        request,
        "cds.hooks.patient-view",
        resource_type="fhir-patient",
        resource_id=data.context.patientId,
        detail=f"hookInstance {data.hookInstance}; {len(cards)} cards; {skipped} resources skipped",
    )
    return _json({"cards": cards})


@post(
    "/cds-services/{service_id:str}/feedback",
    opt=HOOKS,
    status_code=200,
    tags=["cds-hooks"],
    summary="CDS Hooks feedback: cards accepted or overridden, with reasons",
)
async def feedback(
    request: AnyRequest,
    service_id: FromPath[str],
    data: JSONBody[hooks.Feedback],
    hook_service: Hooks,
    gateway: Gateway,
) -> dict[str, Any]:
    who = principal_of(request)
    await hook_service.feedback(service_id=service_id, feedback=data, user=who.username if who else None)
    outcomes = ", ".join(f"{i.card}:{i.outcome}" for i in data.feedback)
    await gateway.audit(
        request, "cds.hooks.feedback", resource_type="cds", resource_id=service_id, detail=outcomes[:500]
    )
    return {}


ROUTES = [staging, recommendations, risk, patient_decision, discovery, hook, feedback]
