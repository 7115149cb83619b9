"""A cohort straight to local files (the CLI's ``--out`` and the notebook's ``write``), chunk by
chunk: memory stays bounded for any n. ``cohort.parquet`` holds the patients table and each
other table sits beside it as ``cohort.<table>.parquet`` (or ``.csv``)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.generation import outputs
from inescape.modules.generation.api import TABLES, FidelityReport, Quota
from inescape.modules.generation.engine import generate, to_records
from inescape.modules.generation.engine.staging import StageTables
from inescape.modules.generation.fidelity import fidelity_frame, fidelity_report
from inescape.modules.generation.profiles import Profile
from inescape.modules.patients.api import ClinicalCodecs

SUFFIXES = {".parquet": "parquet", ".csv": "csv", ".ndjson": "ndjson"}


def target_paths(out: Path) -> tuple[str, dict[str, Path]]:
    """The format ``out``'s suffix asks for, and the file of each table."""
    fmt = SUFFIXES.get(out.suffix.lower())
    if fmt is None:
        raise Invalid(
            f"--out must end in {', '.join(SUFFIXES)}, not {out.name!r}",
            errors=[{"field": "out", "message": "unknown file type"}],
        )
    if fmt == "ndjson":
        return fmt, {"cohort": out}
    stem = out.with_suffix("")
    paths = {t: (out if t == "patients" else stem.with_name(f"{stem.name}.{t}{out.suffix}")) for t in TABLES}
    return fmt, paths


def write_files(
    profile: Profile,
    n: int,
    *,
    seed: int,
    out: Path,
    tables: StageTables,
    codecs: ClinicalCodecs,
    quotas: Sequence[Quota] = (),
    chunk_size: int = 50_000,
    on_chunk: Callable[[int], Any] | None = None,
) -> tuple[list[Path], FidelityReport]:
    """Generate into ``out`` (and its sibling tables); the paths written and the fidelity report."""
    fmt, paths = target_paths(out)
    workdir = Path(tempfile.mkdtemp(prefix="inescape-generate-", dir=out.parent))
    try:
        parts = outputs.LocalParts(workdir, [fmt], codecs=codecs)
        slim: list[pl.DataFrame] = []
        for cohort in generate(profile, n, seed=seed, tables=tables, quotas=quotas, chunk_size=chunk_size):
            parts.add(cohort.frames(), to_records(cohort) if fmt == "ndjson" else None)
            slim.append(fidelity_frame(cohort))
            if on_chunk is not None:
                on_chunk(cohort.size)
        written = []
        for _name, table, _fmt, path, _rows in parts.finish():
            target = paths["cohort" if table is None else table]
            shutil.move(path, target)
            written.append(target)
        return written, fidelity_report(profile, pl.concat(slim), codecs=codecs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
