"""FHIR R4 for the clinical record: mCODE-profiled Bundles, bulk-data NDJSON, and the import back.

``to_bundle(record)`` -> a ``collection`` Bundle; ``to_ndjson(records)`` -> NDJSON lines;
``from_bundle(bundle)`` -> ``PatientCreate`` (``read_bundle``: the same, skipping what it cannot
map). Plain dicts throughout: the mapping needs no FHIR
library (tests validate the output with ``fhir.resources``). Codes and URLs: ``codes.py``.
"""

from __future__ import annotations

from inescape.modules.patients.fhir.export import to_bundle, to_ndjson
from inescape.modules.patients.fhir.importer import from_bundle, read_bundle

__all__ = ["from_bundle", "read_bundle", "to_bundle", "to_ndjson"]
