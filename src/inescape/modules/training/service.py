"""Training's use cases behind its endpoints: runs (submit, read, cancel: a run is a
``training.fit`` job, see ``job.py``) and the registry (versions, model cards, pictures,
promotion through the gates)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec

from inescape.infra.jobs import JobService
from inescape.infra.platform import Jobs
from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock
from inescape.kernel.errors import Invalid, Unavailable
from inescape.kernel.jobs import JobView
from inescape.modules.training import gates
from inescape.modules.training.api import MODULE, ModelCard, purpose_of_kind
from inescape.modules.training.availability import missing_ml, ml_missing_message
from inescape.modules.training.cards import calibration_svg, training_curve_svg
from inescape.modules.training.data import CohortSource
from inescape.modules.training.features import feature_names
from inescape.modules.training.registry import ModelRegistry
from inescape.modules.training.runs import RunStore
from inescape.modules.training.schemas import PromotionRequest, TrainingRequest
from inescape.modules.training.settings import TrainingSettings

FIT = "training.fit"


def check_request(request: TrainingRequest, settings: TrainingSettings) -> None:
    """Refuse now (422 naming the field) what the job would only fail on later."""
    feature_names(request.features if isinstance(request.features, str) else tuple(request.features))
    if (request.dataset is None) == (request.cohort_id is None):
        raise Invalid(
            "name the data to train on: a dataset or a saved cohort's cohort_id, one of them",
            errors=[
                {"field": "dataset", "message": "give dataset or cohort_id"},
                {"field": "cohort_id", "message": "give dataset or cohort_id"},
            ],
        )
    if request.dataset is not None and request.dataset.source == "dataset" and not request.dataset.id:
        raise Invalid(
            "a dataset source needs its id (GET /api/v1/datasets lists them)",
            errors=[{"field": "dataset.id", "message": "required when source is dataset"}],
        )
    if request.purpose is not None and request.purpose != purpose_of_kind(request.model):
        raise Invalid(
            f"a {request.model} model serves {purpose_of_kind(request.model)}, not {request.purpose}",
            errors=[{"field": "purpose", "message": f"a {request.model} model cannot serve it"}],
        )
    if request.max_epochs is not None and request.max_epochs > settings.max_epochs:
        raise Invalid(
            f"max_epochs is at most {settings.max_epochs} here",
            errors=[{"field": "max_epochs", "message": f"more than {settings.max_epochs}"}],
        )


class RunService:
    """Training runs: each a ``training.fit`` job, with the document the job writes."""

    def __init__(
        self,
        *,
        jobs: Jobs,
        job_rows: JobService,
        uow: Callable[[], UnitOfWork],
        runs: RunStore,
        cohorts: CohortSource,
        settings: TrainingSettings,
    ) -> None:
        self._cohorts = cohorts
        self._jobs = jobs
        self._job_rows = job_rows
        self._uow = uow
        self._runs = runs
        self._settings = settings

    async def submit(self, *, request: TrainingRequest, owner: str | None, viewer: Any = None) -> JobView:
        """Refuse now what the job could only fail on later, and queue nothing then: 422 for
        a bad request, 503 with the install hint when this install lacks the ml extra, 404 for
        a dataset or saved cohort that does not exist, 403 for a cohort that selects on a field
        the ``viewer``'s de-identified view hides."""
        check_request(request, self._settings)
        missing = missing_ml()
        if missing is not None:
            raise Unavailable(ml_missing_message(missing), backend="ml", retry_after=3600)
        await self._cohorts.check(ref=request.dataset, cohort_id=request.cohort_id, viewer=viewer)
        return await self._jobs.submit(
            module=MODULE, kind=FIT, queue=MODULE, params=msgspec.to_builtins(request), owner=owner
        )

    async def recent(self, *, owner: str | None = None) -> list[dict[str, Any]]:
        """The newest runs; ``owner``: only those that user submitted (None: everyone's)."""
        runs = await self._runs.recent()
        if owner is None:
            return runs
        own = await self._job_rows.list(module=MODULE, owner=owner, limit=200)
        ids = {job.id for job in own.items}
        return [run for run in runs if run.get("id") in ids]

    async def read(self, *, run_id: str, owner: str | None = None) -> dict[str, Any]:
        """The run as its job stands (404 for an unknown id, or another user's when ``owner``
        is given) with what the job wrote about it."""
        job = await self._job_rows.get(run_id, module=MODULE, owner=owner)
        doc = await self._runs.get(run_id) or {}
        return {
            **doc,
            "id": run_id,
            "status": str(job.status),
            "progress": job.progress,
            "epochs": job.counts.get("epochs", 0),
            "error": job.error,
            "params": job.params,
            "created_at": job.created_at.isoformat(),
            "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        }

    async def curve_svg(self, *, run_id: str, owner: str | None = None) -> str:
        run = await self.read(run_id=run_id, owner=owner)
        return await asyncio.to_thread(
            training_curve_svg, run.get("history") or [], kind=str(run.get("model"))
        )

    async def cancel(self, *, run_id: str, owner: str | None = None) -> JobView:
        async with self._uow() as uow:
            return await self._job_rows.cancel(uow.session, run_id, module=MODULE, owner=owner)


class ModelService:
    """The registry as the endpoints show it, and promotion through the gates."""

    def __init__(self, *, registry: ModelRegistry, clock: Clock, settings: TrainingSettings) -> None:
        self._registry = registry
        self._clock = clock
        self._settings = settings

    async def names(self) -> list[dict[str, Any]]:
        """Each model name with its count of versions, its production and latest version, the
        purpose of its production (else latest) version, and whether that production version
        is the one answering its purpose (``serving``)."""
        names: dict[str, dict[str, Any]] = {}
        for card in await self._registry.cards():
            entry = names.setdefault(
                card.name,
                {"name": card.name, "versions": 0, "production": None, "latest": 0, "purpose": card.purpose},
            )
            entry["versions"] += 1
            entry["latest"] = max(entry["latest"], card.version)
            if card.stage == "production":
                entry["production"] = card.version
                entry["purpose"] = card.purpose
            elif entry["production"] is None and card.version == entry["latest"]:
                entry["purpose"] = card.purpose
        serving = {p: await self._registry.serving(p) for p in {e["purpose"] for e in names.values()}}
        for entry in names.values():
            answering = serving[entry["purpose"]]
            entry["serving"] = answering is not None and (answering.name, answering.version) == (
                entry["name"],
                entry["production"],
            )
        return list(names.values())

    async def versions(self, *, name: str) -> list[ModelCard]:
        return await self._registry.cards(name)

    async def card(self, *, name: str, version: int) -> ModelCard:
        return await self._registry.card(name, version)

    async def card_markdown(self, *, name: str, version: int) -> bytes:
        card = await self._registry.card(name, version)
        return await self._registry.file(card, "card.md")

    async def calibration_svg(self, *, name: str, version: int) -> str:
        card = await self._registry.card(name, version)
        return await asyncio.to_thread(calibration_svg, card.report.get("calibration") or {})

    async def curve_svg(self, *, name: str, version: int) -> str:
        card = await self._registry.card(name, version)
        return await asyncio.to_thread(training_curve_svg, card.report.get("history") or [], kind=card.kind)

    async def gates(self, *, name: str, version: int, allow_synthetic: bool) -> list[dict[str, Any]]:
        """The promotion gates as they stand for a version (nothing is changed)."""
        card = await self._registry.card(name, version)
        results = gates.check(
            card, allow_synthetic=allow_synthetic, tolerance=self._settings.calibration_tolerance
        )
        return [{"gate": r.gate, "passed": r.passed, "detail": r.detail} for r in results]

    async def promote(self, *, name: str, version: int, body: PromotionRequest, by: str | None) -> ModelCard:
        """Promote through the gates (``Conflict`` naming each failed gate)."""
        return await gates.promote_checked(
            self._registry,
            name=name,
            version=version,
            at=self._clock.now().isoformat(),
            by=by,
            allow_synthetic=body.allow_synthetic,
            reason=body.reason,
            tolerance=self._settings.calibration_tolerance,
        )


__all__ = ["FIT", "ModelService", "RunService", "check_request"]
