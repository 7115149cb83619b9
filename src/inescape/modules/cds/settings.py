"""Settings of decision support (``INESCAPE_CDS_*``)."""

from __future__ import annotations

import msgspec


class CdsSettings(msgspec.Struct, kw_only=True):
    # The purpose whose production version (of any model name) gives risk estimates.
    risk_purpose: str = "overall-survival"
    risk_refresh_s: float = 30.0  # re-check the registry at least this often (promotions elsewhere)
    # FHIR servers a CDS Hooks call may make this service fetch from when prefetch is missing
    # (base URL prefixes, e.g. "https://ehr.example.org/fhir"). Empty: never fetch; such calls
    # are answered 412 as the specification says. A client-given URL is never fetched unlisted.
    fhir_servers: list[str] = msgspec.field(default_factory=list)
    fhir_timeout_s: float = 5.0
