"""The researcher's list of records: every filter, row and cursor comes from the de-identified
values, never from the stored ones.

A researcher sees each patient's dates shifted by that patient's own offset (an HMAC of the
id under the gateway's secret), so no SQL predicate on the stored dates can select on the
shifted ones. The database narrows the candidates with a window that holds every possible
shift (``SHIFT_BOUND``: a superset), and each candidate's de-identified row is then tested
against the filters exactly; a filter can therefore split the rows only by what a researcher
is shown anyway. The work per request is bounded (``SCAN_BUDGET`` candidates): a page may be
short, and its ``next_cursor`` goes on from where the scan stopped. The cursor is sealed
(AES-GCM under the field key): it names the last candidate read and reveals nothing of it.

A filter on a field the de-identified row does not carry (``source``, ``origin``, and the
searches by ``mrn`` or ``name``) is refused: applying it would reveal the hidden value,
ignoring it would answer a different question. A researcher may find a record by the research
id the row shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final

from inescape.kernel.errors import Forbidden
from inescape.modules.auth.api import AGE_OVER_89, Principal
from inescape.modules.patients import cursors
from inescape.modules.patients.api import PatientNotFound
from inescape.modules.patients.service import PatientService
from inescape.modules.patients.views import PatientViews

# The gateway's de-identifier shifts a date by at most a year either way (auth/deid.py).
SHIFT_BOUND: Final = timedelta(days=365)
SCAN_BUDGET: Final = 5_000  # candidates read per request at most
BATCH: Final = 500
OLDEST_AGE: Final = 90  # every age above 89 is one group, "90+" (Safe Harbor)
_CURSOR_CONTEXT = "patients.research.cursor"

# The field of the list row each filter reads.
FILTER_FIELDS: Final = {
    "sex": "sex",
    "histology": "histology",
    "location": "location",
    "stage_group": "stage_group",
    "vital_status": "vital_status",
    "origin": "origin",
    "source": "source",
    "treatment": "treatment",  # shown when the view keeps a treatment's kind
    "biomarker": "biomarker",  # shown when it keeps a biomarker's kind and value
    "scheme": "stage_group",  # which staging's stage groups ``stage_group`` selects
    "min_age": "birth_year",
    "max_age": "birth_year",
    "diagnosed_from": "diagnosis_date",
    "diagnosed_to": "diagnosis_date",
    "mrn": "mrn",
    "name": "given_name",
    "research_id": "research_id",
}
EXACT: Final = ("sex", "histology", "location", "stage_group", "vital_status")
# Selected in the database only: codes no shift changes, which the list row does not carry.
UNSHIFTED: Final = ("treatment", "biomarker", "scheme")


def _allows(wanted: Any, shown: Any) -> bool:
    """Whether a shown value passes a filter of one value or a list of them."""
    return shown in wanted if isinstance(wanted, list | tuple | set | frozenset) else shown == wanted


class HiddenFieldFilter(Forbidden):
    """A researcher filtered on a field the de-identified view does not show."""


def refuse_hidden(filters: Mapping[str, Any], views: PatientViews, *, names: Mapping[str, str]) -> None:
    """``HiddenFieldFilter`` for a given filter (or grouping) whose field a researcher is not shown."""
    shown = views.research_fields()
    hidden = sorted(k for k, v in filters.items() if v is not None and names.get(k, k) not in shown)
    if hidden:
        raise HiddenFieldFilter(
            f"{', '.join(hidden)}: not part of the de-identified view, so a researcher cannot select on it",
        )


def seal(patient_id: str) -> str:
    return cursors.seal(patient_id, context=_CURSOR_CONTEXT)


def unseal(cursor: str) -> str:
    return cursors.unseal(
        cursor, context=_CURSOR_CONTEXT, field="cursor", hint="use the previous page's next_cursor"
    )


def candidates(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Stored-value filters that select every record the research filters can match (more,
    never fewer): the exact fields as given, dates widened by the largest shift, ages only
    where the "90+" group cannot be among the matches."""
    wide: dict[str, Any] = {k: filters.get(k) for k in (*EXACT, *UNSHIFTED)}
    if filters.get("diagnosed_from") is not None:
        wide["diagnosed_from"] = filters["diagnosed_from"] - SHIFT_BOUND
    if filters.get("diagnosed_to") is not None:
        wide["diagnosed_to"] = filters["diagnosed_to"] + SHIFT_BOUND
    if filters.get("min_age") is not None:
        wide["min_age"] = min(filters["min_age"], OLDEST_AGE)
    if filters.get("max_age") is not None and filters["max_age"] < OLDEST_AGE:
        wide["max_age"] = filters["max_age"]
    return wide


