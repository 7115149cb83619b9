"""Matching canonical inputs to the AJCC 8th edition tables (tables.py), and every decision the
tables leave open. Each decision is also written into ``StageResult.notes`` when it applies.

1. SCC pT3 N0 M0 GX with a Lower epicentre matches row 10 ("any G, lower → IIA") and row 13
   ("GX, any location → IIB"); AJCC does not say which wins (domain.md §1.9). We report IIA, as
   the SEER EOD 2018 algorithm does (tnm_8_path_stage_squamous_15592: the reference implementation
   cancer registries run); VistA ONCSGA8A gives IIB. See ``_AMBIGUOUS``.
2. A pTNM row that needs grade, with no grade given, reads it as GX: the tables carry GX rows for
   exactly that case (AJCC 8th ed. ch. 16). Clinical and ypTNM never use grade or location.
3. No location given reads as AJCC L "X" (location unknown); it matters only for SCC pT3 N0 M0.
4. "Any T" covers TX and T1-T4b (T0 too in ypTNM) but never Tis: TX N3 M0 → IVA and TX or NX with
   M1 → IVB, while Tis with N+ or M1, ypTis, and T0 outside ypTNM raise (domain.md §1.9).
5. NX with M0 raises, except the explicit row ypT4a NX M0 → IVA.
6. T4 not divided into T4a/T4b, where a table splits T4, stages only when T4a and T4b give the
   same group (e.g. adenocarcinoma cT4 N2 M0 → IVA); otherwise the caller must divide it.
7. pT1 not divided, with N0, raises: AJCC defines pT1 N0 by subcategory and SEER's stage "I" NOS
   is no AJCC group (domain.md §1.9). The one exception is printed: adenocarcinoma "pT1 N0 M0 G3
   → IC" names T1 itself, so it covers T1a, T1b and T1 alike.
"""

from __future__ import annotations

import msgspec

from inescape.modules.cds.api import StageResult, StagingError
from inescape.modules.cds.staging.inputs import Inputs, parse, staging_error
from inescape.modules.cds.staging.tables import L_OF_LOCATION, TABLES, Row, Table

_AMBIGUOUS_SCC_T3_NOTE = (
    "ambiguous cell (domain.md §1.9): SCC pT3 N0 M0 GX with a lower epicentre "
    "matches row 10 (any G, lower → IIA) and row 13 (GX, any location → IIB); IIA is "
    "reported, as the SEER EOD 2018 algorithm (tnm_8_path_stage_squamous_15592) used by cancer "
    "registries does; VistA ONCSGA8A gives IIB"
)
# Overlapping rows that disagree, keyed by (table key, matching row numbers) → (row chosen, note).
_AMBIGUOUS: dict[tuple[str, tuple[int, ...]], tuple[int, str]] = {
    ("pathological/squamous_cell_carcinoma", (10, 13)): (10, _AMBIGUOUS_SCC_T3_NOTE),
}


class _Match(msgspec.Struct, frozen=True, kw_only=True):
    row: Row  # the row reported
    matched: tuple[Row, ...]  # every row that matched, the reported one included
    notes: tuple[str, ...] = ()


def _fits(row: Row, t: str, inputs: Inputs) -> bool:
    grade = inputs.grade or "GX"
    place = L_OF_LOCATION[inputs.location] if inputs.location else "X"
    return (
        t in row.t
        and inputs.n in row.n
        and inputs.m in row.m
        and (row.grade is None or grade in row.grade)
        and (row.location is None or place in row.location)
    )


def _find(table: Table, inputs: Inputs, t: str) -> _Match | None:
    rows = [row for row in table.rows if _fits(row, t, inputs)]
    if not rows:
        return None
    if len({row.stage for row in rows}) == 1:
        numbers = " and ".join(str(row.number) for row in rows)
        agree = f"rows {numbers} match and agree ({rows[0].stage}); row {rows[0].number} reported"
        return _Match(row=rows[0], matched=tuple(rows), notes=(agree,) if len(rows) > 1 else ())
    key = (table.key, tuple(row.number for row in rows))
    if key not in _AMBIGUOUS:  # a table edit created a new overlap: decide it here, never silently
        raise RuntimeError(f"rows {key[1]} of {table.key} overlap with different stages and no decision")
    chosen, note = _AMBIGUOUS[key]
    return _Match(row=next(row for row in rows if row.number == chosen), matched=tuple(rows), notes=(note,))


