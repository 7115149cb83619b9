"""The query parameters every cohort read takes: the filters (several values each), the saved
cohort they join, and the staging scheme; declared once as a dependency, so each operation
documents them and the unknown-query check knows them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import QueryParameter

from inescape.kernel.errors import Invalid
from inescape.modules.auth.api import principal_of
from inescape.modules.patients import filters as checks
from inescape.modules.patients.research import FILTER_FIELDS, OLDEST_AGE, refuse_hidden
from inescape.modules.patients.saved import SavedCohorts
from inescape.modules.patients.views import PatientViews

Scheme = Literal["clinical", "pathological", "post_neoadjuvant"]
SchemeParam = Annotated[
    Scheme | None,
    QueryParameter(
        description="Stage groups of this staging (the latest assessment of that kind per patient) "
        "instead of the primary condition's stage group; unstaged patients are left out"
    ),
]
_ANY = "; several values comma-separated select any of them"
SexQuery = Annotated[str | None, QueryParameter(description="Sex: female, male, other, unknown" + _ANY)]
HistologyQuery = Annotated[
    str | None,
    QueryParameter(description="Histology: squamous_cell_carcinoma, adenocarcinoma, other" + _ANY),
]
LocationQuery = Annotated[
    str | None, QueryParameter(description="Tumour location: cervical, upper, middle, lower, egj" + _ANY)
]
StageQuery = Annotated[
    str | None,
    QueryParameter(
        description="AJCC stage group (0, I, IA ... IVB); with scheme, that staging's latest one" + _ANY
    ),
]
VitalQuery = Annotated[str | None, QueryParameter(description="Vital status: alive, dead, unknown" + _ANY)]
OriginQuery = Annotated[str | None, QueryParameter(description="Origin: real, synthetic" + _ANY)]
SourceQuery = Annotated[str | None, QueryParameter(description="Where records were collected" + _ANY)]
TreatmentQuery = Annotated[
    str | None,
    QueryParameter(
        description="Patients who had at least one of these treatment kinds: surgery, radiotherapy, "
        "systemic, endoscopic_resection" + _ANY
    ),
]
BiomarkerQuery = Annotated[
    str | None,
    QueryParameter(
        description="Patients with at least one of these biomarker results, KIND:value (KIND: her2, "
        "pdl1_cps, pdl1_tps, msi, mmr, in any case; e.g. her2:3+)" + _ANY
    ),
]
AgeQuery = Annotated[int | None, QueryParameter(ge=0, le=130, description="Age in whole years (bound)")]
CohortQuery = Annotated[
    str | None,
    QueryParameter(
        description="A saved cohort's id (/api/v1/cohorts): its filters apply, with AND, beside any "
        "given here; 404 for an unknown id"
    ),
]


class FilterQuery(msgspec.Struct, frozen=True, kw_only=True):
    """The filters of a query, checked (lists of values, ages), and the saved cohort it names."""

    filters: dict[str, Any]
    cohort: str | None


async def filter_query(
    sex: SexQuery = None,
    histology: HistologyQuery = None,
    location: LocationQuery = None,
    stage_group: StageQuery = None,
    vital_status: VitalQuery = None,
    origin: OriginQuery = None,
    source: SourceQuery = None,
    treatment: TreatmentQuery = None,
    biomarker: BiomarkerQuery = None,
    min_age: AgeQuery = None,
    max_age: AgeQuery = None,
    cohort: CohortQuery = None,
) -> FilterQuery:
    """The filters every cohort read takes from its query (a dependency: documented once)."""
    raw = {
        "sex": sex,
        "histology": histology,
        "location": location,
        "stage_group": stage_group,
        "vital_status": vital_status,
        "origin": origin,
        "source": source,
        "treatment": treatment,
        "biomarker": biomarker,
    }
    chosen = checks.from_query(raw.get)
    chosen.update({k: v for k, v in (("min_age", min_age), ("max_age", max_age)) if v is not None})
    return FilterQuery(filters=chosen, cohort=cohort.strip() if cohort else None)


TEXT_FIELDS: Final = (*checks.MULTI, *checks.AGES, "cohort")


def filter_text(name: str, text: str) -> FilterQuery:
    """One cohort's filters written as a query string inside the parameter ``name``
    (``histology=adenocarcinoma&sex=female``, ``cohort=<saved id>``; empty: every patient):
    the filters the cohort reads take, checked the same way, errors naming ``name.field``."""
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=checks.MAX_VALUES)
    except ValueError:
        raise Invalid(
            f"{name}: more than {checks.MAX_VALUES} filters",
            errors=[{"field": name, "message": "too many filters"}],
        ) from None
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(key, []).append(value)
    unknown = sorted(set(values) - set(TEXT_FIELDS))
    if unknown:
        raise Invalid(
            f"{name}: unknown filter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"(the filters are {', '.join(TEXT_FIELDS)})",
            errors=[{"field": f"{name}.{key}", "message": "unknown filter"} for key in unknown],
        )
    try:
        chosen = checks.from_query(lambda field: ",".join(values[field]) if field in values else None)
    except Invalid as exc:
        raise Invalid(
            f"{name}.{exc.detail}",
            errors=[{**e, "field": f"{name}.{e['field']}"} for e in exc.errors],
        ) from None
    cohort = ",".join(values.get("cohort", [])).strip()
    return FilterQuery(filters=chosen, cohort=cohort or None)


QueryFilters = NamedDependency[FilterQuery]
FILTER_DEPENDENCY = {"query_filters": Provide(filter_query)}


Saved = NamedDependency[SavedCohorts]


async def resolved(saved: SavedCohorts, query: FilterQuery, scheme: str | None = None) -> dict[str, Any]:
    """The query's filters (``scheme``: whose stage groups ``stage_group`` selects) and, with
    AND, those of the saved cohort it names (404 for an unknown id)."""
    filters: dict[str, Any] = dict(query.filters)
    if scheme:
        filters["scheme"] = scheme
    if query.cohort is None:
        return filters
    return checks.combined(filters, await saved.filters_of(query.cohort))


async def cohort_filters(
    request: Request[Any, Any, Any],
    views: PatientViews,
    saved: SavedCohorts,
    query: FilterQuery,
    groups: tuple[str, ...] = (),
    scheme: str | None = None,
) -> dict[str, Any]:
    """The filters of a cohort read (``resolved``); a researcher may neither select nor group
    on a field the de-identified view hides (``HiddenFieldFilter``), a saved cohort's included."""
    filters = await resolved(saved, query, scheme)
    if views.deidentifies(principal_of(request)):
        refuse_hidden({**filters, **dict.fromkeys(groups, True)}, views, names=FILTER_FIELDS)
        within_shown_ages(filters)
    return filters


def within_shown_ages(filters: Mapping[str, Any]) -> None:
    """A researcher's age bounds select by birth year without splitting the "90+" group:
    ``min_age`` up to 90 takes all of it, ``max_age`` up to 88 none of it."""
    for name, most in (("min_age", OLDEST_AGE), ("max_age", OLDEST_AGE - 2)):
        if filters.get(name) is not None and filters[name] > most:
            raise Invalid(
                f"{name} is at most {most} for de-identified data (every age over 89 is one group, 90+)",
                errors=[{"field": name, "message": f"at most {most}"}],
            )


__all__ = [
    "FILTER_DEPENDENCY",
    "FilterQuery",
    "QueryFilters",
    "Saved",
    "Scheme",
    "SchemeParam",
    "cohort_filters",
    "filter_query",
    "filter_text",
    "resolved",
    "within_shown_ages",
]
