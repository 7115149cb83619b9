"""``/api/v1/cds/...``, ``/api/v1/patients/{id}/cds`` and the CDS Hooks endpoints. Every call
goes through RBAC and is audited (fail closed: no audit, no answer)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody

from inescape.kernel.errors import NotFound
from inescape.kernel.ids import new_id
from inescape.modules.auth.api import audit_request, principal_of
from inescape.modules.cds import hooks
from inescape.modules.cds.cards import cards_for
from inescape.modules.cds.facts import facts_of
from inescape.modules.cds.schemas import ClinicalFacts, Decision, StagingRequest
from inescape.modules.cds.service import DecisionService, recommend, stage_request
from inescape.modules.cds.settings import CdsSettings
from inescape.modules.patients.api import read_bundle, read_record

USE = {"permission": "cds.use"}
PATIENTS = {"permission": "cds.patients.read"}
HOOKS = {"permission": "cds.hooks"}
PUBLIC = {"permission": "public"}
CARDS = "cds_cards"
FEEDBACK = "cds_feedback"


def service_of(request: Request[Any, Any, Any]) -> DecisionService:
    svc: DecisionService = request.app.state.services.extensions["cds"]
    return svc


def settings_of(request: Request[Any, Any, Any]) -> CdsSettings:
    found = request.app.state.services.module_settings.get("cds")
    return found if isinstance(found, CdsSettings) else CdsSettings()


async def audited(
    request: Request[Any, Any, Any],
    action: str,
    *,
    patient_id: str | None = None,
    resource_type: str = "cds",
    resource_id: str | None = None,
    detail: str | None = None,
) -> None:
    await audit_request(
        request,
        action,
        resource_type=resource_type,
        resource_id=resource_id or patient_id,
        patient_id=patient_id,
        detail=detail,
    )


def _json(value: Any) -> Response[bytes]:
    return Response(msgspec.json.encode(value), media_type="application/json")


@post("/api/v1/cds/staging", opt=USE, status_code=200, tags=["cds"], summary="AJCC 8th stage group")
async def staging(request: Request[Any, Any, Any], data: JSONBody[StagingRequest]) -> Response[bytes]:
    result = stage_request(data)
    await audited(request, "cds.staging", detail=f"{result.kind} {result.scheme}")
    return _json(result)


@post(
    "/api/v1/cds/recommendations",
    opt=USE,
    status_code=200,
    tags=["cds"],
    summary="Guideline treatment options, ranked, with evidence and the data still needed",
)
async def recommendations(request: Request[Any, Any, Any], data: JSONBody[ClinicalFacts]) -> Response[bytes]:
    answer, staged, problem = recommend(data, strict=True)
    await audited(request, "cds.recommendations", detail=answer.rule_set)
    return _json({"stage": staged, "stage_problem": problem, "recommendations": answer})


@post(
    "/api/v1/cds/risk",
    opt=USE,
    status_code=200,
    tags=["cds"],
    summary="1-, 3- and 5-year survival from the production model",
)
async def risk(request: Request[Any, Any, Any], data: JSONBody[ClinicalFacts]) -> Response[bytes]:
    answer = await service_of(request).assess_risk(data)
    await audited(request, "cds.risk", detail=f"{answer.model} v{answer.version}" if answer.model else None)
    return _json(answer)


@get(
    "/api/v1/patients/{patient_id:str}/cds",
    opt=PATIENTS,
    tags=["cds"],
    summary="Stage, recommendations and risk for a stored patient",
)
async def patient_decision(request: Request[Any, Any, Any], patient_id: FromPath[str]) -> Response[bytes]:
    record = await read_record(request.app.state.services, patient_id)
    decision = await service_of(request).decide(facts_of(record), patient_id=patient_id, strict=False)
    await audited(request, "cds.patient", patient_id=patient_id, resource_type="patient")
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
    request: Request[Any, Any, Any], service_id: FromPath[str], data: JSONBody[hooks.HookRequest]
) -> Response[bytes]:
    _known(service_id)
    hooks.check_request(data)
    settings = settings_of(request)
    bundle = await hooks.gather(data, allowed=settings.fhir_servers, timeout_s=settings.fhir_timeout_s)
    record, skipped = read_bundle(bundle)
    cards: list[dict[str, Any]] = []
    if record.conditions:  # no esophageal cancer on record: nothing to say, say nothing
        decision: Decision = await service_of(request).decide(facts_of(record), patient_id=None, strict=False)
        made = cards_for(decision)
        cards = [card for card, _ in made]
        await _remember(request, data, made)
    detail = f"hookInstance {data.hookInstance}; {len(cards)} cards; {len(skipped)} resources skipped"
    await audited(
        request,
        "cds.hooks.patient-view",
        resource_type="fhir-patient",
        resource_id=data.context.patientId,
        detail=detail,
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
    request: Request[Any, Any, Any], service_id: FromPath[str], data: JSONBody[hooks.Feedback]
) -> dict[str, Any]:
    _known(service_id)
    services = request.app.state.services
    who = principal_of(request)
    now = services.clock.now().isoformat()
    docs = []
    for item in data.feedback:
        issued = await services.documents.get(CARDS, item.card)
        docs.append(
            {
                "id": new_id(),
                "service": service_id,
                **msgspec.to_builtins(item),
                "rule_id": issued.get("rule_id") if issued else None,
                "known_card": issued is not None,
                "user": who.username if who else None,
                "received_at": now,
            }
        )
    await services.documents.insert_many(FEEDBACK, docs)
    outcomes = ", ".join(f"{i.card}:{i.outcome}" for i in data.feedback)
    await audited(request, "cds.hooks.feedback", resource_id=service_id, detail=outcomes[:500])
    return {}


def _known(service_id: str) -> None:
    if service_id != hooks.SERVICE_ID:
        raise NotFound(f"no CDS service {service_id!r}; GET /cds-services lists them")


async def _remember(
    request: Request[Any, Any, Any], data: hooks.HookRequest, made: list[tuple[dict[str, Any], str | None]]
) -> None:
    """The cards issued, so feedback can be traced to the rule that made each."""
    now = request.app.state.services.clock.now().isoformat()
    docs = [
        {
            "id": card["uuid"],
            "hook_instance": data.hookInstance,
            "fhir_patient": data.context.patientId,
            "summary": card["summary"],
            "rule_id": rule_id,
            "issued_at": now,
        }
        for card, rule_id in made
    ]
    await request.app.state.services.documents.insert_many(CARDS, docs)


ROUTES = [staging, recommendations, risk, patient_decision, discovery, hook, feedback]
