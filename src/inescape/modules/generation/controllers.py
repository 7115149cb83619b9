"""``/api/v1/generation/...`` and ``/api/v1/datasets``: profiles, generation jobs, and the
datasets they make (metadata, fidelity report, files streamed). Audited like every data access
(declared beside the permission, written by the gateway before the answer).

Each handler is given by name what the module's ``bind`` built: ``profiles``, ``generation``
and ``datasets``."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.response import Stream

from inescape.infra.openapi import errors, media
from inescape.kernel.errors import Forbidden, Invalid, NotFound
from inescape.kernel.jobs import JobView
from inescape.modules.auth.api import Audit, audit_note, principal_of, username_of
from inescape.modules.generation.api import DatasetInfo, check_release
from inescape.modules.generation.datasets import Datasets
from inescape.modules.generation.outputs import CONTENT_TYPES
from inescape.modules.generation.schemas import (
    DatasetView,
    GenerationRequest,
    ProfileDocument,
    ProfileList,
    ProfileSummary,
)
from inescape.modules.generation.service import GenerationService, ProfileService, summary

READ = {"permission": "generation.jobs.read"}
DATASETS = {"permission": "datasets.read"}
MAX_PROFILE_BYTES = 256 * 1024
DATASET = "dataset"  # the audit events' resource type
# dependencies by name (``Bound.dependencies``)
Profiles = NamedDependency[ProfileService]
Generation = NamedDependency[GenerationService]
DatasetFiles = NamedDependency[Datasets]


def audited(permission: str, action: str, *, resource_id: str | None = None) -> dict[str, Any]:
    """A route's permission and its audit event (on a dataset, or what makes one)."""
    return {"permission": permission, "audit": Audit(action, DATASET, resource_id=resource_id)}


@get("/api/v1/generation/profiles", opt=READ, tags=["generation"], summary="Profiles: shipped and added")
async def list_profiles(profiles: Profiles) -> ProfileList:
    return ProfileList(items=await profiles.summaries())


@get(
    "/api/v1/generation/profiles/{name:str}",
    opt=READ,
    responses={
        200: ResponseSpec(
            ProfileDocument, generate_examples=False, description="The profile, as its TOML holds it."
        )
    },
    tags=["generation"],
    summary="A whole profile, with sources",
)
async def read_profile(
    request: Request[Any, Any, Any], profiles: Profiles, name: FromPath[str]
) -> Response[bytes]:
    profile = await profiles.find(name=name)
    fitted = await profiles.fitted(name=name)
    principal = principal_of(request)
    if fitted and fitted.get("epsilon") is None and (principal is None or principal.is_researcher_only):
        raise Forbidden(
            f"profile {name} holds exact figures of real patients (fitted without ε); not for researchers"
        )
    return Response(msgspec.json.encode(profile), media_type="application/json")


@post(
    "/api/v1/generation/profiles",
    opt=audited("generation.jobs.manage", "generation.profile_added"),
    status_code=201,
    tags=["generation"],
    summary="Add a profile (TOML, as the shipped ones); a bad one is a 422 naming the field",
)
async def add_profile(request: Request[Any, Any, Any], profiles: Profiles) -> ProfileSummary:
    raw = await request.body()
    if len(raw) > MAX_PROFILE_BYTES:
        raise Invalid("a profile is at most 256 KiB", errors=[{"field": "body", "message": "too large"}])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid(
            "a profile is UTF-8 TOML text", errors=[{"field": "body", "message": "not UTF-8"}]
        ) from None
    profile = await profiles.add(text=text, user=username_of(request))
    audit_note(request, resource_id=profile.name)
    return summary(profile, builtin=False)


@post(
    "/",  # under the module's job router: /api/v1/generation/jobs
    opt=audited("generation.jobs.manage", "generation.job_submitted"),
    responses=errors(404),
    status_code=202,
    tags=["generation"],
    summary="Generate a cohort (a job: progress in GET /api/v1/generation/jobs/{id})",
)
async def submit(
    request: Request[Any, Any, Any], data: JSONBody[GenerationRequest], generation: Generation
) -> JobView:
    job = await generation.submit(request=data, owner=username_of(request))
    audit_note(request, resource_id=job.id, detail=f"{data.profile} n={data.n}")
    return job