def _resolve_undivided_t4(table: Table, inputs: Inputs) -> _Match | None:
    """T4 without a/b where the table splits T4: stage only if the split cannot change the group."""
    if inputs.t != "T4":
        return None
    t4a, t4b = _find(table, inputs, "T4a"), _find(table, inputs, "T4b")
    if t4a is None or t4b is None or t4a.row.stage != t4b.row.stage:
        return None
    note = (
        f"T4 not divided into T4a/T4b: T4a (row {t4a.row.number}) and T4b (row {t4b.row.number}) both "
        f"give {t4a.row.stage}, so the subcategory cannot change the stage; row {t4a.row.number} reported"
    )
    return _Match(row=t4a.row, matched=t4a.matched + t4b.matched, notes=(*t4a.notes, note))


def _t_outside_table(inputs: Inputs) -> list[dict[str, str]]:
    if inputs.t == "T0" and inputs.kind != "post_neoadjuvant":
        message = (
            "T0 (no evidence of primary tumour) has a row only in the post-neoadjuvant table (ypT0); "
            "give the assessed T (Tis, T1a-T4b), or kind post_neoadjuvant after neoadjuvant therapy"
        )
        return [{"field": "t", "message": message}]
    if inputs.t == "Tis" and inputs.kind == "post_neoadjuvant":
        message = "ypTis has no row in the ypTNM table (domain.md §1.9), so it cannot be staged; check ypT"
        return [{"field": "t", "message": message}]
    return []


def _tis_with_spread(inputs: Inputs) -> list[dict[str, str]]:
    """Tis stages only as Tis N0 M0 → 0; AJCC defines no group for Tis with nodes or metastasis."""
    if inputs.t != "Tis":
        return []
    fix_t = (
        "Tis (high-grade dysplasia) stages only as Tis N0 M0 → 0; with spread give the invasive T (T1-T4b)"
    )
    if inputs.m == "M1":
        return [{"field": "t", "message": fix_t}, {"field": "m", "message": "Tis with M1 is not defined"}]
    if inputs.n == "NX":
        return [{"field": "n", "message": "Tis is stage 0 only with N0: assess the regional nodes"}]
    undefined = f"Tis with {inputs.n} is not defined; Tis stages only with N0"
    return [{"field": "t", "message": fix_t}, {"field": "n", "message": undefined}]


def _not_assessed(inputs: Inputs) -> list[dict[str, str]]:
    """TX / NX with M0 (with M1 they stage IVB, and TX N3 M0 stages IVA via the 'Any T' rows)."""
    errors: list[dict[str, str]] = []
    if inputs.t == "TX":
        message = "TX (primary not assessed) stages only with N3 (IVA) or M1 (IVB): assess T"
        errors.append({"field": "t", "message": message})
    if inputs.n == "NX" and inputs.kind == "post_neoadjuvant" and inputs.t == "T4":
        message = "ypT4a NX M0 is IVA (explicit row) but ypT4b NX is not defined: give T4a or T4b"
        errors.append({"field": "t", "message": message})
    if inputs.n == "NX":
        message = "NX (nodes not assessed) stages only with M1 (IVB) or as ypT4a NX M0 (IVA): assess N"
        errors.append({"field": "n", "message": message})
    return errors


def _undivided(table: Table, inputs: Inputs) -> list[dict[str, str]]:
    if inputs.t == "T4":
        split = {sub: _find(table, inputs, sub) for sub in ("T4a", "T4b")}
        gives = ", ".join(
            f"{sub} gives {match.row.stage} (row {match.row.number})" if match else f"{sub} is not defined"
            for sub, match in split.items()
        )
        message = (
            f"T4 must be divided for this table ({gives}): pass T4a (pleura, pericardium, azygos vein, "
            "diaphragm, peritoneum) or T4b (aorta, vertebral body, airway)"
        )
        return [{"field": "t", "message": message}]
    if inputs.t == "T1":
        message = (
            "pT1 N0 M0 is defined only for T1a (lamina propria, muscularis mucosae) or T1b (submucosa); "
            "pass T1a or T1b (domain.md §1.9)"
        )
        return [{"field": "t", "message": message}]
    return []


def _undefined(table: Table, inputs: Inputs) -> StagingError:
    errors = (
        _t_outside_table(inputs)
        or _tis_with_spread(inputs)
        or _not_assessed(inputs)
        or _undivided(table, inputs)
    )
    if not errors:
        raise RuntimeError(f"{table.key} has no row and no diagnosis for {inputs}")
    return staging_error(errors)


