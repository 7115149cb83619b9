"""Public surface of the clinical core: the record's DTOs, errors, and the functions a
notebook needs (``load_cohort`` and the survival analytics) without a server."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inescape.modules.patients.analytics import (
    LogRankResult,
    age_distribution,
    age_summary,
    counts,
    histogram_svg,
    kaplan_meier,
    km_svg,
    log_rank,
    median_survival,
    number_at_risk,
)
from inescape.modules.patients.cohort import load_cohort, read_cohort, survival_frame
from inescape.modules.patients.cohort_routes import GENERATION_KEY
from inescape.modules.patients.fhir import from_bundle, read_bundle, to_bundle, to_ndjson
from inescape.modules.patients.schemas import (
    Biomarker,
    Condition,
    Observation,
    Outcome,
    PatientCreate,
    PatientRecord,
    PatientSummary,
    PatientUpdate,
    RiskFactors,
    Staging,
    Treatment,
)
from inescape.modules.patients.service import PatientNotFound, PatientService, Upserted, record_digest

MODULE = "patients"


def _service(services: Any) -> PatientService:
    service = services.extensions.get("patients")
    if not isinstance(service, PatientService):  # a split process that does not serve patients
        service = PatientService(services.clock, services.cache)
    return service


async def load_records(services: Any, session: Any, records: Sequence[PatientCreate]) -> list[str]:
    """The bulk path for other modules' jobs (generation, collection): validate every record and
    write them in the caller's transaction (binary COPY on PostgreSQL), all or nothing; their
    ids. No event per record: the caller announces the load (``generation.dataset.generated``)
    and calls ``records_changed`` once it has committed."""
    return await _service(services).insert_many(session, records)


def check_record(services: Any, record: PatientCreate) -> None:
    """Validate one record as every write does: ``Invalid`` with ``errors=[{"field",
    "message"}]`` naming each problem; nothing is written."""
    _service(services).check(record)


async def upsert_records(
    services: Any, session: Any, records: Sequence[PatientCreate], *, checked: bool = False
) -> list[Upserted]:
    """The collection path: real records keyed by (source, source_record_id), written in the
    caller's transaction; a record already stored identically changes nothing, a changed one
    replaces ours (same id, next version). ``checked``: the caller passed each record through
    ``check_record`` already (as it is now), so it is not validated twice. Call
    ``records_changed`` with the updated ids once committed."""
    return await _service(services).upsert_many(session, records, checked=checked)


async def records_changed(services: Any, patient_ids: Sequence[str] = ()) -> None:
    """Cohort answers cached before a bulk load are stale now, and so are the cached records of
    ``patient_ids`` (ones a collection updated)."""
    await services.cache.incr(GENERATION_KEY)
    for patient_id in patient_ids:
        await _service(services).forget(patient_id)


async def read_record(services: Any, patient_id: str) -> PatientRecord:
    """One stored record for another module's use case (decision support), through the same
    read-through cache as ``GET /api/v1/patients/{id}``. Access control and audit are the
    caller's: this is the in-process facade, not an endpoint. ``PatientNotFound`` if absent."""
    return await _service(services).get(services.db.sessions, patient_id)


async def cohort_tables(services: Any, filters: dict[str, Any]) -> dict[str, Any]:
    """The stored cohort ``filters`` selects (the list endpoint's filters), one polars DataFrame
    per table, without identifying columns (for training: researchers see de-identified data)."""
    today = services.clock.now().date()
    async with services.db.sessions() as session:
        frames: dict[str, Any] = await session.run_sync(
            lambda s: read_cohort(s.connection(), filters, today=today, identifiers=False)
        )
    return frames


__all__ = [
    "MODULE",
    "Biomarker",
    "Condition",
    "LogRankResult",
    "Observation",
    "Outcome",
    "PatientCreate",
    "PatientNotFound",
    "PatientRecord",
    "PatientSummary",
    "PatientUpdate",
    "RiskFactors",
    "Staging",
    "Treatment",
    "Upserted",
    "age_distribution",
    "age_summary",
    "check_record",
    "cohort_tables",
    "counts",
    "from_bundle",
    "histogram_svg",
    "kaplan_meier",
    "km_svg",
    "load_cohort",
    "load_records",
    "log_rank",
    "median_survival",
    "number_at_risk",
    "read_bundle",
    "read_record",
    "record_digest",
    "records_changed",
    "survival_frame",
    "to_bundle",
    "to_ndjson",
    "upsert_records",
]
