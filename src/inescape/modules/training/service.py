"""Training's use cases: a training run as a job, and the model cards it registers.

The ``training.fit`` job reads its cohort (the clinical database, de-identified, or a generated
dataset's Parquet tables), fits in a worker thread (the event loop keeps the job's lease), reports
each epoch (loss and validation metric) to the run document and the job's progress, stops when
the job is cancelled, and registers the fitted model as a candidate version with its artifacts
and model card. A failure names its reason (too few patients, an unknown feature, a dataset
without tables) and the job's error says it. A run that is killed re-runs from the start: the
same seed gives the same model, and a version is registered only once per run.
"""

from __future__ import annotations

import asyncio
import functools
import io
import subprocess
import threading
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

import inescape
from inescape.kernel.errors import Conflict, Invalid, NotFound
from inescape.kernel.jobs import JobCancelled
from inescape.modules.patients.api import cohort_tables
from inescape.modules.training.cards import card_markdown
from inescape.modules.training.features import feature_names
from inescape.modules.training.registry import COLLECTION, ModelCard, ModelRegistry
from inescape.modules.training.schemas import TrainingRequest
from inescape.modules.training.settings import TrainingSettings

RUNS = "training_runs"
DATASETS = "dataset_metadata"
DATASET_BUCKET = "datasets"
TABLES = ("patients", "conditions", "staging", "biomarkers", "treatments", "observations")


class RunNotFound(NotFound):
    pass


@functools.cache
def code_version() -> str:
    """The package version, and the source's commit when it runs from a checkout (asked of git
    once per process: runs record it at every epoch)."""
    version = inescape.__version__
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=Path(inescape.__file__).parent,
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+{commit}" if commit else version


def settings_of(services: Any) -> TrainingSettings:
    found = services.module_settings.get("training")
    return found if isinstance(found, TrainingSettings) else TrainingSettings()


def check_request(request: TrainingRequest, settings: TrainingSettings) -> None:
    """Refuse now (422 naming the field) what the job would only fail on later."""
    feature_names(request.features if isinstance(request.features, str) else tuple(request.features))
    if request.dataset.source == "dataset" and not request.dataset.id:
        raise Invalid(
            "a dataset source needs its id (GET /api/v1/datasets lists them)",
            errors=[{"field": "dataset.id", "message": "required when source is dataset"}],
        )
    if request.max_epochs is not None and request.max_epochs > settings.max_epochs:
        raise Invalid(
            f"max_epochs is at most {settings.max_epochs} here",
            errors=[{"field": "max_epochs", "message": f"more than {settings.max_epochs}"}],
        )


