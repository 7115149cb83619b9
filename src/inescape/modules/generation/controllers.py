"""``/api/v1/generation/...`` and ``/api/v1/datasets``: profiles, generation jobs, and the
datasets they make (metadata, fidelity report, files streamed). Audited like every data access."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath, JSONBody
from litestar.response import Stream

from inescape.kernel.errors import Invalid, NotFound
from inescape.kernel.jobs import JobView
from inescape.modules.auth.api import audit_request, principal_of
from inescape.modules.generation import service
from inescape.modules.generation.outputs import BUCKET, CONTENT_TYPES
from inescape.modules.generation.schemas import GenerationRequest, ProfileSummary

READ = {"permission": "generation.jobs.read"}
MANAGE = {"permission": "generation.jobs.manage"}
DATASETS = {"permission": "datasets.read"}
MAX_PROFILE_BYTES = 256 * 1024


async def audited(
    request: Request[Any, Any, Any], action: str, *, resource_id: str | None, detail: str | None = None
) -> None:
    await audit_request(request, action, resource_type="dataset", resource_id=resource_id, detail=detail)


@get("/api/v1/generation/profiles", opt=READ, tags=["generation"], summary="Profiles: shipped and added")
async def list_profiles(request: Request[Any, Any, Any]) -> list[ProfileSummary]:
    return await service.all_profiles(request.app.state.services)


@get(
    "/api/v1/generation/profiles/{name:str}",
    opt=READ,
    tags=["generation"],
    summary="A whole profile, with sources",
)
async def read_profile(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    profile = await service.find_profile(request.app.state.services, name)
    return Response(msgspec.json.encode(profile), media_type="application/json")


@post(
    "/api/v1/generation/profiles",
    opt=MANAGE,
    status_code=201,
    tags=["generation"],
    summary="Add a profile (TOML, as the shipped ones); a bad one is a 422 naming the field",
)
async def add_profile(request: Request[Any, Any, Any]) -> ProfileSummary:
    raw = await request.body()
    if len(raw) > MAX_PROFILE_BYTES:
        raise Invalid("a profile is at most 256 KiB", errors=[{"field": "body", "message": "too large"}])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(
            "a profile is UTF-8 TOML text", errors=[{"field": "body", "message": "not UTF-8"}]
        ) from None
    who = principal_of(request)
    profile = await service.add_profile(request.app.state.services, text, user=who.username if who else None)
    await audited(request, "generation.profile_added", resource_id=profile.name)
    return ProfileSummary(
        name=profile.name,
        title=profile.title,
        version=profile.version,
        description=profile.description,
        builtin=False,
    )


@post(
    "/",  # under the module's job router: /api/v1/generation/jobs
    opt=MANAGE,
    status_code=202,
    tags=["generation"],
    summary="Generate a cohort (a job: progress in GET /api/v1/generation/jobs/{id})",
)
async def submit(request: Request[Any, Any, Any], data: JSONBody[GenerationRequest]) -> JobView:
    services = request.app.state.services
    profile = await service.find_profile(services, data.profile)  # 404 now, not in the job
    service.check_request(profile, data)
    who = principal_of(request)
    async with services.uow() as uow:
        job: JobView = await services.submit_job(
            uow,
            module="generation",
            kind="generation.generate",
            queue="generation",
            params=msgspec.to_builtins(data),
            owner=who.username if who else None,
        )
    await audited(
        request, "generation.job_submitted", resource_id=job.id, detail=f"{data.profile} n={data.n}"
    )
    return job


@get("/api/v1/datasets", opt=DATASETS, tags=["datasets"], summary="Datasets, newest first")
async def list_datasets(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    docs = await request.app.state.services.documents.find(
        service.DATASETS, {}, sort=[("created_at", -1)], limit=200
    )
    return [{k: v for k, v in d.items() if k != "fidelity"} for d in docs]


@get(
    "/api/v1/datasets/{dataset_id:str}",
    opt=DATASETS,
    tags=["datasets"],
    summary="A dataset: metadata and fidelity report",
)
async def read_dataset(request: Request[Any, Any, Any], dataset_id: FromPath[str]) -> dict[str, Any]:
    found = await service.dataset(request.app.state.services, dataset_id)
    await audited(request, "datasets.read", resource_id=dataset_id)
    return found


@get(
    "/api/v1/datasets/{dataset_id:str}/files/{name:str}",
    opt=DATASETS,
    tags=["datasets"],
    summary="Download one file of a dataset (streamed)",
)
async def download(request: Request[Any, Any, Any], dataset_id: FromPath[str], name: FromPath[str]) -> Stream:
    services = request.app.state.services
    found = await service.dataset(services, dataset_id)
    file = next((f for f in found.get("files", []) if f["name"] == name), None)
    if file is None:
        raise NotFound(f"dataset {dataset_id} has no file {name!r}; its files are listed in its metadata")
    await audited(request, "datasets.download", resource_id=dataset_id, detail=name)
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Content-Length": str(file["bytes"]),
        "Digest": f"sha-256={file['sha256']}",
    }
    return Stream(
        services.storage.stream(BUCKET, file["key"]),
        media_type=CONTENT_TYPES[file["format"]],
        headers=headers,
    )


@get(
    "/api/v1/datasets/{dataset_id:str}/survival.svg",
    opt=DATASETS,
    tags=["datasets"],
    summary="Kaplan-Meier survival by stage of the dataset (the fidelity report's picture)",
)
async def survival_picture(request: Request[Any, Any, Any], dataset_id: FromPath[str]) -> Response[bytes]:
    found = await service.dataset(request.app.state.services, dataset_id)
    svg = (found.get("fidelity") or {}).get("km_svg")
    if not svg:
        raise NotFound(f"dataset {dataset_id} has no survival picture")
    return Response(str(svg).encode(), media_type="image/svg+xml")


ROUTES = [list_profiles, read_profile, add_profile, list_datasets, read_dataset, download, survival_picture]
JOB_ROUTES = [submit]