@dataclass(frozen=True)
class Matcher:
    """The research filters, tested on one de-identified list row."""

    filters: Mapping[str, Any]
    today: date

    def __call__(self, row: Mapping[str, Any]) -> bool:
        f = self.filters
        # under a ``scheme`` the stage groups are another staging's, selected in the database
        exact = [k for k in EXACT if not (k == "stage_group" and f.get("scheme"))]
        if any(f.get(k) is not None and not _allows(f[k], row.get(k)) for k in exact):
            return False
        return self._diagnosed(row.get("diagnosis_date")) and self._aged(row)

    def _diagnosed(self, shown: Any) -> bool:
        low, high = self.filters.get("diagnosed_from"), self.filters.get("diagnosed_to")
        if low is None and high is None:
            return True
        if shown is None:
            return False
        if isinstance(shown, int):  # date_mode "year": only the year is shown
            return (low is None or low.year <= shown) and (high is None or shown <= high.year)
        when = date.fromisoformat(str(shown)[:10])
        return (low is None or low <= when) and (high is None or when <= high)

    def _aged(self, row: Mapping[str, Any]) -> bool:
        low, high = self.filters.get("min_age"), self.filters.get("max_age")
        if low is None and high is None:
            return True
        if row.get("age_group") == AGE_OVER_89:  # one group: in or out as a whole
            return (low is None or low <= OLDEST_AGE) and (high is None or high >= OLDEST_AGE)
        born = row.get("birth_year")
        if not isinstance(born, int):
            return False
        age = self.today.year - born  # the list's own reckoning (by birth year)
        return (low is None or age >= low) and (high is None or age <= high + 1)


async def named_patient(named: str, *, patients: PatientService, views: PatientViews) -> str:
    """The patient id behind the research id a researcher names; ``PatientNotFound`` for
    anything else, an internal id included (a researcher addresses records by research id
    only). One index seek on the stamped research ids."""
    found = None
    if named.startswith("R-"):
        await patients.stamp_research_ids(views.research_id)
        found = await patients.by_research_id(named)
    if found is None:
        raise PatientNotFound(f"no patient {named!r}")
    return found


async def research_page(
    *,
    viewer: Principal | None,
    filters: Mapping[str, Any],
    limit: int,
    cursor: str | None,
    sort: str,
    patients: PatientService,
    views: PatientViews,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of de-identified rows matching ``filters`` on their de-identified values, in
    research-id order (``sort`` "id" or "-id": the id a researcher knows), and the sealed
    cursor of the next (None at the end)."""
    refuse_hidden(filters, views, names=FILTER_FIELDS)
    matches = Matcher(filters, patients.today())
    after = unseal(cursor) if cursor else None
    await patients.stamp_research_ids(views.research_id)
    wide, read = candidates(filters), 0
    if filters.get("research_id") is not None:  # one record at most: the one it names
        try:
            wide["id"] = await named_patient(filters["research_id"].strip(), patients=patients, views=views)
        except PatientNotFound:
            return [], None
    found: list[dict[str, Any]] = []
    while True:
        batch = await patients.research_page(
            filters=wide, limit=BATCH, after=after, descending=sort.startswith("-")
        )
        rows = views.summaries(viewer=viewer, items=[summary for _, summary in batch])
        for (research_id, _), row in zip(batch, rows, strict=True):
            if matches(row):
                if len(found) == limit:
                    return found, seal(after) if after else None
                found.append(row)
            after, read = research_id, read + 1
        if len(batch) < BATCH:
            return found, None
        if read >= SCAN_BUDGET and after is not None:
            return found, seal(after)


__all__ = [
    "SHIFT_BOUND",
    "HiddenFieldFilter",
    "Matcher",
    "candidates",
    "named_patient",
    "refuse_hidden",
    "research_page",
]
