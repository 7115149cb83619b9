"""The job resource every module mounts: ``/api/v1/<module>/jobs`` list, read, cancel, retry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any

import msgspec
from litestar import Request, Router, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, QueryParameter
from msgspec import Meta

from inescape.infra.platform import Platform
from inescape.kernel.jobs import JobStatus, JobView


class JobList(msgspec.Struct, frozen=True, kw_only=True):
    items: Annotated[list[JobView], Meta(description="The jobs on this page, newest first.")]
    next_cursor: Annotated[str | None, Meta(description="The cursor of the next page; null on the last one.")]


def services_of(state: State) -> Platform:
    platform: Platform = state.services
    return platform


OwnerScope = Callable[..., str | None]  # (connection, *, reading) -> the one owner it may reach, or None: all


def job_router(module: str, *, owner_scope: OwnerScope, extra: Sequence[Any] = ()) -> Router:
    """Routes bound to one module: a job of another module is 404 here, and so is a job of
    another user unless ``owner_scope`` (the gateway's: an administrator reaches everyone's
    jobs, an auditor reads them) says the caller reaches it. ``extra``: the module's own
    handlers on the same path (``POST /`` to start a job of its kind)."""

    read = {"permission": f"{module}.jobs.read"}  # the names the gateway's RBAC table uses
    manage = {"permission": f"{module}.jobs.manage"}

    @get("/", opt=read, summary=f"List {module} jobs", description="Newest first; page with `cursor`.")
    async def list_jobs(
        state: State,
        request: Request[Any, Any, Any],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        cursor: FromQuery[str | None] = None,
        status: FromQuery[JobStatus | None] = None,
        kind: FromQuery[str | None] = None,
    ) -> JobList:
        page = await services_of(state).jobs.list(
            module=module,
            status=status,
            kind=kind,
            owner=owner_scope(request, reading=True),
            limit=limit,
            cursor=cursor,
        )
        return JobList(items=page.items, next_cursor=page.next_cursor)

    @get("/{job_id:str}", opt=read, summary=f"Read a {module} job")
    async def read_job(state: State, request: Request[Any, Any, Any], job_id: FromPath[str]) -> JobView:
        return await services_of(state).jobs.get(
            job_id, module=module, owner=owner_scope(request, reading=True)
        )

    @post("/{job_id:str}/cancel", opt=manage, status_code=200, summary=f"Cancel a {module} job")
    async def cancel_job(state: State, request: Request[Any, Any, Any], job_id: FromPath[str]) -> JobView:
        services = services_of(state)
        async with services.uow() as uow:
            return await services.jobs.cancel(uow.session, job_id, module=module, owner=owner_scope(request))

    @post(
        "/{job_id:str}/retry",
        opt=manage,
        status_code=202,
        summary=f"Retry a failed {module} job",
        description="Like a submission, 202 once the job is queued again in the database: "
        "while the task queue is unreachable, the job is handed to it as soon as it is back.",
    )
    async def retry_job(state: State, request: Request[Any, Any, Any], job_id: FromPath[str]) -> JobView:
        services = services_of(state)
        async with services.uow() as uow:
            job = await services.jobs.retry(uow.session, job_id, module=module, owner=owner_scope(request))
            queue_name: Any = await services.jobs.queue_of(job.id, session=uow.session)
            uow.after_commit(lambda: services.enqueue(queue_name, job.id))
        return job

    return Router(
        path=f"/api/v1/{module}/jobs",
        route_handlers=[list_jobs, read_job, cancel_job, retry_job, *extra],
        tags=[module],
    )
