"""``/api/v1/training/runs`` (training runs as jobs) and ``/api/v1/models`` (the registry:
versions, model cards, pictures, promotion through the gates). Audited like every data access
(declared beside the permission, written by the gateway before the answer).

Each route is given by name what the module's ``bind`` built: ``runs`` (``RunService``) and
``models`` (``ModelService``)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter

from inescape.infra.openapi import media
from inescape.kernel.jobs import JobView
from inescape.modules.auth.api import Audit, audit_note, owner_scope, principal_of, username_of
from inescape.modules.training.api import ModelCard, card_id
from inescape.modules.training.schemas import (
    GateList,
    ModelList,
    ModelVersion,
    PromotionRequest,
    RunDetail,
    RunList,
    TrainingRequest,
    VersionList,
)
from inescape.modules.training.service import ModelService, RunService

RUNS_READ = {"permission": "training.jobs.read"}
MODELS_READ = {"permission": "models.read"}
SVG = "image/svg+xml"
AnyRequest = Request[Any, Any, Any]
# dependencies by name (``Bound.dependencies``)
Runs = NamedDependency[RunService]
Models = NamedDependency[ModelService]


def answer(container: Any, description: str) -> dict[int, ResponseSpec]:
    """The JSON a handler returns as plain values, documented by the Struct it holds."""
    return {200: ResponseSpec(data_container=container, generate_examples=False, description=description)}


def unpaged(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A list that is not paged, in the envelope every list has (its cursor always null)."""
    return {"items": items, "next_cursor": None}


def audited(permission: str, action: str, *, resource_id: str | None = None) -> dict[str, Any]:
    """A route's permission and its audit event (on a model, or the run that makes one)."""
    return {"permission": permission, "audit": Audit(action, "model", resource_id=resource_id)}


@post(
    "/api/v1/training/runs",
    opt=audited("training.jobs.manage", "training.run_submitted"),
    status_code=202,
    tags=["training"],
    summary="Train a model (a job: progress per epoch in GET /api/v1/training/runs/{id})",
)
async def submit_run(request: AnyRequest, data: JSONBody[TrainingRequest], runs: Runs) -> JobView:
    job = await runs.submit(request=data, owner=username_of(request), viewer=principal_of(request))
    audit_note(request, resource_id=job.id, detail=f"{data.model} -> {data.name}")
    return job


@get(
    "/api/v1/training/runs",
    opt=RUNS_READ,
    responses=answer(RunList, "The runs, newest first, without their history."),
    tags=["training"],
    summary="Training runs, newest first",
)
async def list_runs(request: AnyRequest, runs: Runs) -> dict[str, Any]:
    return unpaged(await runs.recent(owner=owner_scope(request, reading=True)))


@get(
    "/api/v1/training/runs/{run_id:str}",
    opt=RUNS_READ,
    responses=answer(RunDetail, "The run."),
    tags=["training"],
    summary="A run: status, epochs, metrics",
)
async def read_run(request: AnyRequest, run_id: FromPath[str], runs: Runs) -> dict[str, Any]:
    return await runs.read(run_id=run_id, owner=owner_scope(request, reading=True))


@get(
    "/api/v1/training/runs/{run_id:str}/curve.svg",
    opt={**RUNS_READ, **media({SVG: "Training and validation loss per epoch (SVG)."})},
    media_type=SVG,
    tags=["training"],
    summary="The run's training curve (loss per epoch), as it stands",
)
async def run_curve(request: AnyRequest, run_id: FromPath[str], runs: Runs) -> Response[bytes]:
    svg = await runs.curve_svg(run_id=run_id, owner=owner_scope(request, reading=True))
    return Response(svg.encode(), media_type=SVG)


@post(
    "/api/v1/training/runs/{run_id:str}/cancel",
    opt=audited("training.jobs.manage", "training.run_cancelled", resource_id="run_id"),
    status_code=200,
    tags=["training"],
    summary="Cancel a run",
)
async def cancel_run(request: AnyRequest, run_id: FromPath[str], runs: Runs) -> JobView:
    return await runs.cancel(run_id=run_id, owner=owner_scope(request))


# --- the registry -----------------------------------------------------------------------------


def _view(card: ModelCard) -> dict[str, Any]:
    plain: dict[str, Any] = msgspec.to_builtins(card)
    plain.pop("report", None)
    return plain


