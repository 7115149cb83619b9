"""Reading the caller's T, N, M, G, L, kind and histology into canonical codes, or saying what is wrong.

Light spelling variants are accepted at this boundary only: any case ("t1a", "TIS") and the AJCC
prefixes c/p/yp ("pT3", "ypN1", "cM0"). Everything past this file sees vocabulary codes.
"""

from __future__ import annotations

import re

import msgspec

from inescape.modules.cds.api import StagingError
from inescape.modules.cds.staging.tables import (
    GRADES,
    HISTOLOGIES,
    LOCATIONS,
    M_CATEGORIES,
    N_CATEGORIES,
    STAGING_KINDS,
    T_CATEGORIES,
)

PREFIX_OF_KIND = {"clinical": "c", "pathological": "p", "post_neoadjuvant": "yp"}
_PREFIXED = re.compile(r"(?P<prefix>yp|c|p)?(?P<code>[a-z][a-z0-9]*)")

# domain.md §1.1: the scheme follows the cell type, so "other" must be resolved by the caller.
_OTHER_HISTOLOGY = (
    "'other' has no AJCC stage table: adenosquamous carcinoma and undifferentiated carcinoma with a "
    "squamous component (or still undifferentiated) are staged with the squamous_cell_carcinoma "
    "scheme; undifferentiated carcinoma with a glandular component with the adenocarcinoma scheme "
    "(AJCC 8th ed. ch. 16); pass squamous_cell_carcinoma or adenocarcinoma"
)
_G4 = (
    "G4 was removed in the 8th edition (Rice 2017 primer): undifferentiated tumours are G3, "
    "staged as adenocarcinoma if glandular, otherwise as squamous cell carcinoma; allowed: "
)


def staging_error(errors: list[dict[str, str]]) -> StagingError:
    detail = "cannot stage: " + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return StagingError(detail, errors=errors)


class Inputs(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    scheme: str
    t: str
    n: str
    m: str
    grade: str | None
    location: str | None


def _allowed(values: tuple[str, ...]) -> str:
    return "allowed: " + ", ".join(values)


def _word(field: str, raw: object, allowed: tuple[str, ...]) -> tuple[str | None, str | None]:
    """(code, None) for a case-insensitive match, else (None, message)."""
    if not isinstance(raw, str):
        return None, f"must be a string; {_allowed(allowed)}"
    code = {value.lower(): value for value in allowed}.get(raw.strip().lower())
    if code is None:
        return None, f"{raw!r} is not a known {field}; {_allowed(allowed)}"
    return code, None


def _category(field: str, raw: object, kind: str | None) -> tuple[str | None, str | None]:
    """T, N or M, with an optional c/p/yp prefix that must agree with ``kind`` for T and N.

    M may carry any prefix: pathological staging uses clinical M when there is no pM0 (domain.md §1.3).
    """
    allowed = {"t": T_CATEGORIES, "n": N_CATEGORIES, "m": M_CATEGORIES}[field]
    if not isinstance(raw, str):
        return _word(field, raw, allowed)
    parsed = _PREFIXED.fullmatch(raw.strip().lower())
    code = {value.lower(): value for value in allowed}.get(parsed["code"]) if parsed else None
    if code is None or parsed is None:
        return None, f"{raw!r} is not a known {field}; {_allowed(allowed)} (prefix c, p or yp optional)"
    prefix = parsed["prefix"]
    if field != "m" and prefix and kind in PREFIX_OF_KIND and prefix != PREFIX_OF_KIND[kind]:
        expected = PREFIX_OF_KIND[kind]
        return (
            None,
            f"{raw!r} carries the prefix {prefix!r} but kind is {kind}: write {expected}{code} or {code}",
        )
    return code, None


def _optional(field: str, raw: object, allowed: tuple[str, ...]) -> tuple[str | None, str | None]:
    if raw is None:
        return None, None
    code, problem = _word(field, raw, allowed)
    if field == "grade" and isinstance(raw, str) and raw.strip().upper() == "G4":
        problem = _G4 + ", ".join(allowed)
    return code, problem


def _histology(raw: object) -> tuple[str | None, str | None]:
    code, problem = _word("histology", raw, HISTOLOGIES)
    return (None, _OTHER_HISTOLOGY) if code == "other" else (code, problem)


def parse(
    *, kind: object, histology: object, t: object, n: object, m: object, grade: object, location: object
) -> Inputs:
    """Every field is read before failing, so one error names all the inputs to fix."""
    kind_code, kind_problem = _word("kind", kind, STAGING_KINDS)
    readings = {
        "kind": (kind_code, kind_problem),
        "histology": _histology(histology),
        "t": _category("t", t, kind_code),
        "n": _category("n", n, kind_code),
        "m": _category("m", m, kind_code),
        "grade": _optional("grade", grade, GRADES),
        "location": _optional("location", location, LOCATIONS),
    }
    errors = [{"field": field, "message": problem} for field, (_, problem) in readings.items() if problem]
    if errors:
        raise staging_error(errors)
    codes = {field: code for field, (code, _) in readings.items()}
    return Inputs(
        kind=str(codes["kind"]),
        scheme=str(codes["histology"]),
        t=str(codes["t"]),
        n=str(codes["n"]),
        m=str(codes["m"]),
        grade=codes["grade"],
        location=codes["location"],
    )
