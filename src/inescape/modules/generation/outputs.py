"""Datasets as files: each chunk of a cohort goes to local part files (memory stays bounded for
any n), then each table becomes one Parquet / CSV file, and the cohort one FHIR R4 NDJSON file,
streamed to the ``datasets`` bucket (``datasets.py``) with a SHA-256 of exactly the bytes stored.

Parquet parts are joined with a streaming ``scan_parquet(...).sink_parquet`` (never the whole
table in memory); CSV parts are appended with the header once; NDJSON is written record by
record through the clinical core's FHIR export.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from inescape.infra.spreadsheet import safe_text_columns
from inescape.kernel.errors import Invalid
from inescape.modules.generation.api import TABLES
from inescape.modules.generation.fitting.provenance import stamp
from inescape.modules.patients.api import ClinicalCodecs, PatientCreate, PatientRecord

FORMATS = ("parquet", "csv", "ndjson")
CONTENT_TYPES = {
    "parquet": "application/vnd.apache.parquet",
    "csv": "text/csv",
    "ndjson": "application/fhir+ndjson",
}


def check_formats(formats: Sequence[str]) -> list[str]:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise Invalid(
            f"unknown output format {unknown[0]!r}; use {', '.join(FORMATS)}",
            errors=[{"field": "outputs", "message": f"unknown format {unknown[0]!r}"}],
        )
    return list(dict.fromkeys(formats))


class LocalParts:
    """Part files under ``workdir`` as chunks arrive; ``finish`` makes one file per output.
    FHIR NDJSON is written by the clinical core's export (``codecs``)."""

    def __init__(
        self,
        workdir: Path,
        formats: Sequence[str],
        *,
        codecs: ClinicalCodecs,
        derived: Mapping[str, Any] | None = None,
        dataset_id: str = "",
    ) -> None:
        self.workdir = workdir
        self.derived = derived  # a twin of real patients: its origin goes into each resource
        self.dataset_id = dataset_id
        self.codecs = codecs
        self.formats = check_formats(formats)
        self.chunks = 0
        self.rows: dict[str, int] = dict.fromkeys(TABLES, 0)
        workdir.mkdir(parents=True, exist_ok=True)

    def add(
        self, frames: Mapping[str, pl.DataFrame], records: Iterable[Mapping[str, Any]] | None = None
    ) -> None:
        for table in TABLES:
            frame = frames[table]
            self.rows[table] += frame.height
            if "parquet" in self.formats:
                frame.write_parquet(self.workdir / f"{table}.part-{self.chunks:05d}.parquet")
            if "csv" in self.formats:
                with open(self.workdir / f"{table}.csv", "ab") as out:
                    safe_text_columns(flat(frame)).write_csv(out, include_header=self.chunks == 0)
        if "ndjson" in self.formats:
            if records is None:
                raise ValueError("FHIR NDJSON needs the chunk's records")
            with open(self.workdir / "cohort.ndjson", "a", encoding="utf-8") as out:
                lines = self.codecs.to_ndjson(fhir_records(records))
                out.writelines(stamp(lines, self.derived, self.dataset_id))
        self.chunks += 1

    def finish(self) -> list[tuple[str, str | None, str, Path, int]]:
        """(name, table, format, path, rows) of every finished file."""
        done: list[tuple[str, str | None, str, Path, int]] = []
        for table in TABLES:
            if "parquet" in self.formats:
                path = self.workdir / f"{table}.parquet"
                parts = sorted(self.workdir.glob(f"{table}.part-*.parquet"))
                pl.scan_parquet(parts).sink_parquet(path)
                for part in parts:
                    part.unlink()
                done.append((path.name, table, "parquet", path, self.rows[table]))
            if "csv" in self.formats:
                path = self.workdir / f"{table}.csv"
                done.append((path.name, table, "csv", path, self.rows[table]))
        if "ndjson" in self.formats:
            path = self.workdir / "cohort.ndjson"
            with open(path, "rb") as lines:
                count = sum(1 for _ in lines)
            done.append((path.name, None, "ndjson", path, count))
        return done


def flat(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV has no lists: a list column (a regimen's agents) becomes "a;b"."""
    lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
    return frame.with_columns(pl.col(name).list.join(";") for name in lists) if lists else frame


def fhir_records(records: Iterable[Mapping[str, Any]]) -> Iterable[PatientRecord]:
    """Generated records as the clinical core's read model (for its FHIR export)."""
    stamp = datetime(2000, 1, 1)  # fixed: the same seed gives the same bytes
    for raw in records:
        record = msgspec.convert(dict(raw), PatientCreate)
        fields = msgspec.structs.asdict(record)
        synthetic_id = str(raw.get("source_record_id") or raw.get("id"))
        yield msgspec.convert(
            {**fields, "id": synthetic_id, "version": 1, "created_at": stamp, "updated_at": stamp},
            PatientRecord,
        )
