"""A plugin module used by the tests: a job that writes numbered rows in chunks.

Each chunk's rows and the checkpoint after it commit in one transaction, the way every
module's jobs must: killing the worker mid-job can lose no row and double none (the table's
primary key would reject a double, and the test counts rows).
"""

from __future__ import annotations

import asyncio
import importlib
from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, PathParameter
from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from inescape.infra.platform import ModuleContext
from inescape.kernel.errors import Invalid
from inescape.kernel.events import Event
from inescape.kernel.jobs import JobContext, JobView, RetryLater
from inescape.kernel.modules import Bound, ModuleSpec

demo_metadata = MetaData()
demo_rows = Table(
    "demo_rows",
    demo_metadata,
    Column("job_id", String(36), primary_key=True),
    Column("n", Integer, primary_key=True),
)


BROKEN_KEY = "inescape:demo:broken"


class ChunkWritten(Event, frozen=True, tag="demo.chunk.written.v1"):
    """Announced with each chunk, in its transaction: only the lease holder's chunks count."""

    leaves_process = True
    job_id: str
    last: int


class WriteRows(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    rows: Annotated[int, msgspec.Meta(ge=1, le=100_000, description="Rows to write.")]
    chunk: Annotated[int, msgspec.Meta(ge=1, le=10_000, description="Rows per transaction.")] = 10
    delay_s: Annotated[float, msgspec.Meta(ge=0, le=5, description="A pause per chunk.")] = 0.0
    fail_times: Annotated[int, msgspec.Meta(ge=0, description="Attempts that fail first.")] = 0
    invalid: Annotated[bool, msgspec.Meta(description="Fail as invalid, not to be retried.")] = False
    # a module the job imports first (one not installed: ImportError)
    imports: Annotated[str | None, msgspec.Meta(description="A module to import first.")] = None


class Demo:
    """The plugin's use cases, bound to the ports it was given."""

    def __init__(self, ctx: ModuleContext[None]) -> None:
        self.platform = ctx.platform
        self.jobs = ctx.jobs

    async def write_rows(self, ctx: JobContext) -> dict[str, Any]:
        params = msgspec.convert(ctx.params, WriteRows)
        if params.invalid:
            raise Invalid("the demo job was told its input is invalid")
        if params.imports:
            importlib.import_module(params.imports)
        if await self.platform.cache.get(BROKEN_KEY):
            raise Invalid("the demo source is broken")
        if ctx.attempt <= params.fail_times:
            raise RetryLater(f"transient failure on attempt {ctx.attempt}")
        start = int((ctx.checkpoint or {}).get("next", 0))
        for first in range(start, params.rows, params.chunk):
            last = min(first + params.chunk, params.rows)
            async with ctx.unit() as unit:
                await unit.session.execute(
                    insert(demo_rows), [{"job_id": ctx.job_id, "n": n} for n in range(first, last)]
                )
                unit.checkpoint({"next": last})
                unit.count(written=last - first)
                unit.publish(ChunkWritten(job_id=ctx.job_id, last=last))
            await ctx.progress(last / params.rows)
            if params.delay_s:
                await asyncio.sleep(params.delay_s)
        return {"rows": params.rows}

    async def submit(self, data: WriteRows) -> JobView:
        return await self.jobs.submit(
            module="demo", kind="demo.write_rows", params=msgspec.to_builtins(data), max_attempts=3
        )

    async def notes(self) -> list[dict[str, Any]]:
        return await self.platform.documents.find("demo_notes", {})

    async def read_object(self, key: str) -> bytes:
        return await self.platform.storage.get("images", f"demo/{key.lstrip('/')}")

    async def create_table(self) -> None:
        async with self.platform.db.engine.begin() as conn:
            await conn.run_sync(demo_metadata.create_all)


@post("/api/v1/demo/write-rows", status_code=202, opt={"permission": "demo.jobs.manage"})
async def submit_write_rows(demo: NamedDependency[Demo], data: JSONBody[WriteRows]) -> JobView:
    return await demo.submit(data)


class Note(msgspec.Struct, frozen=True, kw_only=True):
    id: Annotated[str, msgspec.Meta(description="The note's id in the document store.")]


@get(
    "/api/v1/demo/notes",
    opt={"permission": "demo.jobs.read"},
    responses={200: ResponseSpec(list[Note], generate_examples=False, description="Every note.")},
)
async def list_notes(demo: NamedDependency[Demo]) -> list[dict[str, Any]]:
    """Needs the document store."""
    return await demo.notes()


@get("/api/v1/demo/objects/{key:path}", opt={"permission": "demo.jobs.read"})
async def read_object(
    demo: NamedDependency[Demo],
    key: Annotated[str, PathParameter(description="The object's key under demo/ in the images bucket.")],
) -> bytes:
    """Needs object storage."""
    return await demo.read_object(key)


def bind(ctx: ModuleContext[None]) -> Bound:
    demo = Demo(ctx)
    return Bound(
        dependencies={"demo": demo},
        job_kinds={"demo.write_rows": demo.write_rows},
        on_startup=[demo.create_table],
    )


spec = ModuleSpec(
    name="demo",
    title="Test plugin",
    port=8099,
    needs=("database", "queue"),
    bind=bind,
    owns=("demo_notes", "images/demo/"),
    route_handlers=[submit_write_rows, list_notes, read_object],
)
