"""``/api/v1/generation/profiles/fit`` (a job of the generation module), fitted profiles,
privacy budgets, and the privacy report and release decision of a dataset derived from real
patients. Fitting and measuring read the
source's patients: data stewards and administrators (``collection.jobs.manage``); budgets,
thresholds and release decisions are the data steward's (``datasets.release``). Each is audited
(declared beside the permission, written by the gateway before the answer)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get, post, put
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody

from inescape.kernel.jobs import JobView
from inescape.modules.auth.api import Audit, audit_note, principal_of, username_of
from inescape.modules.generation.fitting.report import Thresholds
from inescape.modules.generation.fitting.service import (
    BudgetRequest,
    Decision,
    FitRequest,
    FittingService,
    describe,
)
from inescape.modules.generation.schemas import FittedProfileList, PrivacyBudget, Release

FIT = "collection.jobs.manage"  # reads a collected cohort
STEWARD = "datasets.release"
READ = {"permission": "generation.jobs.read"}
Fitting = NamedDependency[FittingService]


def answer(container: Any, description: str) -> dict[int, ResponseSpec]:
    """The JSON a handler returns as plain values, documented by the Struct it holds."""
    return {200: ResponseSpec(data_container=container, generate_examples=False, description=description)}


def audited(permission: str, action: str, kind: str, *, resource_id: str | None = None) -> dict[str, Any]:
    return {"permission": permission, "audit": Audit(action, kind, resource_id=resource_id)}


@post(
    "/api/v1/generation/profiles/fit",
    opt=audited(FIT, "generation.profile_fitted", "profile"),
    status_code=202,
    tags=["generation"],
    summary="Fit a profile to a source's or a saved cohort's patients (a job: progress and the "
    "fitted profile's provenance in GET /api/v1/generation/jobs/{id}; ε-DP with epsilon, spending "
    "the source's budget when the job runs)",
)
async def fit(request: Request[Any, Any, Any], data: JSONBody[FitRequest], fitting: Fitting) -> JobView:
    job = await fitting.submit(data, username_of(request), viewer=principal_of(request))
    audit_note(
        request, resource_id=data.name, detail=f"{describe(data)}, epsilon {data.epsilon}, job {job.id}"
    )
    return job


@get(
    "/api/v1/generation/fitted-profiles",
    opt=READ,
    responses=answer(FittedProfileList, "Every fitted profile, by name."),
    tags=["generation"],
    summary="Fitted profiles and their provenance",
)
async def fitted(fitting: Fitting) -> dict[str, Any]:
    return {"items": await fitting.fitted(), "next_cursor": None}


@get(
    "/api/v1/generation/privacy-budget",
    opt=audited(FIT, "generation.budget_read", "privacy_budget"),
    responses=answer(PrivacyBudget, "The budget: total, spent, left and each spend."),
    tags=["generation"],
    summary="A source's privacy budget (?source=): total ε, spent and left",
)
async def read_budget(
    request: Request[Any, Any, Any], source: FromQuery[str], fitting: Fitting
) -> dict[str, Any]:
    audit_note(request, resource_id=source)
    return await fitting.budget(source)


@put(
    "/api/v1/generation/privacy-budget",
    opt=audited(STEWARD, "generation.budget_set", "privacy_budget"),
    responses=answer(PrivacyBudget, "The budget as it now stands."),
    tags=["generation"],
    summary="Set a source's total privacy budget (ε; ?source=)",
)
async def set_budget(
    request: Request[Any, Any, Any], source: FromQuery[str], data: JSONBody[BudgetRequest], fitting: Fitting
) -> dict[str, Any]:
    budget = await fitting.set_budget(source, data.total, username_of(request))
    audit_note(request, resource_id=source, detail=f"total epsilon {data.total}")
    return budget


@put(
    "/api/v1/generation/release-thresholds",
    opt=audited(STEWARD, "generation.thresholds_set", "release_thresholds"),
    responses=answer(Thresholds, "The thresholds now in force."),
    tags=["generation"],
    summary="The thresholds a privacy report must meet for release without a decision",
)
async def set_thresholds(
    request: Request[Any, Any, Any], data: JSONBody[Thresholds], fitting: Fitting
) -> dict[str, Any]:
    chosen = await fitting.set_thresholds(data, username_of(request))
    audit_note(request, detail=msgspec.json.encode(chosen).decode())
    shown: dict[str, Any] = msgspec.to_builtins(chosen)
    return shown


@post(
    "/api/v1/datasets/{dataset_id:str}/privacy-report",
    opt=audited(FIT, "datasets.privacy_measured", "dataset", resource_id="dataset_id"),
    status_code=200,
    responses=answer(Release, "The dataset's release with its new privacy report."),
    tags=["datasets"],
    summary="Measure a dataset derived from real patients; released when it meets the thresholds",
)
async def measure(
    request: Request[Any, Any, Any], dataset_id: FromPath[str], fitting: Fitting
) -> dict[str, Any]:
    info = await fitting.report(dataset_id)
    release: dict[str, Any] = dict(info.release or {})
    audit_note(
        request, detail=f"{release.get('status')}: {'; '.join(release.get('failures', [])) or 'passed'}"
    )
    return release


@post(
    "/api/v1/datasets/{dataset_id:str}/release",
    opt=audited(STEWARD, "datasets.release_decided", "dataset", resource_id="dataset_id"),
    status_code=200,
    responses=answer(Release, "The dataset's release with the decision recorded."),
    tags=["datasets"],
    summary="A data steward's recorded decision: release a held dataset to researchers, or hold it",
)
async def decide(
    request: Request[Any, Any, Any], dataset_id: FromPath[str], data: JSONBody[Decision], fitting: Fitting
) -> dict[str, Any]:
    info = await fitting.decide(dataset_id, data, username_of(request))
    audit_note(request, detail=f"{data.decision}: {data.reason}")
    return dict(info.release or {})


ROUTES = [fit, fitted, read_budget, set_budget, set_thresholds, measure, decide]
