"""The cohort's filters: what the query and a saved cohort's definition select by, checked.

Every field but the ages takes several values (OR within a field, AND across fields):
``histology=adenocarcinoma,other``. ``treatment`` selects patients who had at least one of
the kinds named; ``biomarker`` those with at least one result ``KIND:value`` named (the kind
in any case: ``HER2:3+`` is ``her2:3+``). ``scheme`` makes ``stage_group`` select on that
staging's stage groups (the latest assessment of that kind) instead of the primary condition's.

A saved cohort's filters and the query's are combined with AND (``combined``): where both name
a field, the values both allow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from inescape.kernel.errors import Invalid
from inescape.modules.patients import vocab

# The fields with several values, and the values each allows (None: any short text).
MULTI: Final[dict[str, tuple[str, ...] | None]] = {
    "sex": vocab.SEXES,
    "histology": vocab.HISTOLOGIES,
    "location": vocab.LOCATIONS,
    "stage_group": vocab.STAGE_GROUPS,
    "vital_status": vocab.VITAL_STATUSES,
    "origin": vocab.ORIGINS,
    "source": None,
    "treatment": vocab.TREATMENT_KINDS,
    "biomarker": None,  # KIND:value, checked by ``_biomarker``
}
AGES: Final = ("min_age", "max_age")
FIELDS: Final = (*MULTI, *AGES, "scheme")
MAX_VALUES: Final = 50
MAX_TEXT: Final = 200
OLDEST: Final = 130


def _invalid(field: str, message: str, detail: str) -> Invalid:
    return Invalid(f"{field}: {detail}", errors=[{"field": field, "message": message}])


def _biomarker(value: str) -> str:
    kind, sep, result = value.partition(":")
    kind, result = kind.strip().lower(), result.strip()
    if not sep or kind not in vocab.BIOMARKERS or not result or len(result) > 16:
        raise _invalid(
            "biomarker",
            "not KIND:value",
            f"{value!r} is not KIND:value with KIND one of {', '.join(vocab.BIOMARKERS)} (e.g. her2:3+)",
        )
    return f"{kind}:{result}"


def checked_values(field: str, values: list[str]) -> list[str]:
    """``values`` of the multi-valued ``field``, checked (422 naming the field) and in the
    form stored (a biomarker's kind in lower case), without repeats."""
    allowed = MULTI[field]
    cleaned = [v.strip() for v in values]
    if not cleaned or len(cleaned) > MAX_VALUES or any(not v or len(v) > MAX_TEXT for v in cleaned):
        raise _invalid(field, "invalid values", f"1 to {MAX_VALUES} values of 1 to {MAX_TEXT} characters")
    if field == "biomarker":
        cleaned = [_biomarker(v) for v in cleaned]
    elif allowed is not None:
        wrong = [v for v in cleaned if v not in allowed]
        if wrong:
            raise _invalid(field, "unknown value", f"{', '.join(wrong)} is not one of {', '.join(allowed)}")
    return list(dict.fromkeys(cleaned))


def checked_age(field: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= OLDEST:
        raise _invalid(field, "not a number", f"a whole number of years from 0 to {OLDEST}")
    return value


def checked_scheme(value: Any) -> str | None:
    if value is not None and value not in vocab.STAGING_KINDS:
        raise _invalid("scheme", "unknown scheme", f"one of {', '.join(vocab.STAGING_KINDS)}")
    return None if value is None else str(value)


def from_query(get: Callable[[str], str | None]) -> dict[str, Any]:
    """The filters of a query string (``get`` reads one parameter): comma-separated values."""
    filters: dict[str, Any] = {}
    for field in MULTI:
        raw = get(field)
        if raw is not None:
            filters[field] = checked_values(field, raw.split(","))
    for field in AGES:
        raw = get(field)
        if raw is not None:
            if not raw.strip().isdigit():
                raise _invalid(field, "not a number", "a whole number of years")
            filters[field] = checked_age(field, int(raw))
    return filters


def definition(filters: Mapping[str, Any]) -> dict[str, Any]:
    """A saved cohort's filters, checked: unknown names or values are refused (422 naming the
    field); the values in the form stored."""
    unknown = sorted(set(filters) - set(FIELDS))
    if unknown:
        raise Invalid(
            f"Unknown cohort filter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} "
            f"(the filters are {', '.join(FIELDS)})",
            errors=[{"field": f"filters.{name}", "message": "unknown filter"} for name in unknown],
        )
    out: dict[str, Any] = {}
    for field, value in filters.items():
        if value is None:
            continue
        if field in MULTI:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _invalid(field, "not a list of text", "a list of values")
            out[field] = checked_values(field, value)
        elif field in AGES:
            out[field] = checked_age(field, value)
        else:
            out[field] = checked_scheme(value)
    if out.get("scheme") is None:
        out.pop("scheme", None)
    return out


def combined(query: Mapping[str, Any], stored: Mapping[str, Any]) -> dict[str, Any]:
    """Both sets of filters at once (AND): the values both allow where both name a field, the
    narrower age bounds. Where both select on stage groups under different schemes they cannot
    be combined into one (422)."""
    out = {k: v for k, v in query.items() if v is not None}
    for field, value in stored.items():
        if value is None or field == "scheme":
            continue
        mine = out.get(field)
        if mine is None:
            out[field] = value
        elif field in MULTI:
            allowed = set(value)
            out[field] = [v for v in mine if v in allowed]  # none left: nobody matches
        elif field == "min_age":
            out[field] = max(mine, value)
        else:
            out[field] = min(mine, value)
    if stored.get("stage_group") is not None:
        if query.get("stage_group") is not None and query.get("scheme") != stored.get("scheme"):
            raise _invalid(
                "scheme",
                "conflicting schemes",
                "the cohort selects stage groups under another scheme than the query",
            )
        out["scheme"] = stored.get("scheme")
    if out.get("scheme") is None:
        out.pop("scheme", None)
    return out


__all__ = ["AGES", "FIELDS", "MULTI", "checked_values", "combined", "definition", "from_query"]
