"""Generation's use cases: profiles (shipped and user-added) and the generation job.

The job regenerates its cohort deterministically from (profile, seed, n, quotas) on every
attempt, so files need no checkpoint; loading into the clinical database is checkpointed per
chunk in the same transaction as the chunk's rows, so a worker killed mid-job resumes without
losing or doubling a patient. ``inescape generate --to-database`` loads through the same path.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from inescape.infra.platform import Jobs
from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock
from inescape.kernel.errors import Conflict, Invalid
from inescape.kernel.ids import new_id
from inescape.kernel.jobs import JobContext, JobView
from inescape.kernel.ports import DocumentStore
from inescape.modules.auth.api import GatewayApi
from inescape.modules.generation import outputs
from inescape.modules.generation.api import (
    FIT_NAMES,
    GENERATOR_VERSION,
    PROFILES,
    DatasetFile,
    DatasetInfo,
    FidelityReport,
    LoadedCohort,
    ProfileNotFound,
    Quota,
)
from inescape.modules.generation.datasets import Datasets
from inescape.modules.generation.events import DatasetGenerated
from inescape.modules.generation.library import Generator
from inescape.modules.generation.profiles import Profile
from inescape.modules.generation.schemas import GenerationRequest, ProfileSummary
from inescape.modules.patients.api import PatientCreate, PatientsApi

JOB_KIND = "generation.generate"


class ProfileService:
    """The shipped profiles and those users add (kept in ``generation_profiles``)."""

    def __init__(self, *, documents: DocumentStore, clock: Clock, generator: Generator) -> None:
        self._documents = documents
        self._clock = clock
        self._generator = generator

    async def summaries(self) -> list[ProfileSummary]:
        shipped = [summary(p, builtin=True) for p in self._generator.profiles()]
        stored = await self._documents.find(PROFILES, {}, sort=[("id", 1)], limit=500)
        return shipped + [
            summary(self._generator.parse_profile(d["text"], source=d["id"]), builtin=False) for d in stored
        ]

    async def find(self, *, name: str) -> Profile:
        if name in {p.name for p in self._generator.profiles()}:
            return self._generator.profile(name)
        stored = await self._documents.get(PROFILES, name)
        if stored is None:
            raise ProfileNotFound(f"no profile {name!r}; GET /api/v1/generation/profiles lists them")
        return self._generator.parse_profile(stored["text"], source=name)

    async def fitted(self, *, name: str) -> dict[str, Any] | None:
        """The provenance of a profile fitted to real patients (``None`` for any other)."""
        stored = await self._documents.get(PROFILES, name)
        return dict(stored["fitted"]) if stored and stored.get("fitted") else None

    async def add(self, *, text: str, user: str | None) -> Profile:
        profile = self._generator.parse_profile(text, source="request body")  # ProfileInvalid: 422
        if profile.name in {p.name for p in self._generator.profiles()}:
            raise Conflict(f"{profile.name!r} is a shipped profile; give yours another name")
        if await self._documents.get(FIT_NAMES, profile.name):
            raise Conflict(f"a profile called {profile.name!r} is being fitted; give yours another name")
        doc = {
            "id": profile.name,
            "text": text,
            "created_by": user,
            "created_at": self._clock.now().isoformat(),
        }
        await self._documents.insert(PROFILES, doc)  # Conflict if the name is taken
        return profile


class GenerationService:
    """Generation jobs (submitted, then run by a worker) and loading a cohort into the
    clinical database (implements ``GenerationApi``)."""

    def __init__(
        self,
        *,
        generator: Generator,
        profiles: ProfileService,
        datasets: Datasets,
        patients: PatientsApi,
        jobs: Jobs,
        uow: Callable[[], UnitOfWork],
        clock: Clock,
        gateway: GatewayApi,
    ) -> None:
        self._gateway = gateway
        self._generator = generator
        self._profiles = profiles
        self._datasets = datasets
        self._patients = patients
        self._jobs = jobs
        self._uow = uow
        self._clock = clock

    async def submit(self, *, request: GenerationRequest, owner: str | None) -> JobView:
        """Check now what the job would fail on (404 for an unknown profile, 422 naming an
        impossible quota, or the clinical database as the output of a profile fitted to real
        patients), then submit the job."""
        profile = await self._profiles.find(name=request.profile)
        self._check(profile, request)
        if "database" in request.outputs and await self._profiles.fitted(name=profile.name) is not None:
            # the release gate holds a dataset's files; records in the clinical database would be
            # open to every reader of patients, researchers included, before any steward decided
            raise Invalid(
                f"profile {profile.name} is fitted to real patients: its twins are datasets (files, held "
                "until released), not records of the clinical database; choose parquet, csv or ndjson",
                errors=[{"field": "outputs", "message": "database is not an output of a fitted profile"}],
            )
        return await self._jobs.submit(
            module="generation", kind=JOB_KIND, params=msgspec.to_builtins(request), owner=owner
        )

    def _check(self, profile: Profile, request: GenerationRequest) -> None:
        """The engine plans the quotas when the generator is made, before any patient is drawn."""
        self._generator.chunks(
            profile, request.n, seed=request.seed, quotas=quotas_of(request), chunk_size=request.chunk_size
        )

    async def run(self, ctx: JobContext) -> dict[str, Any]:
        """The ``generation.generate`` job. The numeric work runs in a thread, so the event loop
        keeps renewing the job's lease while a chunk is made."""
        request = msgspec.convert(ctx.params, GenerationRequest)
        profile = await self._profiles.find(name=request.profile)
        fitted = await self._profiles.fitted(name=profile.name)
        derived = derived_from(profile.name, fitted) if fitted is not None else None
        workdir = Path(tempfile.mkdtemp(prefix=f"inescape-gen-{ctx.job_id}-"))
        try:
            files, report = await self._make(ctx, request, profile, workdir, derived)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        info = _info(ctx.job_id, request, profile, files, report, self._clock.now().isoformat())
        if derived is not None:  # derived from real patients: held until released
            info = msgspec.structs.replace(info, derived_from=derived, release=HELD)
        await self._datasets.register(info)
        async with ctx.unit() as unit:  # fenced: only the job's lease holder announces the dataset
            unit.publish(
                DatasetGenerated(
                    dataset_id=ctx.job_id,
                    profile=profile.name,
                    n=request.n,
                    seed=request.seed,
                    loaded_to_database="database" in request.outputs,
                )
            )
        return {
            "dataset_id": ctx.job_id,
            "files": len(files),
            "within_tolerance": report.all_ok,
            "targets_failed": report.failed,
            "targets_too_few_to_judge": report.insufficient,
        }

    async def _make(
        self,
        ctx: JobContext,
        request: GenerationRequest,
        profile: Profile,
        workdir: Path,
        derived: dict[str, Any] | None = None,
    ) -> tuple[list[DatasetFile], FidelityReport]:
        files_wanted = [o for o in request.outputs if o != "database"]
        to_database = "database" in request.outputs
        start = ctx.checkpoint  # the chunks already in the database
        parts = (
            outputs.LocalParts(
                workdir, files_wanted, codecs=self._generator.codecs, derived=derived, dataset_id=ctx.job_id
            )
            if files_wanted
            else None
        )
        chunks = await asyncio.to_thread(
            self._generator.chunks,
            profile,
            request.n,
            seed=request.seed,
            quotas=quotas_of(request),
            chunk_size=request.chunk_size,
        )
        slim: list[pl.DataFrame] = []
        total = -(-request.n // request.chunk_size)
        loads: set[asyncio.Task[None]] = set()  # chunks being loaded, each on its own connection
        try:
            for index in range(total):
                cohort = await asyncio.to_thread(next, chunks)
                load = to_database and not chunk_loaded(start, index)
                wanted = load or "ndjson" in files_wanted
                records = await asyncio.to_thread(self._generator.to_records, cohort) if wanted else None
                if parts is not None:
                    await asyncio.to_thread(parts.add, cohort.frames(), records)
                slim.append(self._generator.fidelity_frame(cohort))  # one small row per patient
                if load and records is not None:
                    while len(loads) >= request.load_connections:
                        finished, loads = await asyncio.wait(loads, return_when=asyncio.FIRST_COMPLETED)
                        for task in finished:
                            task.result()  # a failed load fails the job (its chunk is not checkpointed)
                    loads.add(asyncio.create_task(self._load_in_job(ctx, records, index)))
                await ctx.progress(
                    (index + 1) / total, generated=min((index + 1) * request.chunk_size, request.n)
                )
            while loads:
                finished, loads = await asyncio.wait(loads, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    task.result()
        finally:
            for task in loads:  # the job failed or was cancelled: their chunks roll back
                task.cancel()
            await asyncio.gather(*loads, return_exceptions=True)
        report = await asyncio.to_thread(self._generator.fidelity_report, profile, pl.concat(slim))
        finished_parts = await asyncio.to_thread(parts.finish) if parts else []
        return await self._datasets.store_files(ctx.job_id, finished_parts), report

    async def _load_in_job(self, ctx: JobContext, records: list[dict[str, Any]], index: int) -> None:
        """One chunk into the clinical database with its checkpoint, in one transaction (with
        ``load_connections`` above one, several chunks at once, each its own transaction)."""
        typed = await asyncio.to_thread(_typed, records)
        async with ctx.unit() as unit:
            await self._patients.load_records(unit.session, typed)
            unit.checkpoint_with(lambda stored: with_chunk(stored, index))
            unit.count(loaded=len(typed))
        await self._patients.records_changed()

    async def load_cohort(
        self,
        *,
        profile: str | Profile,
        n: int,
        seed: int = 0,
        quotas: Sequence[Quota | Mapping[str, Any] | str] = (),
        on_chunk: Callable[[int], Any] | None = None,
        by: str = "cli",
    ) -> LoadedCohort:
        chosen = self._generator.profile(profile)
        wanted = self._generator.quotas(quotas)
        await self._gateway.audit_ready()  # audited, or not done at all
        dataset_id = new_id()
        loaded = 0
        slim: list[pl.DataFrame] = []
        try:
            for cohort in self._generator.chunks(chosen, n, seed=seed, quotas=wanted):
                typed = _typed(self._generator.to_records(cohort))
                async with self._uow() as uow:
                    await self._patients.load_records(uow.session, typed)
                loaded += len(typed)
                slim.append(self._generator.fidelity_frame(cohort))
                if on_chunk is not None:
                    on_chunk(len(typed))
        finally:
            if loaded:
                await self._patients.records_changed()
                await self._record_load(dataset_id, chosen, n, seed, wanted, slim, loaded, by)
        return LoadedCohort(dataset_id=dataset_id, loaded=loaded)

    async def _record_load(
        self,
        dataset_id: str,
        profile: Profile,
        n: int,
        seed: int,
        quotas: list[Quota],
        slim: list[pl.DataFrame],
        loaded: int,
        by: str,
    ) -> None:
        """The loaded cohort's dataset record (as a job's ``database`` output makes) and its
        audit event; a load cut short is recorded with the patients it did load."""
        report = await asyncio.to_thread(self._generator.fidelity_report, profile, pl.concat(slim))
        request = GenerationRequest(
            profile=profile.name, n=n, seed=seed, outputs=["database"], quotas=msgspec.to_builtins(quotas)
        )
        info = _info(dataset_id, request, profile, [], report, self._clock.now().isoformat())
        await self._datasets.register(msgspec.structs.replace(info, rows={"patients": loaded}))
        await self._gateway.record(
            action="generation.cohort_loaded",
            outcome="success" if loaded == n else "partial",
            user=by,
            resource_type="dataset",
            resource_id=dataset_id,
            detail=f"{loaded} of {n} synthetic patients ({profile.name}, seed {seed}) loaded",
        )


HELD = {"status": "held"}


def derived_from(profile: str, fitted: dict[str, Any]) -> dict[str, Any]:
    """What travels with a dataset made from a fitted profile: its origin and the ε spent."""
    return {
        "origin": "real",
        "source": fitted.get("source"),
        "profile": profile,
        "epsilon": fitted.get("epsilon"),
        "patients": fitted.get("patients"),
        "fitted_at": fitted.get("fitted_at"),
    }


def quotas_of(request: GenerationRequest) -> list[Quota]:
    try:
        return [msgspec.convert(q, Quota) for q in request.quotas]
    except msgspec.ValidationError as exc:
        raise Invalid(
            f"a quota is malformed: {exc}", errors=[{"field": "quotas", "message": str(exc)}]
        ) from None


def _typed(records: list[dict[str, Any]]) -> list[PatientCreate]:
    return [msgspec.convert(r, PatientCreate) for r in records]


def _info(
    dataset_id: str,
    request: GenerationRequest,
    profile: Profile,
    files: list[DatasetFile],
    report: FidelityReport,
    now: str,
) -> DatasetInfo:
    return DatasetInfo(
        id=dataset_id,
        kind="synthetic",
        origin="synthetic",
        profile=profile.name,
        profile_version=profile.version,
        seed=request.seed,
        n=request.n,
        quotas=request.quotas,
        outputs=list(request.outputs),
        generator_version=GENERATOR_VERSION,
        files=files,
        rows={f.table or "fhir_resources": f.rows for f in files},
        fidelity=msgspec.to_builtins(report),
        created_at=now,
    )


def summary(profile: Profile, *, builtin: bool) -> ProfileSummary:
    return ProfileSummary(
        name=profile.name,
        title=profile.title,
        version=profile.version,
        description=profile.description,
        builtin=builtin,
    )


def chunk_loaded(checkpoint: Mapping[str, Any] | None, index: int) -> bool:
    """Whether chunk ``index`` is in the database by ``checkpoint``: every chunk before
    ``next_chunk``, and those of ``done`` (loaded out of order, beyond it)."""
    state = checkpoint or {}
    return index < int(state.get("next_chunk", 0)) or index in state.get("done", ())


def with_chunk(checkpoint: Mapping[str, Any] | None, index: int) -> dict[str, Any]:
    """``checkpoint`` with chunk ``index`` loaded too (``done`` kept to the chunks beyond the
    first gap)."""
    state = checkpoint or {}
    following = int(state.get("next_chunk", 0))
    done = {int(i) for i in state.get("done", ())} | {index}
    while following in done:
        done.discard(following)
        following += 1
    return {"next_chunk": following, "done": sorted(done)}
