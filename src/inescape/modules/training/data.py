"""Where a run's cohort comes from: the clinical database (de-identified columns, through the
patients facade) or a generated dataset's Parquet tables (through generation's datasets
facade, which owns their metadata and files)."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import msgspec
import polars as pl

from inescape.kernel.errors import Invalid, NotFound
from inescape.modules.generation.api import DatasetInfo, DatasetsApi
from inescape.modules.patients.api import PatientsApi
from inescape.modules.training.schemas import DatasetRef

TABLES = ("patients", "conditions", "staging", "biomarkers", "treatments", "observations")


class CohortSource:
    def __init__(self, *, patients: PatientsApi, datasets: DatasetsApi) -> None:
        self._patients = patients
        self._datasets = datasets

    async def tables(
        self, *, ref: DatasetRef | None, cohort_id: str | None = None
    ) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
        """The cohort's tables and what to record of where they came from: a saved cohort
        (``cohort_id``) is read from the clinical database as it selects now."""
        if ref is None:
            cohort = str(cohort_id)
            filters = await self._patients.saved_cohort(cohort)
            frames = await self._patients.cohort_tables(filters)
            return frames, {"source": "cohort", "cohort_id": cohort, "filters": filters}
        if ref.source == "database":
            filters = {str(k): v for k, v in ref.filters.items()}
            frames = await self._patients.cohort_tables(filters)
            return frames, {"source": "database", "filters": filters}
        return await self._dataset(str(ref.id))

    async def check(
        self, *, ref: DatasetRef | None, cohort_id: str | None = None, viewer: Any = None
    ) -> None:
        """Refuse a cohort the job could not read, before it is queued: 404 for a dataset or a
        saved cohort that does not exist, 422 for a dataset without Parquet tables, 403 for a
        saved cohort that selects on a field hidden from the ``viewer``."""
        if ref is None:
            await self._patients.saved_cohort(str(cohort_id), viewer=viewer)
        elif ref.source == "dataset":
            await self._parquet_files(str(ref.id))

    async def _parquet_files(self, dataset_id: str) -> tuple[DatasetInfo, dict[str, Any]]:
        try:
            info = await self._datasets.describe(dataset_id)
        except NotFound:
            raise NotFound(f"no dataset {dataset_id!r}; GET /api/v1/datasets lists them") from None
        files = {f.table: f for f in info.files or [] if f.table in TABLES and f.format == "parquet"}
        if "patients" not in files:
            raise Invalid(
                f"dataset {dataset_id} has no Parquet tables to train on; "
                "generate it with the parquet output",
                errors=[{"field": "dataset.id", "message": "no parquet tables"}],
            )
        return info, files

    async def _dataset(self, dataset_id: str) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
        info, files = await self._parquet_files(dataset_id)
        frames = {}
        for table, file in files.items():
            data = await self._datasets.read_file(dataset_id, file.name)
            frames[str(table)] = await asyncio.to_thread(pl.read_parquet, io.BytesIO(data))
        profile = None if info.profile is msgspec.UNSET else info.profile
        return frames, {"source": "dataset", "id": dataset_id, "origin": info.origin, "profile": profile}


__all__ = ["TABLES", "CohortSource"]