def released(request: Request[Any, Any, Any], found: DatasetInfo) -> DatasetInfo:
    """The dataset, unless it is derived from real patients and not released to this caller (403)."""
    principal = principal_of(request)
    check_release(found, researcher_only=principal is None or principal.is_researcher_only)
    return found


class DatasetList(msgspec.Struct, frozen=True, kw_only=True):
    """A page of datasets, as every list is: the items and the cursor of the next page."""

    items: Annotated[
        list[dict[str, Any]],
        msgspec.Meta(
            description="Each dataset's metadata as GET /api/v1/datasets/{dataset_id} shows it "
            "(DatasetView), without its fidelity report."
        ),
    ]
    next_cursor: Annotated[
        str | None, msgspec.Meta(description="The cursor of the next page; null on the last one.")
    ] = None


@get("/api/v1/datasets", opt=DATASETS, tags=["datasets"], summary="Datasets, newest first")
async def list_datasets(
    datasets: DatasetFiles,
    limit: Annotated[int, QueryParameter(ge=1, le=200, description="At most this many datasets.")] = 50,
    cursor: Annotated[
        str | None, QueryParameter(description="The next_cursor of the previous page, for the next one.")
    ] = None,
) -> DatasetList:
    skip = _offset(cursor)
    found = await datasets.latest(limit=limit + 1, skip=skip)
    items = [{k: v for k, v in msgspec.to_builtins(d).items() if k != "fidelity"} for d in found[:limit]]
    return DatasetList(items=items, next_cursor=str(skip + limit) if len(found) > limit else None)


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 9:
        raise Invalid(
            "cursor is the next_cursor of a previous page",
            errors=[{"field": "cursor", "message": "not a cursor"}],
        )
    return int(cursor)


@get(
    "/api/v1/datasets/{dataset_id:str}",
    opt=audited("datasets.read", "datasets.read", resource_id="dataset_id"),
    responses={200: ResponseSpec(DatasetView, generate_examples=False, description="The dataset.")},
    tags=["datasets"],
    summary="A dataset: metadata and fidelity report",
)
async def read_dataset(
    request: Request[Any, Any, Any], dataset_id: FromPath[str], datasets: DatasetFiles
) -> dict[str, Any]:
    found = released(request, await datasets.describe(dataset_id))
    shown: dict[str, Any] = msgspec.to_builtins(found)
    return shown


@get(
    "/api/v1/datasets/{dataset_id:str}/files/{name:str}",
    opt={
        **audited("datasets.read", "datasets.download", resource_id="dataset_id"),
        **media(
            {
                CONTENT_TYPES["parquet"]: "A table as Parquet.",
                CONTENT_TYPES["csv"]: "A table as CSV (a header row, comma-separated).",
                CONTENT_TYPES["ndjson"]: "Every table as FHIR R4 resources, one JSON resource a line.",
            }
        ),
    },
    tags=["datasets"],
    summary="Download one file of a dataset (streamed)",
)
async def download(
    request: Request[Any, Any, Any],
    dataset_id: FromPath[str],
    name: FromPath[str],
    datasets: DatasetFiles,
) -> Stream:
    released(request, await datasets.describe(dataset_id))
    file = await datasets.file(dataset_id, name)
    audit_note(request, detail=name)
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Content-Length": str(file.bytes),
        "Digest": f"sha-256={file.sha256}",
    }
    return Stream(datasets.open(file), media_type=CONTENT_TYPES[file.format], headers=headers)


@get(
    "/api/v1/datasets/{dataset_id:str}/survival.svg",
    opt={**DATASETS, **media({"image/svg+xml": "Kaplan-Meier curves by stage group (SVG)."})},
    media_type="image/svg+xml",
    tags=["datasets"],
    summary="Kaplan-Meier survival by stage of the dataset (the fidelity report's picture)",
)
async def survival_picture(
    request: Request[Any, Any, Any], dataset_id: FromPath[str], datasets: DatasetFiles
) -> Response[bytes]:
    found = released(request, await datasets.describe(dataset_id))
    svg = (found.fidelity or {}).get("km_svg")
    if not svg:
        raise NotFound(f"dataset {dataset_id} has no survival picture")
    return Response(str(svg).encode(), media_type="image/svg+xml")


ROUTES = [list_profiles, read_profile, add_profile, list_datasets, read_dataset, download, survival_picture]
JOB_ROUTES = [submit]
