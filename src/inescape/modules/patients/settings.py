"""Settings of the clinical core (``INESCAPE_PATIENTS_*``): the systems its FHIR carries."""

from __future__ import annotations

import msgspec

from inescape.modules.patients.fhir.codes import LOCAL


class PatientsSettings(msgspec.Struct, kw_only=True):
    # The base of the code systems, extensions and identifier systems that are the platform's
    # own (``<base>/CodeSystem/..``, ``/StructureDefinition/..``, ``/identifier/..``): a
    # hospital's domain. The default is a placeholder.
    fhir_namespace: str = LOCAL
    # The hospital's own identifier systems (e.g. "urn:oid:1.2.36.146.595.217.0.1" for its
    # MRNs); empty: <fhir_namespace>/identifier/mrn and /identifier/national-id.
    fhir_mrn_system: str = ""
    fhir_national_id_system: str = ""
    fhir_page_max: int = 500  # the largest _count a search may ask for
    fhir_export_retry_after_s: int = 2  # what a $export status poll is told while it runs
