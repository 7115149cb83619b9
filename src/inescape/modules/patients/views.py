"""What a viewer may see of patient records: the researcher policy, applied in one place.

The policy itself is the gateway's (``GatewayApi.view_for``: researchers and anonymous
callers get a record de-identified, HIPAA Safe Harbor; other permitted roles get it whole);
every patient route that returns record data goes through ``PatientViews``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from inescape.modules.auth.api import GatewayApi, Principal
from inescape.modules.patients.api import PatientRecord, PatientSummary
from inescape.modules.patients.fhir.server import Pseudonym


class RecordView(msgspec.Struct, frozen=True, kw_only=True):
    body: dict[str, Any]
    deidentified: bool


class PatientViews:
    def __init__(self, *, gateway: GatewayApi) -> None:
        self._gateway = gateway

    def record(self, *, viewer: Principal | None, record: PatientRecord) -> RecordView:
        """The record as ``viewer`` may see it, and whether that is a de-identified copy."""
        body = self._gateway.view_for(viewer, msgspec.to_builtins(record), patient_id=record.id)
        # A de-identified copy always carries the patient's research id; a whole record never does.
        return RecordView(body=body, deidentified="research_id" in body)

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

    def research_ids(self, patient_ids: Iterable[str]) -> dict[str, str]:
        """{research id: patient id} of ``patient_ids`` (to find the record a researcher names)."""
        deid = self._gateway.deidentifier
        return {deid.research_id(i): i for i in patient_ids}

    def summaries(self, *, viewer: Principal | None, items: Iterable[PatientSummary]) -> list[dict[str, Any]]:
        """List rows as ``viewer`` may see them."""
        return [self._gateway.view_for(viewer, msgspec.to_builtins(s), patient_id=s.id) for s in items]


__all__ = ["PatientViews", "RecordView"]
