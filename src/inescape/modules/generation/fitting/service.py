"""Fitting use cases: a profile fitted to a stored cohort (one collection source, a saved
cohort, or both), the privacy budget each source has and each ε-DP fit spends, the privacy
report of a dataset generated from a fitted profile, and its release gate.

- A fit is a job (``generation.fit``): the request is checked and the profile's name taken
  before it is queued; the job spends the ε, reads the patients, fits and stores the profile.
- The name: ``generation_fit_names`` holds one document per name a fit took, inserted before
  the job is queued (the insert is the store's atomic step), so of two fits asking for one
  name at once the second is refused (409) before anything is spent. A fit that fails for
  good (a refusal, a cancel) gives its name back.
- The cohort is read through ``PatientsApi.cohort_tables(filters)`` (no identifying column):
  ``{"source": [...]}``, a saved cohort's filters, or both at once; a share of it
  (``holdout``, chosen by a keyed hash of the record id) is kept out of the fit for the
  privacy report.
- Budget: ``generation_privacy_budgets`` holds, per source, the total ε a data steward allows
  (``DEFAULT_BUDGET`` until one is set); ``generation_privacy_spends`` holds what fits have
  spent, one document per spend, numbered 0, 1, 2... per source. A spend takes the next number
  by inserting it: the insert is the store's own atomic step (a unique id, on MongoDB and in SQL
  alike), so two fits that read the same balance race for the same number, one insert fails,
  and the loser reads the balance again (with the winner's spend in it) before it may spend.
  Concurrent fits therefore never spend more than the budget together. A fit asking for more
  than is left is refused (409) before any patient is read, and nothing is written. Each spend
  names the job that made it, and a job that finds its own spend in the ledger (a retry after
  its worker was killed) does not spend again: one job, one spend. The profile is stored with
  the job's id too, so a retry after it was stored finds it and stores nothing more.
- A dataset generated from a fitted profile is held: researchers cannot read it until its
  privacy report meets the steward's thresholds, or a steward records a decision.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Literal

import msgspec
import polars as pl

from inescape.infra.platform import Jobs
from inescape.kernel.clock import Clock
from inescape.kernel.errors import Conflict, DomainError, Invalid, Unavailable
from inescape.kernel.ids import new_id
from inescape.kernel.jobs import JobCancelled, JobContext, JobView
from inescape.kernel.ports import DocumentStore
from inescape.modules.auth.api import GatewayApi
from inescape.modules.generation.api import FIT_NAMES, PROFILES, DatasetInfo
from inescape.modules.generation.datasets import Datasets
from inescape.modules.generation.fitting.cohort import cohort_frame
from inescape.modules.generation.fitting.fit import fit_profile
from inescape.modules.generation.fitting.report import Thresholds, privacy_report
from inescape.modules.generation.fitting.toml import to_toml
from inescape.modules.generation.library import Generator
from inescape.modules.patients.api import PatientsApi

FIT_KIND = "generation.fit"
BUDGETS = "generation_privacy_budgets"
SPENDS = "generation_privacy_spends"
SPEND_RETRIES = 50  # a spend that loses this many races in a row gives up (503)
SETTINGS = "generation_release_settings"
DEFAULT_BUDGET = 3.0  # total ε per source until a steward sets one
MIN_PATIENTS = 20
HELD, RELEASED = "held", "released"
SOURCE_PATTERN = r"^[^\x00-\x1f\x7f]+\Z"  # printable: it is a filter value and a document id
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*\Z")]


class FitRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[
        Name, msgspec.Meta(description="The fitted profile's name (lower case, digits, hyphens).")
    ]
    source: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=200,
                pattern=SOURCE_PATTERN,
                description="The collection source whose patients the profile is fitted to (and whose "
                "budget an ε-DP fit spends); with cohort_id, the cohort's patients of this source.",
            ),
        ]
        | None
    ) = None
    cohort_id: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=64,
                description="A saved cohort (/api/v1/cohorts) whose filters select the patients.",
            ),
        ]
        | None
    ) = None
    prior: Annotated[
        Name, msgspec.Meta(description="The published profile a small cohort borrows strength from.")
    ] = "global"
    epsilon: (
        Annotated[
            float,
            msgspec.Meta(
                gt=0,
                le=10,
                description="The privacy loss ε the fit spends from the source's budget; none: no DP.",
            ),
        ]
        | None
    ) = None
    holdout: Annotated[
        float,
        msgspec.Meta(ge=0.1, le=0.5, description="The share of patients held out for the privacy report."),
    ] = 0.2
    max_strength: Annotated[
        float,
        msgspec.Meta(
            ge=20, le=10_000, description="The most pseudo-patients the prior may weigh as, per statistic."
        ),
    ] = 500.0


class BudgetRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    total: Annotated[
        float, msgspec.Meta(gt=0, le=100, description="The total ε the source's fits may spend, in all.")
    ]


class Decision(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    decision: Annotated[
        Literal["release", "hold"],
        msgspec.Meta(description="release: researchers may read the dataset; hold: they may not."),
    ]
    reason: Annotated[
        str, msgspec.Meta(min_length=3, max_length=2000, description="Why, in the steward's words (audited).")
    ]


class BudgetExhausted(Conflict):
    """The source's privacy budget has less left than the fit asks for."""


