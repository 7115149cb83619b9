"""The AJCC 8th edition chapter 16 stage tables for esophagus and EGJ, as printed, then parsed.

Each table below is the text of shared/reference/domain.md §1.6-1.8, row for row and in the printed
order, so a reviewer can compare them line by line with the manual; ``row`` numbers in results are
positions in these tuples. The cells are expanded into sets of platform codes once, at import.

Sources: Amin MB et al. (eds), AJCC Cancer Staging Manual, 8th ed., Springer 2017, ch. 16,
pp. 185-202; Rice TW et al., J Thorac Oncol 2017;12(1):36-42 (staging primer); Rice TW, Patil DT,
Blackstone EH, Ann Cardiothorac Surg 2017;6(2):119-130. Pathological tables cross-checked against
NCI PDQ Esophageal Cancer Treatment (HP) Tables 2-11 and the SEER EOD 2018 algorithm.
"""

from __future__ import annotations

import re

import msgspec

# Codes copied from inescape.modules.patients.vocab (cds may not import patients: module boundary).
T_CATEGORIES = ("TX", "T0", "Tis", "T1", "T1a", "T1b", "T2", "T3", "T4", "T4a", "T4b")
N_CATEGORIES = ("NX", "N0", "N1", "N2", "N3")
M_CATEGORIES = ("M0", "M1")
GRADES = ("GX", "G1", "G2", "G3")
LOCATIONS = ("cervical", "upper", "middle", "lower", "egj")
STAGING_KINDS = ("clinical", "pathological", "post_neoadjuvant")
HISTOLOGIES = ("squamous_cell_carcinoma", "adenocarcinoma", "other")
SCHEMES = ("squamous_cell_carcinoma", "adenocarcinoma")
STAGE_GROUPS = ("0", "I", "IA", "IB", "IC", "II", "IIA", "IIB", "III", "IIIA", "IIIB", "IVA", "IVB")

# AJCC L (SCC only) is the epicentre's third; the platform records finer sites (domain.md §1.5:
# Upper runs from the cervical esophagus to the azygos vein, Lower includes the EGJ).
L_OF_LOCATION = {"cervical": "Upper", "upper": "Upper", "middle": "Middle", "lower": "Lower", "egj": "Lower"}

# "Any T" never includes Tis: Tis with N+ or M1 is undefined (domain.md §1.9, SEER returns unknown).
# It does include TX, since N3 or M1 stage whatever T is. T0 exists only after neoadjuvant therapy.
ANY_T = frozenset(T_CATEGORIES) - {"Tis", "T0"}
ANY_T_YP = ANY_T | {"T0"}
# Printed layouts by width: cTNM / ypTNM (4 cells), adenocarcinoma pTNM (5), SCC pTNM (6).
_COLUMNS = {
    4: ("T", "N", "M", "stage"),
    5: ("T", "N", "M", "G", "stage"),
    6: ("T", "N", "M", "G", "L", "stage"),
}
_SUBCATEGORIES = {"T1": ("T1a", "T1b"), "T4": ("T4a", "T4b")}

_AMIN = "Amin MB et al. (eds). AJCC Cancer Staging Manual, 8th ed. Springer 2017, ch. 16, pp. 185-202"
_PRIMER = "Rice TW et al. J Thorac Oncol 2017;12(1):36-42 (eighth edition staging primer)"
_RICE_ACS = "Rice TW, Patil DT, Blackstone EH. Ann Cardiothorac Surg 2017;6(2):119-130"

