"""A record's fingerprint: what an upsert compares to tell a changed record from the same one."""

from __future__ import annotations

import hashlib

import msgspec

from inescape.modules.patients.api import PatientCreate


def record_digest(record: PatientCreate) -> str:
    """The SHA-256 of the record's canonical JSON."""
    return hashlib.sha256(msgspec.json.encode(record)).hexdigest()
