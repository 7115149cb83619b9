"""Public surface of generation: calibrated synthetic cohorts from a notebook, no server needed.

from inescape.modules.generation.api import generate, list_profiles
frames = generate("us-seer", 10_000, seed=7)          # polars DataFrames, one per table
frames["patients"].group_by("histology").len()
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.generation import engine, files, outputs
from inescape.modules.generation.engine import Quota, to_records
from inescape.modules.generation.events import DatasetGenerated
from inescape.modules.generation.fidelity import FidelityReport, fidelity_report
from inescape.modules.generation.profiles import (
    Profile,
    ProfileInvalid,
    get_profile,
    list_profiles,
    parse_profile,
)

MODULE = "generation"


def profile_of(name_or_path: str | Profile) -> Profile:
    """A shipped profile by name, or a profile file (``.toml``) by path."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    if name_or_path.endswith(".toml") and Path(name_or_path).is_file():
        return parse_profile(Path(name_or_path).read_text(encoding="utf-8"), source=name_or_path)
    return get_profile(name_or_path)


def generate(
    profile: str | Profile, n: int, *, seed: int = 0, quotas: Sequence[Quota | dict[str, Any]] = ()
) -> dict[str, pl.DataFrame]:
    """The whole cohort in memory, one DataFrame per table (for n that fits in memory; the
    job and the CLI write chunk by chunk)."""
    chosen = profile_of(profile)
    chunks = list(engine.generate(chosen, n, seed=seed, quotas=_quotas(quotas)))
    return {t: pl.concat([c.frames()[t] for c in chunks]) for t in outputs.TABLES}


def _quotas(quotas: Sequence[Quota | dict[str, Any] | str]) -> list[Quota]:
    found = []
    for i, quota in enumerate(quotas):
        try:
            raw = json.loads(quota) if isinstance(quota, str) else quota
            found.append(raw if isinstance(raw, Quota) else msgspec.convert(raw, Quota))
        except (ValueError, msgspec.ValidationError) as exc:
            raise Invalid(
                f"quota {i + 1} is malformed: {exc}", errors=[{"field": f"quotas[{i}]", "message": str(exc)}]
            ) from None
    return found


def cli_generate(
    profile: str,
    n: int,
    *,
    seed: int,
    quotas: Sequence[str],
    out: Path | None,
    settings: Any | None,
    on_chunk: Callable[[int], Any] | None = None,
) -> list[str]:
    """``inescape generate``: to files and/or the configured database; the lines to print."""
    import asyncio

    chosen = profile_of(profile)
    wanted = _quotas(quotas)
    lines: list[str] = []
    report: FidelityReport | None = None
    if out is not None:
        written, report = files.write_files(chosen, n, seed=seed, out=out, quotas=wanted, on_chunk=on_chunk)
        lines += [f"wrote {p} ({p.stat().st_size:,} bytes)" for p in written]
    if settings is not None:
        loaded = asyncio.run(_load(settings, chosen, n, seed, wanted, None if out is not None else on_chunk))
        lines.append(f"loaded {loaded:,} patients into the clinical database")
    if report is not None:
        lines += report_lines(report)
    return lines


async def _load(
    settings: Any, profile: Profile, n: int, seed: int, quotas: list[Quota], on_chunk: Any
) -> int:
    from inescape.modules.patients.api import PatientCreate, load_records, records_changed
    from inescape.runtime import Runtime

    runtime = Runtime(settings)
    await runtime.start(worker=False)
    services, loaded = runtime.services, 0
    try:
        for cohort in engine.generate(profile, n, seed=seed, quotas=quotas):
            records = [msgspec.convert(r, PatientCreate) for r in to_records(cohort)]
            async with services.uow() as uow:
                await load_records(services, uow.session, records)
            loaded += len(records)
            if on_chunk is not None:
                on_chunk(len(records))
        await records_changed(services)
    finally:
        await runtime.stop()
    return loaded


def report_lines(report: FidelityReport) -> list[str]:
    targets = report.targets
    missed = [t for t in targets if not t.ok]
    lines = [
        f"fidelity: {len(targets) - len(missed)} of {len(targets)} targets within the profile's tolerance"
    ]
    lines += [f"  MISSED {t.name}: {t.achieved:.3f} vs {t.target:.3f} ± {t.tolerance:.3f}" for t in missed]
    return lines


__all__ = [
    "MODULE",
    "DatasetGenerated",
    "FidelityReport",
    "Profile",
    "ProfileInvalid",
    "Quota",
    "cli_generate",
    "fidelity_report",
    "generate",
    "get_profile",
    "list_profiles",
    "parse_profile",
    "profile_of",
    "report_lines",
    "to_records",
]
