"""``/api/v1/collection/schedules``: collections submitted when a cron expression comes due,
with the same permission, checks and sealed secrets as ``POST /api/v1/collection/jobs``."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from inescape.infra.openapi import errors
from inescape.modules.auth.api import audit_note, owner_scope, username_of
from inescape.modules.collection.routes.collect import READ, audited
from inescape.modules.collection.schedules import ScheduleService
from inescape.modules.collection.schemas import Schedule, ScheduleCreate, ScheduleList

PATH = "/api/v1/collection/schedules"
Schedules = NamedDependency[ScheduleService]


@post(
    PATH,
    opt=audited("manage", "collection.schedule_created"),
    responses=errors(404),
    status_code=201,
    tags=["collection"],
    summary="Schedule a collection (a cron expression: minute hour day-of-month month day-of-week, UTC)",
    description="The body is a job request plus `cron` and `enabled`. A bad config or cron is a 422 "
    "naming the field, and nothing is stored. When due, the worker submits the job once.",
)
async def create_schedule(
    request: Request[Any, Any, Any], data: JSONBody[ScheduleCreate], schedules: Schedules
) -> Schedule:
    created = await schedules.create(data=data, owner=username_of(request), uploads_of=owner_scope(request))
    audit_note(request, resource_id=created.id, detail=f"{data.connector} {data.source} {created.cron}")
    return created


@get(PATH, opt=READ, tags=["collection"], summary="List collection schedules, newest first")
async def list_schedules(
    request: Request[Any, Any, Any],
    schedules: Schedules,
    limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
    cursor: FromQuery[str | None] = None,
) -> ScheduleList:
    return await schedules.list_schedules(
        limit=limit, cursor=cursor, owner=owner_scope(request, reading=True)
    )


@get(f"{PATH}/{{schedule_id:str}}", opt=READ, tags=["collection"], summary="Read a collection schedule")
async def read_schedule(
    request: Request[Any, Any, Any], schedules: Schedules, schedule_id: FromPath[str]
) -> Schedule:
    return await schedules.get(schedule_id=schedule_id, owner=owner_scope(request, reading=True))


@delete(
    f"{PATH}/{{schedule_id:str}}",
    opt=audited("manage", "collection.schedule_deleted", resource_id="schedule_id"),
    status_code=204,
    tags=["collection"],
    summary="Delete a collection schedule (jobs it submitted stay)",
)
async def delete_schedule(
    request: Request[Any, Any, Any], schedule_id: FromPath[str], schedules: Schedules
) -> None:
    removed = await schedules.remove(schedule_id=schedule_id, owner=owner_scope(request))
    audit_note(request, resource_id=removed.id, detail=f"{removed.source}")


SCHEDULE_ROUTES = [create_schedule, list_schedules, read_schedule, delete_schedule]
