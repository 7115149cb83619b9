"""``/api/v1/training/runs`` (training runs as jobs) and ``/api/v1/models`` (the registry:
versions, model cards, pictures, promotion through the gates). Audited like every data access."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody

from inescape.kernel.jobs import JobView
from inescape.modules.auth.api import audit_request, principal_of
from inescape.modules.training import gates, service
from inescape.modules.training.cards import calibration_svg, training_curve_svg
from inescape.modules.training.registry import ModelCard, ModelRegistry
from inescape.modules.training.schemas import PromotionRequest, TrainingRequest

RUNS_READ = {"permission": "training.jobs.read"}
RUNS_MANAGE = {"permission": "training.jobs.manage"}
MODELS_READ = {"permission": "models.read"}
MODELS_PROMOTE = {"permission": "models.promote"}
SVG = "image/svg+xml"


async def audited(
    request: Request[Any, Any, Any], action: str, *, resource: str | None, detail: str | None = None
) -> None:
    await audit_request(request, action, resource_type="model", resource_id=resource, detail=detail)


@post(
    "/api/v1/training/runs",
    opt=RUNS_MANAGE,
    status_code=202,
    tags=["training"],
    summary="Train a model (a job: progress per epoch in GET /api/v1/training/runs/{id})",
)
async def submit_run(request: Request[Any, Any, Any], data: JSONBody[TrainingRequest]) -> JobView:
    services = request.app.state.services
    service.check_request(data, service.settings_of(services))
    who = principal_of(request)
    async with services.uow() as uow:
        job: JobView = await services.submit_job(
            uow,
            module="training",
            kind="training.fit",
            queue="training",
            params=msgspec.to_builtins(data),
            owner=who.username if who else None,
        )
    await audited(request, "training.run_submitted", resource=job.id, detail=f"{data.model} -> {data.name}")
    return job


@get("/api/v1/training/runs", opt=RUNS_READ, tags=["training"], summary="Training runs, newest first")
async def list_runs(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    docs = await request.app.state.services.documents.find(
        service.RUNS, {}, sort=[("updated_at", -1)], limit=200
    )
    return [{k: v for k, v in d.items() if k != "history"} for d in docs]


async def _run(request: Request[Any, Any, Any], run_id: str) -> dict[str, Any]:
    services = request.app.state.services
    job = await services.jobs.get(run_id, module="training")  # 404 for an unknown id
    doc = await services.documents.get(service.RUNS, run_id) or {}
    return {
        **doc,
        "id": run_id,
        "status": str(job.status),
        "progress": job.progress,
        "epochs": job.counts.get("epochs", 0),
        "error": job.error,
        "params": job.params,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


@get(
    "/api/v1/training/runs/{run_id:str}",
    opt=RUNS_READ,
    tags=["training"],
    summary="A run: status, epochs, metrics",
)
async def read_run(request: Request[Any, Any, Any], run_id: FromPath[str]) -> dict[str, Any]:
    return await _run(request, run_id)


@get(
    "/api/v1/training/runs/{run_id:str}/curve.svg",
    opt=RUNS_READ,
    tags=["training"],
    summary="The run's training curve (loss per epoch), as it stands",
)
async def run_curve(request: Request[Any, Any, Any], run_id: FromPath[str]) -> Response[bytes]:
    run = await _run(request, run_id)
    svg = training_curve_svg(run.get("history") or [], kind=str(run.get("model")))
    return Response(svg.encode(), media_type=SVG)


@post(
    "/api/v1/training/runs/{run_id:str}/cancel",
    opt=RUNS_MANAGE,
    status_code=200,
    tags=["training"],
    summary="Cancel a run",
)
async def cancel_run(request: Request[Any, Any, Any], run_id: FromPath[str]) -> JobView:
    services = request.app.state.services
    async with services.uow() as uow:
        job: JobView = await services.jobs.cancel(uow.session, run_id, module="training")
    await audited(request, "training.run_cancelled", resource=run_id)
    return job


# --- the registry -----------------------------------------------------------------------------


def _view(card: ModelCard) -> dict[str, Any]:
    plain: dict[str, Any] = msgspec.to_builtins(card)
    plain.pop("report", None)
    return plain


@get("/api/v1/models", opt=MODELS_READ, tags=["models"], summary="Model names with their versions and stages")
async def list_models(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    cards = await ModelRegistry(request.app.state.services).cards()
    names: dict[str, dict[str, Any]] = {}
    for card in cards:
        entry = names.setdefault(
            card.name, {"name": card.name, "versions": 0, "production": None, "latest": 0}
        )
        entry["versions"] += 1
        entry["latest"] = max(entry["latest"], card.version)
        if card.stage == "production":
            entry["production"] = card.version
    return list(names.values())


@get(
    "/api/v1/models/{name:str}/versions", opt=MODELS_READ, tags=["models"], summary="Every version of a model"
)
async def list_versions(request: Request[Any, Any, Any], name: FromPath[str]) -> list[dict[str, Any]]:
    return [_view(c) for c in await ModelRegistry(request.app.state.services).cards(name)]


@get(
    "/api/v1/models/{name:str}/versions/{version:int}",
    opt=MODELS_READ,
    tags=["models"],
    summary="A version's model card (JSON): metrics, data, settings, calibration, subgroups",
)
async def read_version(
    request: Request[Any, Any, Any], name: FromPath[str], version: FromPath[int]
) -> dict[str, Any]:
    card = await ModelRegistry(request.app.state.services).card(name, version)
    await audited(request, "models.read", resource=card.id)
    return msgspec.to_builtins(card)  # type: ignore[no-any-return]


@get(
    "/api/v1/models/{name:str}/versions/{version:int}/card.md",
    opt=MODELS_READ,
    tags=["models"],
    summary="A version's model card as Markdown",
)
async def read_card_markdown(
    request: Request[Any, Any, Any], name: FromPath[str], version: FromPath[int]
) -> Response[bytes]:
    registry = ModelRegistry(request.app.state.services)
    card = await registry.card(name, version)
    return Response(await registry.file(card, "card.md"), media_type="text/markdown; charset=utf-8")


@get(
    "/api/v1/models/{name:str}/versions/{version:int}/calibration.svg",
    opt=MODELS_READ,
    tags=["models"],
    summary="Predicted against observed survival by decile, at each horizon",
)
async def read_calibration(
    request: Request[Any, Any, Any], name: FromPath[str], version: FromPath[int]
) -> Response[bytes]:
    card = await ModelRegistry(request.app.state.services).card(name, version)
    return Response(calibration_svg(card.report.get("calibration") or {}).encode(), media_type=SVG)


@get(
    "/api/v1/models/{name:str}/versions/{version:int}/curve.svg",
    opt=MODELS_READ,
    tags=["models"],
    summary="The training curve of the run that made this version",
)
async def read_curve(
    request: Request[Any, Any, Any], name: FromPath[str], version: FromPath[int]
) -> Response[bytes]:
    card = await ModelRegistry(request.app.state.services).card(name, version)
    svg = training_curve_svg(card.report.get("history") or [], kind=card.kind)
    return Response(svg.encode(), media_type=SVG)


@post(
    "/api/v1/models/{name:str}/versions/{version:int}/promote",
    opt=MODELS_PROMOTE,
    status_code=200,
    tags=["models"],
    summary="Make a version the production model, if it passes its gates (409 naming each failed gate)",
)
async def promote(
    request: Request[Any, Any, Any],
    name: FromPath[str],
    version: FromPath[int],
    data: JSONBody[PromotionRequest] | None = None,
) -> dict[str, Any]:
    services = request.app.state.services
    body = data or PromotionRequest()
    who = principal_of(request)
    detail = "allow_synthetic" if body.allow_synthetic else None
    try:
        card = await gates.promote_checked(
            services,
            name,
            version,
            by=who.username if who else None,
            allow_synthetic=body.allow_synthetic,
            reason=body.reason,
            tolerance=service.settings_of(services).calibration_tolerance,
        )
    except Exception:
        await audit_request(
            request,
            "models.promote",
            resource_type="model",
            resource_id=f"{name}:{version:06d}",
            outcome="failure",
            detail=detail,
        )
        raise
    await audited(request, "models.promote", resource=card.id, detail=detail)
    return _view(card)


ROUTES = [
    submit_run,
    list_runs,
    read_run,
    run_curve,
    cancel_run,
    list_models,
    list_versions,
    read_version,
    read_card_markdown,
    read_calibration,
    read_curve,
    promote,
]