# domain.md §1.6, SCC cTNM [VistA ONCSGA8A logic; layout per Rice 2017]. Columns: T, N, M, stage.
SCC_CLINICAL = (
    ("Tis", "N0", "M0", "0"),
    ("T1", "N0–1", "M0", "I"),
    ("T2", "N0–1", "M0", "II"),
    ("T3", "N0", "M0", "II"),
    ("T3", "N1", "M0", "III"),
    ("T1–3", "N2", "M0", "III"),
    ("T4", "N0–2", "M0", "IVA"),
    ("Any T", "N3", "M0", "IVA"),
    ("Any T", "Any N", "M1", "IVB"),
)
# domain.md §1.6, adenocarcinoma cTNM. Columns: T, N, M, stage.
ADENO_CLINICAL = (
    ("Tis", "N0", "M0", "0"),
    ("T1", "N0", "M0", "I"),
    ("T1", "N1", "M0", "IIA"),
    ("T2", "N0", "M0", "IIB"),
    ("T2", "N1", "M0", "III"),
    ("T3", "N0–1", "M0", "III"),
    ("T4a", "N0–1", "M0", "III"),
    ("T1–4a", "N2", "M0", "IVA"),
    ("T4b", "N0–2", "M0", "IVA"),
    ("Any T", "N3", "M0", "IVA"),
    ("Any T", "Any N", "M1", "IVB"),
)
# domain.md §1.7, SCC pTNM [PDQ Tables 2-6, SEER EOD tnm_8_path_stage_squamous_15592].
# Columns: T, N, M, G, L, stage. Rows 10 and 13 overlap on GX + Lower: see engine._AMBIGUOUS.
SCC_PATHOLOGICAL = (
    ("Tis", "N0", "M0", "N/A", "Any", "0"),
    ("T1a", "N0", "M0", "G1", "Any", "IA"),
    ("T1a", "N0", "M0", "GX", "Any", "IA"),
    ("T1a", "N0", "M0", "G2–3", "Any", "IB"),
    ("T1b", "N0", "M0", "G1–3", "Any", "IB"),
    ("T1b", "N0", "M0", "GX", "Any", "IB"),
    ("T2", "N0", "M0", "G1", "Any", "IB"),
    ("T2", "N0", "M0", "G2–3", "Any", "IIA"),
    ("T2", "N0", "M0", "GX", "Any", "IIA"),
    ("T3", "N0", "M0", "Any", "Lower", "IIA"),
    ("T3", "N0", "M0", "G1", "Upper/middle", "IIA"),
    ("T3", "N0", "M0", "G2–3", "Upper/middle", "IIB"),
    ("T3", "N0", "M0", "GX", "Any", "IIB"),
    ("T3", "N0", "M0", "Any", "Location X", "IIB"),
    ("T1", "N1", "M0", "Any", "Any", "IIB"),
    ("T1", "N2", "M0", "Any", "Any", "IIIA"),
    ("T2", "N1", "M0", "Any", "Any", "IIIA"),
    ("T2", "N2", "M0", "Any", "Any", "IIIB"),
    ("T3", "N1–2", "M0", "Any", "Any", "IIIB"),
    ("T4a", "N0–1", "M0", "Any", "Any", "IIIB"),
    ("T4a", "N2", "M0", "Any", "Any", "IVA"),
    ("T4b", "N0–2", "M0", "Any", "Any", "IVA"),
    ("Any T", "N3", "M0", "Any", "Any", "IVA"),
    ("Any T", "Any N", "M1", "Any", "Any", "IVB"),
)
# domain.md §1.7, adenocarcinoma pTNM [PDQ Tables 7-11, SEER EOD tnm_8_path_stage_adenocarcinoma_30413].
# Columns: T, N, M, G, stage.
ADENO_PATHOLOGICAL = (
    ("Tis", "N0", "M0", "N/A", "0"),
    ("T1a", "N0", "M0", "G1", "IA"),
    ("T1a", "N0", "M0", "GX", "IA"),
    ("T1a", "N0", "M0", "G2", "IB"),
    ("T1b", "N0", "M0", "G1–2", "IB"),
    ("T1b", "N0", "M0", "GX", "IB"),
    ("T1", "N0", "M0", "G3", "IC"),
    ("T2", "N0", "M0", "G1–2", "IC"),
    ("T2", "N0", "M0", "G3", "IIA"),
    ("T2", "N0", "M0", "GX", "IIA"),
    ("T1", "N1", "M0", "Any", "IIB"),
    ("T3", "N0", "M0", "Any", "IIB"),
    ("T1", "N2", "M0", "Any", "IIIA"),
    ("T2", "N1", "M0", "Any", "IIIA"),
    ("T2", "N2", "M0", "Any", "IIIB"),
    ("T3", "N1–2", "M0", "Any", "IIIB"),
    ("T4a", "N0–1", "M0", "Any", "IIIB"),
    ("T4a", "N2", "M0", "Any", "IVA"),
    ("T4b", "N0–2", "M0", "Any", "IVA"),
    ("Any T", "N3", "M0", "Any", "IVA"),
    ("Any T", "Any N", "M1", "Any", "IVB"),
)
# domain.md §1.8, ypTNM, identical for both cell types [VistA STGIND="PT"; Rice 2017 primer].
# Columns: T, N, M, stage. No stage 0: ypT0 N0 (complete response) is stage I.
POST_NEOADJUVANT = (
    ("T0–2", "N0", "M0", "I"),
    ("T3", "N0", "M0", "II"),
    ("T0–2", "N1", "M0", "IIIA"),
    ("T3", "N1", "M0", "IIIB"),
    ("T0–3", "N2", "M0", "IIIB"),
    ("T4a", "N0", "M0", "IIIB"),
    ("T4a", "N1–2", "M0", "IVA"),
    ("T4a", "NX", "M0", "IVA"),
    ("T4b", "N0–2", "M0", "IVA"),
    ("Any T", "N3", "M0", "IVA"),
    ("Any T", "Any N", "M1", "IVB"),
)


