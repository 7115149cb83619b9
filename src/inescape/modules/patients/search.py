"""Finding a patient in the list: by MRN (its blind index: the MRN itself is stored
encrypted), by name, or by research id; for those who may see whole records.

A name search matches words from their start: each word of the query (case and accents
folded, split on spaces, hyphens and apostrophes) must begin a word of the given or family
name, so "kar" and "karimi" find "Karimi" and "zahra ahm" finds "Zahrá Ahmadi" (before the
name index, any part of the name matched: "rim" no longer finds "Karimi").

Names are encrypted with a random nonce, so no SQL predicate can match them. A query word of
3 letters or more selects candidates through the blind index of names (``patient_name_terms``:
the keyed hash of each name word's first three letters), in SQL with the other filters; every
candidate is then confirmed by decrypting its names, so a hash collision costs only a read. A
query of 1- and 2-letter words only has no term to look up: the candidates the other filters
select are read in batches and compared. Either way the work per request is bounded
(``SCAN_BUDGET`` candidates, as for the researcher's list): a page may be short, and its
``next_cursor`` goes on from where the scan stopped. A research id is found as the FHIR API
and the record route find it (an HMAC per live record)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inescape.modules.patients.api import PatientNotFound, PatientSummary
from inescape.modules.patients.repository.names import PREFIX, folded, prefix_term, words
from inescape.modules.patients.research import BATCH, SCAN_BUDGET, named_patient
from inescape.modules.patients.service import PatientService
from inescape.modules.patients.views import PatientViews


def name_matches(summary: PatientSummary, terms: list[str]) -> bool:
    """Every term of the query begins a word of the given or family name."""
    name = words(f"{summary.given_name or ''} {summary.family_name or ''}")
    return all(any(word.startswith(term) for word in name) for term in terms)


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
    """Rows whose name words begin with every word of ``name`` among those ``filters``
    select, and the cursor of the next page (None at the end)."""
    terms = words(name)
    if not terms:  # punctuation only: no name word begins with nothing
        return [], None
    indexed = sorted({prefix_term(t) for t in terms if len(t) >= PREFIX})
    if indexed:
        await patients.index_names()
        filters = {**filters, "name_terms": indexed}
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
