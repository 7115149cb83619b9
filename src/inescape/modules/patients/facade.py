"""The clinical core's facades: ``Patients`` (``PatientsApi``, bound to the database and
cache in ``bind``) and ``Codecs`` (``ClinicalCodecs``, the backend-free library)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from typing import Any

from inescape.kernel.errors import Invalid
from inescape.modules.patients import analytics, cohort, fhir
from inescape.modules.patients.api import (
    ClinicalCodecs,
    LogRankResult,
    PatientCreate,
    PatientRecord,
    PatientsApi,
    Upserted,
)
from inescape.modules.patients.cohort_service import CohortService
from inescape.modules.patients.digest import record_digest
from inescape.modules.patients.research import FILTER_FIELDS, refuse_hidden
from inescape.modules.patients.saved import SavedCohorts
from inescape.modules.patients.service import PatientService
from inescape.modules.patients.views import PatientViews


class Patients(PatientsApi):
    """``PatientsApi`` over the module's services (the in-process binding)."""

    def __init__(
        self, *, records: PatientService, cohorts: CohortService, saved: SavedCohorts, views: PatientViews
    ) -> None:
        self._records = records
        self._cohorts = cohorts
        self._saved = saved
        self._views = views

    async def load_records(self, session: Any, records: Sequence[PatientCreate]) -> list[str]:
        return await self._records.insert_many(session=session, records=records)

    def check_record(self, record: PatientCreate) -> None:
        self._records.check(record=record)

    async def upsert_records(
        self, session: Any, records: Sequence[PatientCreate], *, checked: bool = False
    ) -> list[Upserted]:
        return await self._records.upsert_many(session=session, records=records, checked=checked)

    async def records_changed(self, patient_ids: Sequence[str] = ()) -> None:
        await self._cohorts.records_changed()
        for patient_id in patient_ids:
            await self._records.forget(patient_id=patient_id)

    async def read_record(self, patient_id: str) -> PatientRecord:
        return await self._records.get(patient_id=patient_id)

    async def cohort_tables(self, filters: dict[str, Any]) -> dict[str, Any]:
        return dict(await self._cohorts.tables(filters=filters, identifiers=False))

    async def saved_cohort(self, cohort_id: str, *, viewer: Any = None) -> dict[str, Any]:
        filters = await self._saved.filters_of(cohort_id)
        if viewer is not None and self._views.deidentifies(viewer):
            refuse_hidden(filters, self._views, names=FILTER_FIELDS)
        return filters


class Codecs(ClinicalCodecs):
    """``ClinicalCodecs``: the FHIR mapping, record digests and cohort analytics."""

    def from_bundle(self, bundle: dict[str, Any]) -> PatientCreate:
        return fhir.from_bundle(bundle)

    def read_bundle(self, bundle: dict[str, Any]) -> tuple[PatientCreate, list[dict[str, str]]]:
        return fhir.read_bundle(bundle)

    def to_bundle(self, record: PatientRecord, *, base_url: str = "urn:uuid:") -> dict[str, Any]:
        return fhir.to_bundle(record, base_url=base_url)

    def to_ndjson(self, records: Iterable[PatientRecord]) -> Iterator[str]:
        return fhir.to_ndjson(records)

    def record_digest(self, record: PatientCreate) -> str:
        return record_digest(record)

    def kaplan_meier(self, frame: Any, **options: Any) -> Any:
        return analytics.kaplan_meier(frame, **options)

    def median_survival(self, frame: Any, **options: Any) -> Any:
        return analytics.median_survival(frame, **options)

    def km_svg(self, km_frame: Any, **options: Any) -> str:
        return analytics.km_svg(km_frame, **options)

    def log_rank(self, frame: Any, **options: Any) -> LogRankResult:
        return analytics.log_rank(frame, **options)

    def number_at_risk(self, frame: Any, **options: Any) -> Any:
        return analytics.number_at_risk(frame, **options)

    def counts(self, frame: Any, by: str | Sequence[str]) -> Any:
        return analytics.counts(frame, by)

    def age_distribution(self, frame: Any, **options: Any) -> Any:
        return analytics.age_distribution(frame, **options)

    def age_summary(self, frame: Any, **options: Any) -> Any:
        return analytics.age_summary(frame, **options)

    def histogram_svg(self, distribution: Any, **options: Any) -> str:
        return analytics.histogram_svg(distribution, **options)

    def survival_frame(self, patients_frame: Any, *, today: date) -> Any:
        return cohort.survival_frame(patients_frame, today=today)

    def read_cohort(
        self,
        connection: Any,
        *,
        today: date,
        wide: bool = False,
        identifiers: bool = False,
        filters: dict[str, Any] | None = None,
    ) -> Any:
        return cohort.read_for(connection, today=today, wide=wide, identifiers=identifiers, filters=filters)

    def read_tallies(
        self,
        connection: Any,
        *,
        today: date,
        kind: str,
        filters: dict[str, Any] | None = None,
        **options: Any,
    ) -> Any:
        chosen = filters or {}
        if kind == "survival":
            return cohort.survival_tallies(connection, chosen, today=today, **options)[0]
        if kind == "counts":
            return cohort.count_table(connection, chosen, today=today, **options)
        if kind == "ages":
            return cohort.age_table(connection, chosen, today=today)
        raise Invalid(
            f"kind is survival, counts or ages, not {kind!r}",
            errors=[{"field": "kind", "message": "unknown"}],
        )

    def hazard_ratios(self, frame: Any, **options: Any) -> Any:
        return analytics.hazard_ratios(frame, **options)

    def summarise_curve(self, km_frame: Any, **options: Any) -> Any:
        return analytics.summarise_curve(km_frame, **options)


__all__ = ["Codecs", "Patients"]
