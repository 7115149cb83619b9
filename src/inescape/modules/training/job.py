"""The ``training.fit`` job: a training run.

It reads its cohort (the clinical database, de-identified, or a generated dataset's Parquet
tables), fits in a worker thread (the event loop keeps the job's lease), reports each epoch
(loss and validation metric) to the run document and the job's progress, stops when the job is
cancelled, and registers the fitted model as a candidate version with its artifacts and model
card. A failure names its reason (too few patients, an unknown feature, a dataset without
tables) and the job's error says it. A run that is killed re-runs from the start: the same seed
gives the same model, and a version is registered only once per run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from typing import Any

import msgspec

from inescape.kernel.errors import Invalid
from inescape.kernel.jobs import JobCancelled, JobContext
from inescape.modules.training.api import FORMAT, TORCH_FORMAT, ModelCard, purpose_of_kind
from inescape.modules.training.availability import missing_ml, ml_missing_message
from inescape.modules.training.cards import card_markdown
from inescape.modules.training.data import CohortSource
from inescape.modules.training.fit_settings import DEFAULTS
from inescape.modules.training.registry import ModelRegistry
from inescape.modules.training.runs import RunStore, code_version
from inescape.modules.training.schemas import TrainingRequest
from inescape.modules.training.settings import TrainingSettings

REPORT_EVERY_S = 1.0  # progress writes during training, at most this often

OPTIONS = (
    "features",
    "seed",
    "max_epochs",
    "patience",
    "batch_size",
    "lr",
    "l2",
    "hidden",
    "dropout",
    "bootstrap",
)


def planned_epochs(model: str, requested: int | None, limit: int) -> int:
    """The most epochs a run trains: what it asked for, else its model's default, and never
    more than this installation allows (``INESCAPE_TRAINING_MAX_EPOCHS``; a request above it
    is refused before it is queued)."""
    return min(requested or int(DEFAULTS[model]["max_epochs"]), limit)


class FitJob:
    """The ``training.fit`` handler, bound to the registry, the run store and the cohort."""

    def __init__(
        self, *, registry: ModelRegistry, runs: RunStore, cohorts: CohortSource, settings: TrainingSettings
    ) -> None:
        self._registry = registry
        self._runs = runs
        self._cohorts = cohorts
        self._settings = settings

    async def __call__(self, ctx: JobContext) -> dict[str, Any]:
        # torch and Lightning (the ml extra) are imported only once fitting starts: a worker
        # without them fails the run now, with the install hint, and does not retry it
        missing = missing_ml()
        if missing is not None:
            raise Invalid(ml_missing_message(missing))
        from inescape.modules.training.fitting import fit

        request = msgspec.convert(ctx.params, TrainingRequest)
        settings = self._settings
        existing = await self._registry.cards_of_run(ctx.job_id)
        if existing:  # registered before the worker stopped: the run is done
            return {"name": existing[0].name, "version": existing[0].version}
        tables, source = await self._cohorts.tables(ref=request.dataset, cohort_id=request.cohort_id)
        await self._runs.save(run_id=ctx.job_id, request=request, status="training", history=[])
        loop = asyncio.get_running_loop()
        cancelled = threading.Event()
        history: list[dict[str, float]] = []
        epochs = planned_epochs(request.model, request.max_epochs, settings.max_epochs)

        writes: list[concurrent.futures.Future[None]] = []
        last_write = [-REPORT_EVERY_S]

        def written(future: concurrent.futures.Future[None]) -> None:
            if not future.cancelled() and isinstance(future.exception(), JobCancelled):
                cancelled.set()
            # any other failed progress write is skipped: it must not stop training

        def on_epoch(epoch: int, record: dict[str, float]) -> None:
            """Progress at most every REPORT_EVERY_S, written while training goes on (one
            write in flight at a time); a cancellation it finds stops the next epoch."""
            history.append(record)
            now = time.monotonic()
            if (writes and not writes[-1].done()) or now - last_write[0] < REPORT_EVERY_S:
                return
            last_write[0] = now
            progress = self._epoch(ctx, request, list(history), epoch, epochs)
            future = asyncio.run_coroutine_threadsafe(progress, loop)
            future.add_done_callback(written)
            writes[:] = [future]

        options = {k: v for k, v in msgspec.to_builtins(request).items() if k in OPTIONS and v is not None}
        options["max_epochs"] = epochs
        try:
            fitted = await asyncio.to_thread(
                fit,
                tables,
                request.model,
                on_epoch=on_epoch,
                should_stop=cancelled.is_set,
                trained_on={"dataset": source},
                accelerator=settings.accelerator,
                devices=_devices(settings.devices),
                strategy=settings.strategy,
                num_nodes=settings.num_nodes,
                **options,
            )
        except (Invalid, ImportError) as exc:  # final: the run is not retried
            await _settled(writes)
            await self._runs.save(run_id=ctx.job_id, request=request, status="failed", history=history)
            if isinstance(exc, ImportError):
                raise Invalid(ml_missing_message(exc.name or str(exc))) from None
            raise
        await _settled(writes)  # a progress write still in flight lands before the final one
        if cancelled.is_set():
            raise JobCancelled()
        await ctx.progress(0.98, epochs=len(fitted.history))
        card = await self.register(request=request, fitted=fitted, run_id=ctx.job_id)
        await self._runs.save(
            run_id=ctx.job_id,
            request=request,
            status="registered",
            history=fitted.history,
            metrics=fitted.metrics,
            version=card.version,
        )
        return {
            "name": card.name,
            "version": card.version,
            "c_index": fitted.metrics.get("c_index", fitted.metrics.get("auc")),
        }

    async def _epoch(
        self,
        ctx: JobContext,
        request: TrainingRequest,
        history: list[dict[str, float]],
        epoch: int,
        epochs: int,
    ) -> None:
        await self._runs.save(run_id=ctx.job_id, request=request, status="training", history=history)
        await ctx.progress(min(0.95, (epoch + 1) / epochs), epochs=epoch + 1)

    async def register(self, *, request: TrainingRequest, fitted: Any, run_id: str | None) -> ModelCard:
        """The fitted model as a candidate version of ``request.name``, with its model card."""
        files = fitted.artifacts()
        portable = "model.json" in files
        card_fields: dict[str, Any] = {
            "task": "classification" if fitted.kind == "pcr" else "survival",
            "kind": fitted.kind,
            "purpose": request.purpose or purpose_of_kind(fitted.kind),
            "metrics": {k: float(v) for k, v in fitted.metrics.items()},
            "trained_on": dict(fitted.trained_on),
            "description": request.description,
            "run_id": run_id,
            "settings": msgspec.to_builtins(fitted.settings),
            "code_version": code_version(),
            "report": {k: v for k, v in fitted.report.items() if k != "covariance"}
            | {"history": fitted.history},
        }
        files["card.md"] = card_markdown(request.name, None, fitted, card_fields).encode()
        return await self._registry.register_files(
            request.name,
            files,
            main="model.json" if portable else "spec.json",
            format=FORMAT if portable else TORCH_FORMAT,
            **card_fields,
        )


async def _settled(writes: list[concurrent.futures.Future[None]]) -> None:
    """Wait for the progress write in flight, whatever its outcome."""
    for future in writes:
        with contextlib.suppress(Exception):
            await asyncio.wrap_future(future)


def _devices(raw: str) -> int | str | list[int]:
    if raw.isdigit():
        return int(raw)
    if "," in raw:
        return [int(p) for p in raw.split(",") if p.strip()]
    return raw


__all__ = ["FitJob"]
