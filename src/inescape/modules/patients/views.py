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

    def summaries(self, *, viewer: Principal | None, items: Iterable[PatientSummary]) -> list[dict[str, Any]]:
        """List rows as ``viewer`` may see them."""
        return [self._gateway.view_for(viewer, msgspec.to_builtins(s), patient_id=s.id) for s in items]


__all__ = ["PatientViews", "RecordView"]