class Row(msgspec.Struct, frozen=True, kw_only=True):
    """One printed row; ``grade`` / ``location`` are None where the row accepts any value."""

    number: int
    rule: str
    t: frozenset[str]
    n: frozenset[str]
    m: frozenset[str]
    grade: frozenset[str] | None
    location: frozenset[str] | None
    stage: str


class Table(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    name: str
    kind: str
    prefix: str
    uses_grade: bool
    uses_location: bool
    rows: tuple[Row, ...]
    source: str


def _t_cell(cell: str, any_t: frozenset[str]) -> frozenset[str]:
    """ "T1" covers T1a and T1b; "T1–4a" runs T1, T2, T3 (each with its subcategories), then T4a only."""
    if cell == "Any T":
        return any_t
    span = re.fullmatch(r"T(\d)–(\d)([ab]?)", cell)
    if span is None:
        return frozenset((cell, *_SUBCATEGORIES.get(cell, ())))
    first, last, sub = int(span[1]), int(span[2]), span[3]
    codes: list[str] = []
    for number in range(first, last + 1):
        base = f"T{number}"
        codes += [base + sub] if number == last and sub else [base, *_SUBCATEGORIES.get(base, ())]
    return frozenset(codes)


def _span(cell: str, letter: str) -> frozenset[str]:
    """ "N0–2" → N0, N1, N2; "G2–3" → G2, G3; a single code stands for itself."""
    span = re.fullmatch(rf"{letter}(\d)–(\d)", cell)
    if span is None:
        return frozenset({cell})
    return frozenset(f"{letter}{k}" for k in range(int(span[1]), int(span[2]) + 1))


def _n_cell(cell: str) -> frozenset[str]:
    # "Any N" includes NX: with M1 the stage is IVB whatever the nodes (domain.md §1.9).
    return frozenset(N_CATEGORIES) if cell == "Any N" else _span(cell, "N")


def _grade_cell(cell: str) -> frozenset[str] | None:
    # None: the row does not look at grade ("Any", or "N/A" for Tis).
    return None if cell in ("Any", "N/A") else _span(cell, "G")


def _location_cell(cell: str) -> frozenset[str] | None:
    if cell == "Any":
        return None
    if cell == "Location X":
        return frozenset({"X"})
    return frozenset(part.capitalize() for part in cell.split("/"))


def _rule(prefix: str, named: dict[str, str], stage: str, show_any: frozenset[str]) -> str:
    """The row as one line, "pT3 N0 M0, G2–3, upper/middle → IIB". An "Any" grade or location is
    spelled out only in blocks where a neighbouring row (same T, N, M) depends on that column."""
    t, n, m = named["T"], named["N"], named["M"]
    text = f"{t} {n} {m}" if t.startswith("Any") else f"{prefix}{t} {n} {m}"
    extras: list[str] = []
    for column, any_text in (("G", "any G"), ("L", "any location")):
        cell = named.get(column, "N/A")
        if cell not in ("Any", "N/A"):
            extras.append(cell[0].lower() + cell[1:] if column == "L" else cell)
        elif cell == "Any" and column in show_any:
            extras.append(any_text)
    return ", ".join([text, *extras]) + f" → {stage}"


def _row(
    number: int, cells: tuple[str, ...], prefix: str, any_t: frozenset[str], show_any: frozenset[str]
) -> Row:
    named = dict(zip(_COLUMNS[len(cells)], cells, strict=True))
    grade, location = named.get("G"), named.get("L")
    return Row(
        number=number,
        rule=_rule(prefix, named, named["stage"], show_any),
        t=_t_cell(named["T"], any_t),
        n=_n_cell(named["N"]),
        m=frozenset({named["M"]}),
        grade=None if grade is None else _grade_cell(grade),
        location=None if location is None else _location_cell(location),
        stage=named["stage"],
    )


def _depended_on(printed: tuple[tuple[str, ...], ...]) -> dict[tuple[str, ...], frozenset[str]]:
    """For each (T, N, M) block, the columns (G, L) that some row of the block constrains."""
    blocks: dict[tuple[str, ...], set[str]] = {}
    for cells in printed:
        named = dict(zip(_COLUMNS[len(cells)], cells, strict=True))
        block = blocks.setdefault(cells[:3], set())
        block.update(column for column in ("G", "L") if named.get(column, "Any") not in ("Any", "N/A"))
    return {key: frozenset(columns) for key, columns in blocks.items()}


def _table(key: str, name: str, printed: tuple[tuple[str, ...], ...], source: str) -> Table:
    kind = key.split("/")[0]
    prefix = {"clinical": "c", "pathological": "p", "post_neoadjuvant": "yp"}[kind]
    any_t = ANY_T_YP if kind == "post_neoadjuvant" else ANY_T
    columns = _COLUMNS[len(printed[0])]
    depended_on = _depended_on(printed)
    return Table(
        key=key,
        name=f"AJCC 8th ed. ch. 16, {name}",
        kind=kind,
        prefix=prefix,
        uses_grade="G" in columns,
        uses_location="L" in columns,
        rows=tuple(
            _row(number, cells, prefix, any_t, depended_on[cells[:3]])
            for number, cells in enumerate(printed, start=1)
        ),
        source=source,
    )


_CLINICAL_SOURCE = f"{_AMIN}; {_PRIMER}; {_RICE_ACS} (grade dropped from cTNM)"
_PATH_SOURCE = f"{_AMIN}; {_PRIMER}; NCI PDQ Esophageal Cancer Treatment (HP)"
_YP = _table(
    "post_neoadjuvant/both",
    "post-neoadjuvant pathological (ypTNM), squamous cell carcinoma and adenocarcinoma",
    POST_NEOADJUVANT,
    f"{_AMIN}; {_PRIMER} (ypTNM groups identical for both cell types); {_RICE_ACS}",
)

# Keyed by (kind, scheme); the ypTNM table serves both schemes.
TABLES: dict[tuple[str, str], Table] = {
    ("clinical", "squamous_cell_carcinoma"): _table(
        "clinical/squamous_cell_carcinoma",
        "clinical (cTNM), squamous cell carcinoma",
        SCC_CLINICAL,
        _CLINICAL_SOURCE,
    ),
    ("clinical", "adenocarcinoma"): _table(
        "clinical/adenocarcinoma",
        "clinical (cTNM), adenocarcinoma",
        ADENO_CLINICAL,
        _CLINICAL_SOURCE,
    ),
    ("pathological", "squamous_cell_carcinoma"): _table(
        "pathological/squamous_cell_carcinoma",
        "pathological (pTNM), squamous cell carcinoma",
        SCC_PATHOLOGICAL,
        f"{_PATH_SOURCE} Tables 2-6; SEER EOD 2018 tnm_8_path_stage_squamous_15592",
    ),
    ("pathological", "adenocarcinoma"): _table(
        "pathological/adenocarcinoma",
        "pathological (pTNM), adenocarcinoma",
        ADENO_PATHOLOGICAL,
        f"{_PATH_SOURCE} Tables 7-11; SEER EOD 2018 tnm_8_path_stage_adenocarcinoma_30413",
    ),
    ("post_neoadjuvant", "squamous_cell_carcinoma"): _YP,
    ("post_neoadjuvant", "adenocarcinoma"): _YP,
}