@get(
    "/api/v1/models",
    opt=MODELS_READ,
    responses=answer(ModelList, "Each model name."),
    tags=["models"],
    summary="Model names with their versions and stages",
)
async def list_models(models: Models) -> dict[str, Any]:
    return unpaged(await models.names())


@get(
    "/api/v1/models/{name:str}/versions",
    opt=MODELS_READ,
    responses=answer(VersionList, "Each version's model card, without its report."),
    tags=["models"],
    summary="Every version of a model",
)
async def list_versions(name: FromPath[str], models: Models) -> dict[str, Any]:
    return unpaged([_view(c) for c in await models.versions(name=name)])


@get(
    "/api/v1/models/{name:str}/versions/{version:int}",
    opt=audited("models.read", "models.read"),
    responses=answer(ModelVersion, "The model card, with its report."),
    tags=["models"],
    summary="A version's model card (JSON): metrics, data, settings, calibration, subgroups",
)
async def read_version(
    request: AnyRequest, name: FromPath[str], version: FromPath[int], models: Models
) -> dict[str, Any]:
    card = await models.card(name=name, version=version)
    audit_note(request, resource_id=card.id)
    return msgspec.to_builtins(card)  # type: ignore[no-any-return]


@get(
    "/api/v1/models/{name:str}/versions/{version:int}/card.md",
    opt={**MODELS_READ, **media({"text/markdown; charset=utf-8": "The model card as Markdown."})},
    media_type="text/markdown; charset=utf-8",
    tags=["models"],
    summary="A version's model card as Markdown",
)
async def read_card_markdown(name: FromPath[str], version: FromPath[int], models: Models) -> Response[bytes]:
    markdown = await models.card_markdown(name=name, version=version)
    return Response(markdown, media_type="text/markdown; charset=utf-8")


@get(
    "/api/v1/models/{name:str}/versions/{version:int}/calibration.svg",
    opt={
        **MODELS_READ,
        **media({SVG: "Predicted against observed survival by decile, a panel per horizon (SVG)."}),
    },
    media_type=SVG,
    tags=["models"],
    summary="Predicted against observed survival by decile, at each horizon",
)
async def read_calibration(name: FromPath[str], version: FromPath[int], models: Models) -> Response[bytes]:
    return Response((await models.calibration_svg(name=name, version=version)).encode(), media_type=SVG)


@get(
    "/api/v1/models/{name:str}/versions/{version:int}/curve.svg",
    opt={
        **MODELS_READ,
        **media({SVG: "Training and validation loss per epoch of the run that made it (SVG)."}),
    },
    media_type=SVG,
    tags=["models"],
    summary="The training curve of the run that made this version",
)
async def read_curve(name: FromPath[str], version: FromPath[int], models: Models) -> Response[bytes]:
    return Response((await models.curve_svg(name=name, version=version)).encode(), media_type=SVG)


@get(
    "/api/v1/models/{name:str}/versions/{version:int}/gates",
    opt=MODELS_READ,
    responses=answer(GateList, "Each gate and whether the version meets it."),
    tags=["models"],
    summary="The promotion gates as they stand for a version (a check: nothing is promoted)",
)
async def read_gates(
    name: FromPath[str],
    version: FromPath[int],
    models: Models,
    allow_synthetic: Annotated[
        bool,
        QueryParameter(description="Judge the gates as a promotion allowing synthetic training data would."),
    ] = False,
) -> dict[str, Any]:
    return unpaged(await models.gates(name=name, version=version, allow_synthetic=allow_synthetic))


@post(
    "/api/v1/models/{name:str}/versions/{version:int}/promote",
    opt=audited("models.promote", "models.promote"),
    status_code=200,
    responses=answer(ModelVersion, "The promoted version's model card, without its report."),
    tags=["models"],
    summary="Make a version the production model, if it passes its gates (409 naming each failed gate)",
)
async def promote(
    request: AnyRequest,
    name: FromPath[str],
    version: FromPath[int],
    models: Models,
    data: JSONBody[PromotionRequest | None] = None,
) -> dict[str, Any]:
    body = data or PromotionRequest()
    # a refused promotion (failed gates, unknown version) is audited too, as a failure
    audit_note(
        request,
        resource_id=card_id(name, version),
        outcome="failure",
        detail="allow_synthetic" if body.allow_synthetic else None,
    )
    card = await models.promote(name=name, version=version, body=body, by=username_of(request))
    audit_note(request, resource_id=card.id, outcome="success")
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
    read_gates,
    promote,
]
