"""Training runs as documents (``training_runs``): what a run asked for, where it stands, its
history per epoch, its metrics and the version it registered. The job is the run's status;
the document is what the job wrote about it."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import msgspec

import inescape
from inescape.kernel.clock import Clock
from inescape.kernel.errors import Conflict
from inescape.kernel.ports import DocumentStore
from inescape.modules.training.schemas import TrainingRequest

RUNS = "training_runs"


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


class RunStore:
    def __init__(self, *, documents: DocumentStore, clock: Clock) -> None:
        self._documents = documents
        self._clock = clock

    async def save(self, *, run_id: str, request: TrainingRequest, status: str, **fields: Any) -> None:
        doc = {
            "id": run_id,
            "name": request.name,
            "model": request.model,
            "dataset": msgspec.to_builtins(request.dataset)
            if request.dataset is not None
            else {"source": "cohort", "cohort_id": request.cohort_id},
            "features": msgspec.to_builtins(request.features),
            "settings": msgspec.to_builtins(request),
            "code_version": code_version(),
            "stage": status,
            "updated_at": self._clock.now().isoformat(),
            **fields,
        }
        doc["id"] = run_id
        if not await self._documents.replace(RUNS, run_id, doc):
            try:
                await self._documents.insert(RUNS, doc)
            except Conflict:  # written meanwhile (the first epoch's report raced the start)
                await self._documents.replace(RUNS, run_id, doc)

    async def get(self, run_id: str) -> dict[str, Any] | None:
        doc = await self._documents.get(RUNS, run_id)
        return None if doc is None else dict(doc)

    async def recent(self, *, limit: int = 200) -> list[dict[str, Any]]:
        """The newest runs first, without their history."""
        docs = await self._documents.find(RUNS, {}, sort=[("updated_at", -1)], limit=limit)
        return [{k: v for k, v in d.items() if k != "history"} for d in docs]


__all__ = ["RUNS", "RunStore", "code_version"]