def _input_notes(inputs: Inputs, match: _Match) -> list[str]:
    """How a missing or platform-specific grade / location was read, where a matching row looked."""
    notes: list[str] = []
    grade_looked = any(row.grade is not None for row in match.matched)
    location_looked = any(row.location is not None for row in match.matched)
    if grade_looked and inputs.grade is None:
        notes.append("grade not given: read as GX, which has its own rows in the pTNM table")
    if location_looked and inputs.location is None:
        notes.append("location not given: AJCC L is X (location unknown)")
    elif location_looked and inputs.location is not None:
        notes.append(
            f"location {inputs.location} → AJCC L {L_OF_LOCATION[inputs.location]} (tumour epicentre: "
            "cervical/upper → Upper, middle → Middle, lower/egj → Lower; domain.md §1.5)"
        )
    return notes


def _category_notes(table: Table, inputs: Inputs) -> list[str]:
    notes: list[str] = []
    if inputs.t == "TX":
        notes.append("TX (primary not assessed) stages only through the 'Any T' rows: N3 M0 → IVA, M1 → IVB")
    if inputs.n == "NX" and inputs.m == "M1":
        notes.append("NX: with M1 the nodes cannot change the stage (Any N M1 → IVB)")
    if table.key == "clinical/squamous_cell_carcinoma" and inputs.t == "T4":
        notes.append("cT4 not divided into T4a/T4b: the SCC clinical table does not split T4")
    if table.key == "pathological/adenocarcinoma" and inputs.t == "T1" and inputs.n == "N0":
        notes.append("pT1 not divided: the printed row 'pT1 N0 M0 G3 → IC' covers T1a and T1b alike")
    if table.kind == "post_neoadjuvant":
        notes.extend(_post_neoadjuvant_notes(inputs))
    return notes


def _post_neoadjuvant_notes(inputs: Inputs) -> list[str]:
    notes = ["ypTNM stage groups are identical for squamous cell carcinoma and adenocarcinoma (Rice 2017)"]
    if inputs.t == "T0" and inputs.n == "N0" and inputs.m == "M0":
        notes.append("ypT0 N0 M0 is a pathologic complete response: ypTNM has no stage 0, so it is stage I")
    if inputs.t == "T4a" and inputs.n == "NX" and inputs.m == "M0":
        notes.append("ypT4a NX M0 → IVA is an explicit ypTNM row, the only NX that stages with M0")
    return notes


def _result(table: Table, inputs: Inputs, match: _Match) -> StageResult:
    row = match.row
    used = {"t": inputs.t, "n": inputs.n, "m": inputs.m}
    if row.grade is not None:
        used["grade"] = inputs.grade or "GX"
    if row.location is not None:
        used["location"] = inputs.location or "X"
    given = [field for field in ("grade", "location") if getattr(inputs, field) is not None]
    return StageResult(
        stage_group=row.stage,
        kind=inputs.kind,
        scheme=inputs.scheme,
        table=table.name,
        row=row.number,
        rule=row.rule,
        used=used,
        ignored=[field for field in given if field not in used],
        notes=[*match.notes, *_input_notes(inputs, match), *_category_notes(table, inputs)],
        source=table.source,
    )


def stage(
    *,
    kind: str,
    histology: str,
    t: str,
    n: str,
    m: str,
    grade: str | None = None,
    location: str | None = None,
) -> StageResult:
    """The AJCC 8th edition stage group of an esophageal or EGJ carcinoma, with the row that gave it.

    ``kind`` is clinical (cTNM), pathological (pTNM) or post_neoadjuvant (ypTNM); ``histology``
    squamous_cell_carcinoma or adenocarcinoma. T/N/M accept any case and a c/p/yp prefix matching
    ``kind``. Grade and location are read only by the pTNM rows that use them. Raises
    ``StagingError`` naming each input to fix when a code is unknown or the table has no row.
    """
    inputs = parse(kind=kind, histology=histology, t=t, n=n, m=m, grade=grade, location=location)
    table = TABLES[(inputs.kind, inputs.scheme)]
    match = _find(table, inputs, inputs.t) or _resolve_undivided_t4(table, inputs)
    if match is None:
        raise _undefined(table, inputs)
    return _result(table, inputs, match)
