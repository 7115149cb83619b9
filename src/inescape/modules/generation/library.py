"""``GeneratorApi`` without a backend: profiles, cohorts in memory or to files, fidelity.

Built from the two pure facades it stands on: cds's staging (the AJCC lookups the engine
joins on) and the clinical core's codecs (Kaplan-Meier for fidelity, FHIR for NDJSON).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.cds.api import StagingApi
from inescape.modules.generation import engine, files
from inescape.modules.generation.api import TABLES, Calibration, FidelityReport, Quota
from inescape.modules.generation.engine import Cohort
from inescape.modules.generation.engine.staging import StageTables
from inescape.modules.generation.fidelity import fidelity_frame, fidelity_report
from inescape.modules.generation.profiles import Profile, Profiles
from inescape.modules.patients.api import ClinicalCodecs

QuotaLike = Quota | Mapping[str, Any] | str


class Generator:
    """The generation library (implements ``GeneratorApi``)."""

    def __init__(self, *, staging: StagingApi, codecs: ClinicalCodecs) -> None:
        self.tables = StageTables(staging)
        self.catalogue = Profiles(self.tables)
        self.codecs = codecs

    def profile(self, name_or_path: str | Profile) -> Profile:
        """A shipped profile by name, or a profile file (``.toml``) by path."""
        if isinstance(name_or_path, Profile):
            return name_or_path
        if name_or_path.endswith(".toml") and Path(name_or_path).is_file():
            return self.parse_profile(Path(name_or_path).read_text(encoding="utf-8"), source=name_or_path)
        return self.catalogue.get(name_or_path)

    def profiles(self) -> list[Profile]:
        return self.catalogue.all()

    def parse_profile(self, text: str, *, source: str = "<text>") -> Profile:
        return self.catalogue.parse(text, source=source)

    def quotas(self, quotas: Sequence[QuotaLike]) -> list[Quota]:
        found = []
        for i, quota in enumerate(quotas):
            try:
                raw = json.loads(quota) if isinstance(quota, str) else quota
                found.append(raw if isinstance(raw, Quota) else msgspec.convert(raw, Quota))
            except (ValueError, msgspec.ValidationError) as exc:
                raise Invalid(
                    f"quota {i + 1} is malformed: {exc}",
                    errors=[{"field": f"quotas[{i}]", "message": str(exc)}],
                ) from None
        return found

    def chunks(
        self,
        profile: str | Profile,
        n: int,
        *,
        seed: int = 0,
        quotas: Sequence[QuotaLike] = (),
        chunk_size: int = 50_000,
    ) -> Iterator[Cohort]:
        return engine.generate(
            self.profile(profile),
            n,
            seed=seed,
            tables=self.tables,
            quotas=self.quotas(quotas),
            chunk_size=chunk_size,
        )

    def generate(
        self, profile: str | Profile, n: int, *, seed: int = 0, quotas: Sequence[QuotaLike] = ()
    ) -> dict[str, pl.DataFrame]:
        """The whole cohort in memory, one DataFrame per table (for n that fits in memory; the
        job and the CLI write chunk by chunk)."""
        chunks = list(self.chunks(profile, n, seed=seed, quotas=quotas))
        return {t: pl.concat([c.frames()[t] for c in chunks]) for t in TABLES}

    def to_records(self, cohort: Cohort) -> list[dict[str, Any]]:
        return engine.to_records(cohort)

    def fidelity_frame(self, cohort: Any) -> pl.DataFrame:
        return fidelity_frame(cohort)

    def calibrate(self, profile: str, knobs: Sequence[str], **options: Any) -> Calibration:
        from inescape.modules.generation.calibration import calibrate

        return calibrate(self, profile, knobs, **options)

    def fidelity_report(self, profile: str | Profile, frames: Any) -> FidelityReport:
        return fidelity_report(self.profile(profile), frames, codecs=self.codecs)

    def write_files(
        self,
        profile: str | Profile,
        n: int,
        *,
        seed: int = 0,
        out: Path,
        quotas: Sequence[QuotaLike] = (),
        on_chunk: Callable[[int], Any] | None = None,
    ) -> tuple[list[Path], FidelityReport]:
        return files.write_files(
            self.profile(profile),
            n,
            seed=seed,
            out=out,
            tables=self.tables,
            codecs=self.codecs,
            quotas=self.quotas(quotas),
            on_chunk=on_chunk,
        )
