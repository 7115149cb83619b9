"""Events the clinical core publishes; they leave the process (outbox) so generation,
collection, training and caches elsewhere can react."""

from __future__ import annotations

from inescape.kernel.events import Event


class PatientCreated(Event, frozen=True, tag="patients.patient.created.v1"):
    leaves_process = True
    patient_id: str
    origin: str
    source: str | None = None


class PatientUpdated(Event, frozen=True, tag="patients.patient.updated.v1"):
    leaves_process = True
    patient_id: str
    version: int


class PatientDeleted(Event, frozen=True, tag="patients.patient.deleted.v1"):
    leaves_process = True
    patient_id: str


__all__ = ["PatientCreated", "PatientDeleted", "PatientUpdated"]
