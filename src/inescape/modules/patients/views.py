"""What a viewer may see of patient records: the researcher policy, applied in one place.

The policy itself is the gateway's (``GatewayApi.view_for``: researchers and anonymous
callers get a record de-identified, HIPAA Safe Harbor; other permitted roles get it whole);
every patient route that returns record data goes through ``PatientViews``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import msgspec

from inescape.modules.auth.api import GatewayApi, Principal
from inescape.modules.patients.api import PatientRecord, PatientSummary
from inescape.modules.patients.fhir.server import Pseudonym

# When the record was written or changed: bookkeeping, not clinical. Shifted by the patient's
# offset it would give that offset away to anyone who knows or watches when a record arrived
# (a record created today, shown as created 40 days ago), and with it every true date of the
# patient; shifted forward it would lie in the future. A de-identified view leaves them out.
RECORD_KEEPING: Final = ("created_at", "updated_at")
# A list row (``PatientSummary``) with every field set and a birth year under 90: which fields
# survive de-identification. A field the row gains is not filterable by researchers until named here.
_PROBE: Final = {
    "id": "probe",
    "sex": "female",
    "birth_year": 1970,
    "origin": "real",
    "source": "probe",
    "histology": "adenocarcinoma",
    "location": "lower",
    "stage_group": "II",
    "diagnosis_date": "2020-01-01",
    "vital_status": "alive",
    "created_at": "2020-01-01T00:00:00+00:00",
}


# Facets of the whole record a researcher may select on when the view keeps them.
_FACET_PROBE: Final = {
    "treatments": [{"kind": "surgery"}],
    "biomarkers": [{"kind": "her2", "value": "3+"}],
}


class RecordView(msgspec.Struct, frozen=True, kw_only=True):
    body: dict[str, Any]
    deidentified: bool


class PatientViews:
    def __init__(self, *, gateway: GatewayApi) -> None:
        self._gateway = gateway

    def record(self, *, viewer: Principal | None, record: PatientRecord) -> RecordView:
        """The record as ``viewer`` may see it, and whether that is a de-identified copy."""
        body = self._view(viewer, msgspec.to_builtins(record), record.id)
        # A de-identified copy always carries the patient's research id; a whole record never does.
        return RecordView(body=body, deidentified="research_id" in body)

    def _view(self, viewer: Principal | None, record: dict[str, Any], patient_id: str) -> dict[str, Any]:
        body = self._gateway.view_for(viewer, record, patient_id=patient_id)
        if "research_id" in body:
            for name in RECORD_KEEPING:
                body.pop(name, None)
        return body

    def research_fields(self) -> frozenset[str]:
        """The fields of a list row a researcher is shown (``birth_year`` stands for the age
        filters; a patient over 89 shows ``age_group`` instead), and ``treatment`` and
        ``biomarker`` where the de-identified record keeps their kinds (and results)."""
        deid = self._gateway.deidentifier
        row = deid.deidentify(_PROBE, patient_id="probe")
        facets = deid.deidentify(_FACET_PROBE, patient_id="probe")
        kept = {
            "treatment": [t.get("kind") for t in facets.get("treatments", [])] == ["surgery"],
            "biomarker": [(b.get("kind"), b.get("value")) for b in facets.get("biomarkers", [])]
            == [("her2", "3+")],
        }
        return frozenset(row).union(k for k, v in kept.items() if v) - set(RECORD_KEEPING)

    def deidentifies(self, viewer: Principal | None) -> bool:
        """Whether ``viewer`` is only ever given de-identified records (the gateway decides)."""
        return "research_id" in self._gateway.view_for(viewer, {}, patient_id="probe")

    def pseudonym(self, patient_id: str) -> Pseudonym:
        """The research id and date shift the gateway's de-identifier gives ``patient_id``."""
        deid = self._gateway.deidentifier
        return Pseudonym(
            research_id=deid.research_id(patient_id),
            offset=deid.date_offset(patient_id),
            year_only=deid.date_mode == "year",
        )

    def research_id(self, patient_id: str) -> str:
        """The research id the gateway's de-identifier gives ``patient_id``."""
        return self._gateway.deidentifier.research_id(patient_id)

    def summaries(self, *, viewer: Principal | None, items: Iterable[PatientSummary]) -> list[dict[str, Any]]:
        """List rows as ``viewer`` may see them."""
        return [self._view(viewer, msgspec.to_builtins(s), s.id) for s in items]


__all__ = ["PatientViews", "RecordView"]