async def load_tables(
    services: Any, request: TrainingRequest
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """The cohort's tables and what to record of where they came from."""
    ref = request.dataset
    if ref.source == "database":
        frames = await cohort_tables(services, {str(k): v for k, v in ref.filters.items()})
        return frames, {"source": "database", "filters": {str(k): v for k, v in ref.filters.items()}}
    meta = await services.documents.get(DATASETS, ref.id)
    if meta is None:
        raise NotFound(f"no dataset {ref.id!r}; GET /api/v1/datasets lists them")
    files = {
        f["table"]: f
        for f in meta.get("files", [])
        if f.get("table") in TABLES and f.get("format") == "parquet"
    }
    if "patients" not in files:
        raise Invalid(
            f"dataset {ref.id} has no Parquet tables to train on; generate it with the parquet output",
            errors=[{"field": "dataset.id", "message": "no parquet tables"}],
        )
    frames = {}
    for table, file in files.items():
        data = await services.storage.get(DATASET_BUCKET, file["key"])
        frames[table] = await asyncio.to_thread(pl.read_parquet, io.BytesIO(data))
    return frames, {
        "source": "dataset",
        "id": ref.id,
        "origin": meta.get("origin"),
        "profile": meta.get("profile"),
    }


async def run(ctx: Any) -> dict[str, Any]:
    """The ``training.fit`` job."""
    try:
        from inescape.modules.training.fitting import fit  # torch and Lightning: the ml extra
    except ImportError as exc:
        raise Invalid(
            f"training needs the ml extra on the worker ({exc.name} is missing): pip install 'inescape[ml]'"
        ) from None

    services = ctx.services
    request = msgspec.convert(ctx.params, TrainingRequest)
    settings = settings_of(services)
    existing = await services.documents.find(COLLECTION, {"run_id": ctx.job_id}, limit=1)
    if existing:  # registered before the worker stopped: the run is done
        return {"name": existing[0]["name"], "version": existing[0]["version"]}
    tables, source = await load_tables(services, request)
    await _save_run(services, ctx.job_id, request, status="training", history=[])
    loop = asyncio.get_running_loop()
    cancelled = threading.Event()
    history: list[dict[str, float]] = []
    max_epochs = request.max_epochs

    def on_epoch(epoch: int, record: dict[str, float]) -> None:
        history.append(record)
        future = asyncio.run_coroutine_threadsafe(_epoch(ctx, request, history, epoch, max_epochs), loop)
        try:
            future.result(timeout=60)
        except JobCancelled:
            cancelled.set()
        except Exception:  # noqa: S110 - a missed progress write must not stop training
            pass

    options = {
        k: v
        for k, v in msgspec.to_builtins(request).items()
        if k
        in (
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
        and v is not None
    }
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
    if cancelled.is_set():
        raise JobCancelled()
    await ctx.progress(0.98, epochs=len(fitted.history))
    card = await register(services, request, fitted, run_id=ctx.job_id)
    await _save_run(
        services,
        ctx.job_id,
        request,
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


def _devices(raw: str) -> int | str | list[int]:
    if raw.isdigit():
        return int(raw)
    if "," in raw:
        return [int(p) for p in raw.split(",") if p.strip()]
    return raw


async def _epoch(
    ctx: Any, request: TrainingRequest, history: list[dict[str, float]], epoch: int, max_epochs: int | None
) -> None:
    total = max_epochs or 300
    await _save_run(ctx.services, ctx.job_id, request, status="training", history=list(history))
    await ctx.progress(min(0.95, (epoch + 1) / total), epochs=epoch + 1)


async def register(services: Any, request: TrainingRequest, fitted: Any, *, run_id: str | None) -> ModelCard:
    registry = ModelRegistry(services)
    files = fitted.artifacts()
    portable = "model.json" in files
    version = code_version()
    card_fields: dict[str, Any] = {
        "task": "classification" if fitted.kind == "pcr" else "survival",
        "kind": fitted.kind,
        "metrics": {k: float(v) for k, v in fitted.metrics.items()},
        "trained_on": dict(fitted.trained_on),
        "description": request.description,
        "run_id": run_id,
        "settings": msgspec.to_builtins(fitted.settings),
        "code_version": version,
        "report": {k: v for k, v in fitted.report.items() if k != "covariance"} | {"history": fitted.history},
    }
    files["card.md"] = card_markdown(request.name, None, fitted, card_fields).encode()
    card = await registry.register_files(
        request.name,
        files,
        main="model.json" if portable else "spec.json",
        format="inescape.cox.v1" if portable else "inescape.torch.v1",
        **card_fields,
    )
    return card


async def _save_run(
    services: Any, run_id: str, request: TrainingRequest, *, status: str, **fields: Any
) -> None:
    doc = {
        "id": run_id,
        "name": request.name,
        "model": request.model,
        "dataset": msgspec.to_builtins(request.dataset),
        "features": msgspec.to_builtins(request.features),
        "settings": msgspec.to_builtins(request),
        "code_version": code_version(),
        "stage": status,
        "updated_at": services.clock.now().isoformat(),
        **fields,
    }
    doc["id"] = run_id
    if not await services.documents.replace(RUNS, run_id, doc):
        try:
            await services.documents.insert(RUNS, doc)
        except Conflict:  # written meanwhile (the first epoch's report raced the start)
            await services.documents.replace(RUNS, run_id, doc)


async def read_run(services: Any, run_id: str) -> dict[str, Any]:
    doc = await services.documents.get(RUNS, run_id)
    if doc is None:
        raise RunNotFound(f"no training run {run_id!r}; GET /api/v1/training/runs lists them")
    return dict(doc)


__all__ = ["RUNS", "check_request", "code_version", "read_run", "register", "run"]
