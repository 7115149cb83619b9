"""Finding a patient in the list: by MRN (its blind index: the MRN itself is stored
encrypted), by name, or by research id; for those who may see whole records.

Names are encrypted with a random nonce, so no SQL predicate can match them: the candidates
the other filters select are read in batches and their decrypted names compared. The work
per request is bounded (``SCAN_BUDGET`` rows, as for the researcher's list): a page may be
short, and its ``next_cursor`` goes on from where the scan stopped. A research id is found as
the FHIR API and the record route find it (an HMAC per live record)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from inescape.modules.patients.api import PatientNotFound, PatientSummary
from inescape.modules.patients.research import BATCH, SCAN_BUDGET, named_patient
from inescape.modules.patients.service import PatientService
from inescape.modules.patients.views import PatientViews


def folded(text: str) -> str:
    """Case and accents aside: "Zahra Ahmadi" matches "zahra", "AHMADI" and "Zahrá"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_matches(summary: PatientSummary, terms: list[str]) -> bool:
    """Every term of the query is part of the given or family name."""
    full = folded(f"{summary.given_name or ''} {summary.family_name or ''}")
    return all(term in full for term in terms)


async def resolve_research_id(
    filters: dict[str, Any], research_id: str | None, *, patients: PatientService, views: PatientViews
) -> bool:
    """Narrow ``filters`` to the record behind ``research_id``; False when there is none (the
    answer is then an empty page, as for an MRN nobody has)."""
    if research_id is None:
        return True
    try:
        filters["id"] = await named_patient(research_id.strip(), patients=patients, views=views)
    except PatientNotFound:
        return False
    return True


async def search_page(
    *,
    filters: Mapping[str, Any],
    name: str,
    limit: int,
    cursor: str | None,
    sort: str,
    patients: PatientService,
) -> tuple[list[PatientSummary], str | None]:
    """Rows whose name holds every term of ``name`` among those ``filters`` select, and the
    cursor of the next page (None at the end)."""
    terms = folded(name).split()
    found: list[PatientSummary] = []
    after, read = cursor, 0
    while True:
        batch, more = await patients.page(filters=filters, limit=BATCH, cursor=after, sort=sort)
        for summary in batch:
            if name_matches(summary, terms):
                if len(found) == limit:
                    return found, after
                found.append(summary)
            after, read = summary.id, read + 1
        if more is None:
            return found, None
        if read >= SCAN_BUDGET and after is not None:
            return found, after


__all__ = ["folded", "resolve_research_id", "search_page"]