def _in_holdout(patient_id: str, salt: str, share: float) -> bool:
    digest = hashlib.sha256(f"{salt}:{patient_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def split(frame: pl.DataFrame, salt: str, share: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(training, holdout) rows: the holdout chosen by a keyed hash of each record's id."""
    held = pl.Series([_in_holdout(i, salt, share) for i in frame["id"].to_list()], dtype=pl.Boolean)
    return frame.filter(~held), frame.filter(held)


class FittingService:
    def __init__(
        self,
        *,
        documents: DocumentStore,
        clock: Clock,
        generator: Generator,
        patients: PatientsApi,
        datasets: Datasets,
        gateway: GatewayApi,
        jobs: Jobs | None = None,
    ) -> None:
        self._jobs = jobs
        self._gateway = gateway
        self._documents = documents
        self._clock = clock
        self._generator = generator
        self._patients = patients
        self._datasets = datasets

    # --- budget ---------------------------------------------------------------------------
    async def budget(self, source: str) -> dict[str, Any]:
        if not 0 < len(source) <= 200 or not re.match(SOURCE_PATTERN, source):
            raise Invalid(
                "a source is 1 to 200 printable characters",
                errors=[{"field": "source", "message": "1 to 200 printable characters"}],
            )
        doc = await self._documents.get(BUDGETS, source)
        return self._shown(source, doc, await self._spends(source))

    @staticmethod
    def _shown(source: str, doc: Mapping[str, Any] | None, spends: list[dict[str, Any]]) -> dict[str, Any]:
        """The balance: the ledger's spends, plus what a budget document written before the
        ledger recorded itself (``spent``, ``fits``)."""
        total = float(doc["total"]) if doc else DEFAULT_BUDGET
        earlier = list((doc or {}).get("fits", []))
        spent = float((doc or {}).get("spent", 0.0)) + sum(float(s["epsilon"]) for s in spends)
        return {
            "source": source,
            "total": total,
            "spent": round(spent, 6),
            "remaining": round(max(0.0, total - spent), 6),
            "fits": [
                *earlier,
                *({"profile": s["profile"], "epsilon": s["epsilon"], "at": s["at"]} for s in spends),
            ],
        }

    async def _spends(self, source: str) -> list[dict[str, Any]]:
        """The source's spends in order: always the numbers 0..n-1 (a number is taken only
        once every lower one is stored, and none is deleted)."""
        found: list[dict[str, Any]] = []
        while True:
            page = await self._documents.find(
                SPENDS, {"source": source}, sort=[("slot", 1)], limit=1000, skip=len(found)
            )
            found.extend(dict(d) for d in page)
            if len(page) < 1000:
                return found

    async def set_budget(self, source: str, total: float, user: str | None) -> dict[str, Any]:
        await self.budget(source)  # the source's name checked
        current = await self._documents.get(BUDGETS, source)
        earlier: dict[str, Any] = {k: current[k] for k in ("spent", "fits") if current and k in current}
        doc: dict[str, Any] = {
            "id": source,
            "total": total,
            **earlier,
            "set_by": user,
            "set_at": self._clock.now().isoformat(),
        }
        if current is None:
            try:
                await self._documents.insert(BUDGETS, doc)
            except Conflict:  # set at the same moment by another steward: the later one stands
                await self._documents.replace(BUDGETS, source, doc)
        else:
            await self._documents.replace(BUDGETS, source, doc)
        return await self.budget(source)

    async def _spend(self, source: str, name: str, epsilon: float, at: str, *, job: str) -> None:
        """Spend ``epsilon`` of the source's budget, or refuse (409) with nothing written; once
        per ``job`` (a job whose spend is in the ledger already spends nothing more)."""
        if await self._documents.find(SPENDS, {"source": source, "job": job}, limit=1):
            return
        for _ in range(SPEND_RETRIES):
            spends = await self._spends(source)
            budget = self._shown(source, await self._documents.get(BUDGETS, source), spends)
            if epsilon > budget["remaining"] + 1e-9:
                raise BudgetExhausted(
                    f"the privacy budget of {source!r} has ε = {budget['remaining']:g} left "
                    f"(of {budget['total']:g}); this fit asks for ε = {epsilon:g}"
                )
            slot = len(spends)
            spend = {"id": f"{slot}:{source}", "source": source, "slot": slot}
            try:
                await self._documents.insert(
                    SPENDS, {**spend, "profile": name, "epsilon": epsilon, "at": at, "job": job}
                )
            except Conflict:  # another fit took this number first: read the balance again
                continue
            return
        raise Unavailable(
            f"the privacy budget of {source!r} is too busy to spend from; try again",
            backend=self._documents.backend,
            retry_after=1,
        )

    # --- fit ------------------------------------------------------------------------------
    async def submit(self, request: FitRequest, user: str | None, *, viewer: Any = None) -> JobView:
        """Check what the job would be refused for (404, 403, 409, 422), take the profile's
        name, and queue the fit; nothing is spent before the job runs."""
        if self._jobs is None:
            raise Unavailable("fitting jobs are not available in this process", backend="queue")
        await self._check(request, viewer=viewer)
        await self._take_name(request.name, user)
        try:
            job = await self._jobs.submit(
                module="generation", kind=FIT_KIND, params=msgspec.to_builtins(request), owner=user
            )
        except BaseException:
            await self._documents.delete(FIT_NAMES, request.name)  # not queued: the name is free again
            raise
        await self._documents.replace(
            FIT_NAMES, request.name, {"id": request.name, "by": user, "job": job.id}
        )
        return job

    async def run(self, ctx: JobContext) -> dict[str, Any]:
        """The ``generation.fit`` job. A refusal or a cancel gives the name back; a killed
        worker's retry spends nothing more and stores the profile once."""
        request = msgspec.convert(ctx.params, FitRequest)
        try:
            return await self.fit(request, ctx.owner, job=ctx.job_id, progress=ctx.progress)
        except (DomainError, JobCancelled):
            await self._give_name_back(request.name, ctx.job_id)
            raise

    async def _check(self, request: FitRequest, *, viewer: Any = None) -> dict[str, Any]:
        """The refusals before anything is read: an unknown prior (404), a name taken (409), a
        cohort the caller may not read (404, 403), no budget left for the ε asked (409); the
        filters that select the patients."""
        self._generator.profile(request.prior)  # ProfileNotFound: 404
        if request.name in {p.name for p in self._generator.profiles()} or await self._documents.get(
            PROFILES, request.name
        ):
            raise Conflict(f"a profile called {request.name!r} exists already; choose another name")
        filters = await self._selection(request, viewer=viewer)
        if request.epsilon is not None:
            budget = await self.budget(str(self._budget_source(request, filters)))
            if request.epsilon > budget["remaining"] + 1e-9:
                raise BudgetExhausted(
                    f"the privacy budget of {budget['source']!r} has ε = {budget['remaining']:g} left "
                    f"(of {budget['total']:g}); this fit asks for ε = {request.epsilon:g}"
                )
        return filters

    async def _selection(self, request: FitRequest, *, viewer: Any = None) -> dict[str, Any]:
        """The filters of the patients fitted: the source's, the saved cohort's, or both."""
        if request.source is None and request.cohort_id is None:
            raise Invalid(
                "a fit names the source or the saved cohort (cohort_id) whose patients it reads",
                errors=[{"field": "source", "message": "source or cohort_id is required"}],
            )
        if request.source is not None:
            await self.budget(request.source)  # the source's name checked
        if request.cohort_id is None:
            return {"source": [str(request.source)]}
        # NotFound for an unknown cohort; Forbidden where it selects on what the viewer may not see
        filters = dict(await self._patients.saved_cohort(request.cohort_id, viewer=viewer))
        if request.source is not None:
            chosen = filters.get("source")
            if chosen is not None and request.source not in chosen:
                raise Invalid(
                    f"the saved cohort {request.cohort_id} does not select source {request.source!r}",
                    errors=[{"field": "source", "message": "not one of the cohort's sources"}],
                )
            filters["source"] = [request.source]
        return filters

    @staticmethod
    def _budget_source(request: FitRequest, filters: Mapping[str, Any]) -> str | None:
        """The source whose budget the fit spends: named, or the one the cohort selects (an
        ε-DP fit to a cohort of several sources names one: 422)."""
        if request.source is not None:
            return request.source
        chosen = list(filters.get("source") or [])
        if len(chosen) == 1:
            return str(chosen[0])
        if request.epsilon is None:
            return None
        raise Invalid(
            f"the saved cohort {request.cohort_id} is not of one source: an ε-DP fit names the source "
            "whose privacy budget it spends",
            errors=[{"field": "source", "message": "required for an ε-DP fit to this cohort"}],
        )

    async def _take_name(self, name: str, user: str | None) -> None:
        """Take ``name`` for this fit, or refuse (409): the insert is atomic on every store."""
        try:
            await self._documents.insert(FIT_NAMES, {"id": name, "by": user, "job": None})
        except Conflict:
            raise Conflict(
                f"a profile called {name!r} is being fitted or exists already; choose another name"
            ) from None
        if await self._documents.get(PROFILES, name):  # added by hand since the check
            await self._documents.delete(FIT_NAMES, name)
            raise Conflict(f"a profile called {name!r} exists already; choose another name")

    async def _give_name_back(self, name: str, job: str) -> None:
        """Free ``name`` again after ``job`` failed for good (unless a profile holds it)."""
        taken = await self._documents.get(FIT_NAMES, name)
        if taken is None or taken.get("job") not in (None, job):
            return
        if await self._documents.get(PROFILES, name) is None:
            await self._documents.delete(FIT_NAMES, name)

    async def _stored(self, name: str, job: str) -> dict[str, Any] | None:
        """The profile ``job`` stored as ``name`` (an earlier attempt of the same job)."""
        doc = await self._documents.get(PROFILES, name)
        if doc is None:
            return None
        if (doc.get("fitted") or {}).get("job") != job:
            raise Conflict(f"a profile called {name!r} exists already; choose another name")
        return dict(doc["fitted"])

    async def fit(
        self,
        request: FitRequest,
        user: str | None,
        *,
        job: str,
        progress: Callable[[float], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """Spend the budget (once per ``job``), fit, store the profile (once per ``job``).
        Refusals before the patients are read (404, 409, 422) write nothing; once they are
        read, the ε is spent whatever follows."""

        async def step(fraction: float) -> None:
            if progress is not None:
                await progress(fraction)

        prior = self._generator.profile(request.prior)  # ProfileNotFound: 404
        done = await self._stored(request.name, job)
        if done is not None:
            return shown(request.name, done)
        filters = await self._selection(request)
        source = self._budget_source(request, filters)
        now = self._clock.now()
        if request.epsilon is not None:  # spent before the patients are read, whatever follows
            await self._spend(str(source), request.name, request.epsilon, now.isoformat(), job=job)
        await step(0.1)
        tables = await self._patients.cohort_tables(filters)
        frame = cohort_frame(tables)
        await step(0.3)
        salt = secrets.token_hex(16)
        train, holdout = split(frame, salt, request.holdout)
        if train.height < MIN_PATIENTS:  # no exact count said: under ε-DP it is private
            raise Invalid(
                f"{describe(request)} has fewer than {MIN_PATIENTS} diagnosed and staged patients to fit on",
                errors=[{"field": "source", "message": "too few diagnosed and staged patients"}],
            )
        fit = await asyncio.to_thread(
            fit_profile,
            prior,
            train,
            generator=self._generator,
            name=request.name,
            source=describe(request),
            epsilon=request.epsilon,
            max_strength=request.max_strength,
            fitted_on=now.date(),
        )
        await step(0.9)
        provenance = {
            **fit.provenance(),
            "source": source,
            "cohort_id": request.cohort_id,
            "filters": filters,
            "prior": prior.name,
            "prior_version": prior.version,
            "fitted_at": now.isoformat(),
            "fitted_by": user,
            "job": job,
            "holdout": request.holdout,
            "holdout_patients": holdout.height if request.epsilon is None else None,
            "salt": salt,
        }
        document = {
            "id": request.name,
            "text": to_toml(fit.profile),
            "created_by": user,
            "created_at": now.isoformat(),
            "fitted": provenance,
        }
        try:
            await self._documents.insert(PROFILES, document)
        except Conflict:  # stored by this job before its worker stopped, or taken by another
            provenance = await self._stored(request.name, job) or provenance
        return shown(request.name, provenance)

    async def fit_profile(
        self,
        *,
        name: str,
        source: str | None,
        prior: str = "global",
        epsilon: float | None = None,
        by: str = "cli",
        cohort_id: str | None = None,
    ) -> dict[str, Any]:
        """``ProfileFittingApi``: the fit outside a request (in this process, not a job),
        audited here; the name taken and the ε spent as a job's are."""
        try:
            request = msgspec.convert(
                {"name": name, "source": source, "prior": prior, "epsilon": epsilon, "cohort_id": cohort_id},
                FitRequest,
            )
        except msgspec.ValidationError as error:
            raise Invalid(
                f"a fit request is malformed: {error}", errors=[{"field": "request", "message": str(error)}]
            ) from None
        await self._gateway.audit_ready()
        await self._check(request)
        await self._take_name(request.name, by)
        run = new_id()
        try:
            shown = await self.fit(request, by, job=run)
        except BaseException:
            await self._give_name_back(request.name, run)
            raise
        await self._gateway.record(
            action="generation.profile_fitted",
            outcome="success",
            user=by,
            resource_type="profile",
            resource_id=name,
            detail=f"{describe(request)}, epsilon {epsilon}",
        )
        return shown

    async def fitted(self) -> list[dict[str, Any]]:
        docs = await self._documents.find(PROFILES, {}, sort=[("id", 1)], limit=500)
        return [shown(d["id"], d["fitted"]) for d in docs if d.get("fitted")]

    async def provenance(self, name: str) -> dict[str, Any] | None:
        doc = await self._documents.get(PROFILES, name)
        return dict(doc["fitted"]) if doc and doc.get("fitted") else None

    # --- report and gate ------------------------------------------------------------------
    async def thresholds(self) -> Thresholds:
        doc = await self._documents.get(SETTINGS, "thresholds")
        return msgspec.convert(
            {k: v for k, v in (doc or {}).items() if k in Thresholds.__struct_fields__}, Thresholds
        )

    async def set_thresholds(self, thresholds: Thresholds, user: str | None) -> Thresholds:
        doc = {"id": "thresholds", **msgspec.to_builtins(thresholds), "set_by": user}
        if await self._documents.get(SETTINGS, "thresholds") is None:
            await self._documents.insert(SETTINGS, doc)
        else:
            await self._documents.replace(SETTINGS, "thresholds", doc)
        return thresholds

    async def report(self, dataset_id: str) -> DatasetInfo:
        """Measure the dataset against its source's patients; released if it meets the thresholds."""
        info = await self._datasets.describe(dataset_id)
        derived = info.derived_from or {}
        provenance = await self.provenance(str(derived.get("profile", ""))) if derived else None
        if not provenance:
            raise Invalid(
                f"dataset {dataset_id} is not generated from a fitted profile; nothing to measure",
                errors=[{"field": "dataset_id", "message": "not derived from real data"}],
            )
        tables = await self._patients.cohort_tables(
            dict(provenance.get("filters") or {"source": [provenance["source"]]})
        )
        train, holdout = split(cohort_frame(tables), provenance["salt"], provenance["holdout"])
        n = min(int(info.n or 0), 20_000)
        stored = await self._documents.get(PROFILES, str(derived["profile"]))
        if stored is None:
            raise Invalid(
                f"the profile {derived['profile']!r} dataset {dataset_id} was made from is gone",
                errors=[{"field": "dataset_id", "message": "its fitted profile is gone"}],
            )
        profile = self._generator.parse_profile(str(stored["text"]), source=str(derived["profile"]))
        frames = await asyncio.to_thread(self._generator.generate, profile, n, seed=int(info.seed or 0))
        report = await asyncio.to_thread(privacy_report, train, holdout, cohort_frame(frames))
        thresholds = await self.thresholds()
        failures = report.failures(thresholds)
        previous = info.release or {}
        release = {
            **previous,
            "status": RELEASED if not failures or previous.get("status") == RELEASED else HELD,
            "report": msgspec.to_builtins(report),
            "thresholds": msgspec.to_builtins(thresholds),
            "failures": failures,
            "measured_at": self._clock.now().isoformat(),
        }
        updated = msgspec.structs.replace(info, release=release)
        await self._datasets.register(updated)
        return updated

    async def decide(self, dataset_id: str, decision: Decision, user: str | None) -> DatasetInfo:
        info = await self._datasets.describe(dataset_id)
        if not info.release:
            raise Invalid(
                f"dataset {dataset_id} is not derived from real data; it needs no release decision",
                errors=[{"field": "dataset_id", "message": "not held"}],
            )
        release = {
            **info.release,
            "status": RELEASED if decision.decision == "release" else HELD,
            "decision": {
                "decision": decision.decision,
                "reason": decision.reason,
                "by": user,
                "at": self._clock.now().isoformat(),
            },
        }
        updated = msgspec.structs.replace(info, release=release)
        await self._datasets.register(updated)
        return updated


def describe(request: FitRequest) -> str:
    """The patients a fit reads, in words."""
    parts = [f"source {request.source}"] if request.source is not None else []
    if request.cohort_id is not None:
        parts.append(f"saved cohort {request.cohort_id}")
    return " and ".join(parts)


def shown(name: str, provenance: dict[str, Any]) -> dict[str, Any]:
    """A fitted profile's provenance as the API shows it (never the holdout key)."""
    return {"name": name, **{k: v for k, v in provenance.items() if k != "salt"}}
