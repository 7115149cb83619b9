"""Generation's use cases: profiles (shipped and user-added) and the generation job.

The job regenerates its cohort deterministically from (profile, seed, n, quotas) on every
attempt, so files need no checkpoint; loading into the clinical database is checkpointed per
chunk in the same transaction as the chunk's rows, so a worker killed mid-job resumes without
losing or doubling a patient.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from inescape.kernel.errors import Conflict, Invalid, NotFound
from inescape.modules.generation import outputs
from inescape.modules.generation.engine import Quota, generate, to_records
from inescape.modules.generation.events import DatasetGenerated
from inescape.modules.generation.fidelity import fidelity_frame, fidelity_report
from inescape.modules.generation.profiles import Profile, get_profile, list_profiles, parse_profile
from inescape.modules.generation.schemas import GenerationRequest, ProfileSummary
from inescape.modules.patients.api import PatientCreate, load_records, records_changed

PROFILES = "generation_profiles"
DATASETS = "dataset_metadata"
GENERATOR_VERSION = "inescape-generation/1"


class ProfileNotFound(NotFound):
    pass


class DatasetNotFound(NotFound):
    pass


async def all_profiles(services: Any) -> list[ProfileSummary]:
    shipped = [_summary(p, builtin=True) for p in list_profiles()]
    stored = await services.documents.find(PROFILES, {}, sort=[("id", 1)], limit=500)
    return shipped + [_summary(parse_profile(d["text"], source=d["id"]), builtin=False) for d in stored]


async def find_profile(services: Any, name: str) -> Profile:
    if name in {p.name for p in list_profiles()}:
        return get_profile(name)
    stored = await services.documents.get(PROFILES, name)
    if stored is None:
        raise ProfileNotFound(f"no profile {name!r}; GET /api/v1/generation/profiles lists them")
    return parse_profile(stored["text"], source=name)


async def add_profile(services: Any, text: str, *, user: str | None) -> Profile:
    profile = parse_profile(text, source="request body")  # ProfileInvalid (422) names the field
    if profile.name in {p.name for p in list_profiles()}:
        raise Conflict(f"{profile.name!r} is a shipped profile; give yours another name")
    doc = {
        "id": profile.name,
        "text": text,
        "created_by": user,
        "created_at": services.clock.now().isoformat(),
    }
    await services.documents.insert(PROFILES, doc)  # Conflict if the name is taken
    return profile


def check_request(profile: Profile, request: GenerationRequest) -> None:
    """Refuse an impossible quota now (422 naming it), not later in the job: the engine plans
    the quotas when the generator is made, before any patient is drawn."""
    generate(profile, request.n, seed=request.seed, quotas=quotas_of(request), chunk_size=request.chunk_size)


def quotas_of(request: GenerationRequest) -> list[Quota]:
    try:
        return [msgspec.convert(q, Quota) for q in request.quotas]
    except msgspec.ValidationError as exc:
        raise Invalid(
            f"a quota is malformed: {exc}", errors=[{"field": "quotas", "message": str(exc)}]
        ) from None


async def run(ctx: Any) -> dict[str, Any]:
    """The ``generation.generate`` job. The numeric work runs in a thread, so the event loop
    keeps renewing the job's lease while a chunk is made."""
    request = msgspec.convert(ctx.params, GenerationRequest)
    services = ctx.services
    profile = await find_profile(services, request.profile)
    files_wanted = [o for o in request.outputs if o != "database"]
    to_database = "database" in request.outputs
    loaded = int((ctx.checkpoint or {}).get("next_chunk", 0))  # chunks already in the database
    workdir = Path(tempfile.mkdtemp(prefix=f"inescape-gen-{ctx.job_id}-"))
    try:
        parts = outputs.LocalParts(workdir, files_wanted) if files_wanted else None
        chunks = await asyncio.to_thread(
            generate,
            profile,
            request.n,
            seed=request.seed,
            quotas=quotas_of(request),
            chunk_size=request.chunk_size,
        )
        slim: list[pl.DataFrame] = []
        total = -(-request.n // request.chunk_size)
        for index in range(total):
            cohort = await asyncio.to_thread(next, chunks)
            wanted = (to_database and index >= loaded) or "ndjson" in files_wanted
            records = await asyncio.to_thread(to_records, cohort) if wanted else None
            if parts is not None:
                await asyncio.to_thread(parts.add, cohort.frames(), records)
            slim.append(fidelity_frame(cohort))  # one small row per patient: memory stays bounded
            if to_database and index >= loaded and records is not None:
                await _load(ctx, records, index)
            await ctx.progress(
                (index + 1) / total, generated=min((index + 1) * request.chunk_size, request.n)
            )
        report = await asyncio.to_thread(fidelity_report, profile, pl.concat(slim))
        finished = await asyncio.to_thread(parts.finish) if parts else []
        files = await outputs.upload(services.storage, ctx.job_id, finished)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    await _save_metadata(
        services, dataset_metadata(ctx.job_id, request, profile, files, report, services.clock.now())
    )
    async with ctx.unit() as unit:  # fenced: only the job's lease holder announces the dataset
        unit.publish(
            DatasetGenerated(
                dataset_id=ctx.job_id,
                profile=profile.name,
                n=request.n,
                seed=request.seed,
                loaded_to_database=to_database,
            )
        )
    return {"dataset_id": ctx.job_id, "files": len(files), "within_tolerance": report.all_ok}


async def _load(ctx: Any, records: list[dict[str, Any]], index: int) -> None:
    """One chunk into the clinical database with its checkpoint, in one transaction."""
    typed = await asyncio.to_thread(lambda: [msgspec.convert(r, PatientCreate) for r in records])
    async with ctx.unit() as unit:
        await load_records(ctx.services, unit.session, typed)
        unit.checkpoint({"next_chunk": index + 1})
        unit.count(loaded=len(typed))
    await records_changed(ctx.services)


def frames_of(cohort: Any) -> dict[str, pl.DataFrame]:
    frames: dict[str, pl.DataFrame] = cohort.frames()
    return frames


def dataset_metadata(
    dataset_id: str,
    request: GenerationRequest,
    profile: Profile,
    files: list[outputs.DatasetFile],
    report: Any,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": dataset_id,
        "kind": "synthetic",
        "origin": "synthetic",
        "profile": profile.name,
        "profile_version": profile.version,
        "seed": request.seed,
        "n": request.n,
        "quotas": request.quotas,
        "outputs": request.outputs,
        "generator_version": GENERATOR_VERSION,
        "files": msgspec.to_builtins(files),
        "rows": {f.table or "fhir_resources": f.rows for f in files},
        "fidelity": msgspec.to_builtins(report),
        "created_at": now.isoformat(),
    }


async def _save_metadata(services: Any, metadata: dict[str, Any]) -> None:
    try:
        await services.documents.insert(DATASETS, metadata)
    except Conflict:  # a retry after the metadata was written: the new one is the same dataset
        await services.documents.replace(DATASETS, metadata["id"], metadata)


async def dataset(services: Any, dataset_id: str) -> dict[str, Any]:
    found = await services.documents.get(DATASETS, dataset_id)
    if found is None:
        raise DatasetNotFound(f"no dataset {dataset_id!r}")
    return dict(found)


def _summary(profile: Profile, *, builtin: bool) -> ProfileSummary:
    return ProfileSummary(
        name=profile.name,
        title=profile.title,
        version=profile.version,
        description=profile.description,
        builtin=builtin,
    )
