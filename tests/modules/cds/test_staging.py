"""AJCC 8th edition esophagus/EGJ staging (cds.staging), checked against a second encoding.

The expected stages below are typed in again, row by row, from shared/reference/domain.md §1.6-1.8
(Amin et al. 2017, ch. 16; Rice et al. 2017), with explicit code lists instead of the engine's
parsed cells, and compared with the engine on every T × N × M × G × L combination of the vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inescape.kernel.errors import Invalid
from inescape.modules.cds.staging import STAGE_GROUPS, TABLES, StageResult, StagingError, stage

# The platform vocabulary (inescape.modules.patients.vocab), typed again on purpose.
T_ALL = ("TX", "T0", "Tis", "T1", "T1a", "T1b", "T2", "T3", "T4", "T4a", "T4b")
N_ALL = ("NX", "N0", "N1", "N2", "N3")
M_ALL = ("M0", "M1")
G_ALL = ("GX", "G1", "G2", "G3")
LOCATIONS = ("cervical", "upper", "middle", "lower", "egj")
KINDS = ("clinical", "pathological", "post_neoadjuvant")
SCC, ADENO = "squamous_cell_carcinoma", "adenocarcinoma"
FIELDS = {"kind", "histology", "t", "n", "m", "grade", "location"}

# AJCC L of each platform location (domain.md §1.5); None = location unknown.
L_OF = {
    None: "X",
    "cervical": "Upper",
    "upper": "Upper",
    "middle": "Middle",
    "lower": "Lower",
    "egj": "Lower",
}
L_ALL = ("Upper", "Middle", "Lower", "X")

T1_ = ("T1", "T1a", "T1b")
T4_ = ("T4", "T4a", "T4b")
ANY_T = ("TX", *T1_, "T2", "T3", *T4_)  # never Tis; T0 only after neoadjuvant therapy
ANY_T_YP = ("T0", *ANY_T)
N0_2 = ("N0", "N1", "N2")

Key = tuple[str, str, str, str, str]  # T, N, M, G, L
Expected = dict[Key, tuple[str, int]]


class Book:
    """Rows typed from the printed table; the first printed row that covers a cell wins."""

    def __init__(self) -> None:
        self.cells: Expected = {}
        self.clashes: dict[Key, list[int]] = {}

    def add(
        self,
        row: int,
        ts: Iterable[str],
        ns: Iterable[str],
        m: str,
        stage_group: str,
        gs: Iterable[str] = G_ALL,
        ls: Iterable[str] = L_ALL,
    ) -> None:
        for t in ts:
            for n in ns:
                for g in gs:
                    for loc in ls:
                        key = (t, n, m, g, loc)
                        if key in self.cells and self.cells[key][0] != stage_group:
                            self.clashes.setdefault(key, [self.cells[key][1]]).append(row)
                        self.cells.setdefault(key, (stage_group, row))


def scc_clinical() -> Book:
    book = Book()
    book.add(1, ["Tis"], ["N0"], "M0", "0")
    book.add(2, T1_, ["N0", "N1"], "M0", "I")
    book.add(3, ["T2"], ["N0", "N1"], "M0", "II")
    book.add(4, ["T3"], ["N0"], "M0", "II")
    book.add(5, ["T3"], ["N1"], "M0", "III")
    book.add(6, [*T1_, "T2", "T3"], ["N2"], "M0", "III")
    book.add(7, T4_, N0_2, "M0", "IVA")
    book.add(8, ANY_T, ["N3"], "M0", "IVA")
    book.add(9, ANY_T, N_ALL, "M1", "IVB")
    return book


def adeno_clinical() -> Book:
    book = Book()
    book.add(1, ["Tis"], ["N0"], "M0", "0")
    book.add(2, T1_, ["N0"], "M0", "I")
    book.add(3, T1_, ["N1"], "M0", "IIA")
    book.add(4, ["T2"], ["N0"], "M0", "IIB")
    book.add(5, ["T2"], ["N1"], "M0", "III")
    book.add(6, ["T3"], ["N0", "N1"], "M0", "III")
    book.add(7, ["T4a"], ["N0", "N1"], "M0", "III")
    book.add(8, [*T1_, "T2", "T3", "T4a"], ["N2"], "M0", "IVA")
    book.add(9, ["T4b"], N0_2, "M0", "IVA")
    book.add(10, ANY_T, ["N3"], "M0", "IVA")
    book.add(11, ANY_T, N_ALL, "M1", "IVB")
    # Undivided cT4 with N2: T4a (row 8) and T4b (row 9) are both IVA; the engine reports row 8.
    book.add(8, ["T4"], ["N2"], "M0", "IVA")
    return book


def scc_pathological() -> Book:
    book = Book()
    book.add(1, ["Tis"], ["N0"], "M0", "0")
    book.add(2, ["T1a"], ["N0"], "M0", "IA", gs=["G1"])
    book.add(3, ["T1a"], ["N0"], "M0", "IA", gs=["GX"])
    book.add(4, ["T1a"], ["N0"], "M0", "IB", gs=["G2", "G3"])
    book.add(5, ["T1b"], ["N0"], "M0", "IB", gs=["G1", "G2", "G3"])
    book.add(6, ["T1b"], ["N0"], "M0", "IB", gs=["GX"])
    book.add(7, ["T2"], ["N0"], "M0", "IB", gs=["G1"])
    book.add(8, ["T2"], ["N0"], "M0", "IIA", gs=["G2", "G3"])
    book.add(9, ["T2"], ["N0"], "M0", "IIA", gs=["GX"])
    book.add(10, ["T3"], ["N0"], "M0", "IIA", ls=["Lower"])
    book.add(11, ["T3"], ["N0"], "M0", "IIA", gs=["G1"], ls=["Upper", "Middle"])
    book.add(12, ["T3"], ["N0"], "M0", "IIB", gs=["G2", "G3"], ls=["Upper", "Middle"])
    book.add(13, ["T3"], ["N0"], "M0", "IIB", gs=["GX"])
    book.add(14, ["T3"], ["N0"], "M0", "IIB", ls=["X"])
    book.add(15, T1_, ["N1"], "M0", "IIB")
    book.add(16, T1_, ["N2"], "M0", "IIIA")
    book.add(17, ["T2"], ["N1"], "M0", "IIIA")
    book.add(18, ["T2"], ["N2"], "M0", "IIIB")
    book.add(19, ["T3"], ["N1", "N2"], "M0", "IIIB")
    book.add(20, ["T4a"], ["N0", "N1"], "M0", "IIIB")
    book.add(21, ["T4a"], ["N2"], "M0", "IVA")
    book.add(22, ["T4b"], N0_2, "M0", "IVA")
    book.add(23, ANY_T, ["N3"], "M0", "IVA")
    book.add(24, ANY_T, N_ALL, "M1", "IVB")
    # Undivided pT4 with N2: T4a (row 21) and T4b (row 22) are both IVA; the engine reports row 21.
    book.add(21, ["T4"], ["N2"], "M0", "IVA")
    return book


def adeno_pathological() -> Book:
    book = Book()
    book.add(1, ["Tis"], ["N0"], "M0", "0")
    book.add(2, ["T1a"], ["N0"], "M0", "IA", gs=["G1"])
    book.add(3, ["T1a"], ["N0"], "M0", "IA", gs=["GX"])
    book.add(4, ["T1a"], ["N0"], "M0", "IB", gs=["G2"])
    book.add(5, ["T1b"], ["N0"], "M0", "IB", gs=["G1", "G2"])
    book.add(6, ["T1b"], ["N0"], "M0", "IB", gs=["GX"])
    book.add(7, T1_, ["N0"], "M0", "IC", gs=["G3"])
    book.add(8, ["T2"], ["N0"], "M0", "IC", gs=["G1", "G2"])
    book.add(9, ["T2"], ["N0"], "M0", "IIA", gs=["G3"])
    book.add(10, ["T2"], ["N0"], "M0", "IIA", gs=["GX"])
    book.add(11, T1_, ["N1"], "M0", "IIB")
    book.add(12, ["T3"], ["N0"], "M0", "IIB")
    book.add(13, T1_, ["N2"], "M0", "IIIA")
    book.add(14, ["T2"], ["N1"], "M0", "IIIA")
    book.add(15, ["T2"], ["N2"], "M0", "IIIB")
    book.add(16, ["T3"], ["N1", "N2"], "M0", "IIIB")
    book.add(17, ["T4a"], ["N0", "N1"], "M0", "IIIB")
    book.add(18, ["T4a"], ["N2"], "M0", "IVA")
    book.add(19, ["T4b"], N0_2, "M0", "IVA")
    book.add(20, ANY_T, ["N3"], "M0", "IVA")
    book.add(21, ANY_T, N_ALL, "M1", "IVB")
    book.add(18, ["T4"], ["N2"], "M0", "IVA")  # undivided pT4 N2: rows 18 and 19 agree
    return book


def post_neoadjuvant() -> Book:
    book = Book()
    t0_2 = ["T0", *T1_, "T2"]
    book.add(1, t0_2, ["N0"], "M0", "I")
    book.add(2, ["T3"], ["N0"], "M0", "II")
    book.add(3, t0_2, ["N1"], "M0", "IIIA")
    book.add(4, ["T3"], ["N1"], "M0", "IIIB")
    book.add(5, [*t0_2, "T3"], ["N2"], "M0", "IIIB")
    book.add(6, ["T4a"], ["N0"], "M0", "IIIB")
    book.add(7, ["T4a"], ["N1", "N2"], "M0", "IVA")
    book.add(8, ["T4a"], ["NX"], "M0", "IVA")
    book.add(9, ["T4b"], N0_2, "M0", "IVA")
    book.add(10, ANY_T_YP, ["N3"], "M0", "IVA")
    book.add(11, ANY_T_YP, N_ALL, "M1", "IVB")
    book.add(7, ["T4"], ["N1", "N2"], "M0", "IVA")  # undivided ypT4 N1-2: rows 7 and 9 agree
    return book


BOOKS = {
    ("clinical", SCC): scc_clinical(),
    ("clinical", ADENO): adeno_clinical(),
    ("pathological", SCC): scc_pathological(),
    ("pathological", ADENO): adeno_pathological(),
    ("post_neoadjuvant", SCC): post_neoadjuvant(),
    ("post_neoadjuvant", ADENO): post_neoadjuvant(),
}
PRINTED_ROWS = {
    ("clinical", SCC): 9,
    ("clinical", ADENO): 11,
    ("pathological", SCC): 24,
    ("pathological", ADENO): 21,
    ("post_neoadjuvant", SCC): 11,
    ("post_neoadjuvant", ADENO): 11,
}


def expected_stage(
    kind: str, histology: str, t: str, n: str, m: str, grade: str | None, location: str | None
) -> tuple[str, int] | None:
    """What the printed table gives, or None where it gives nothing."""
    uses_grade = kind == "pathological"
    uses_location = kind == "pathological" and histology == SCC
    g = (grade or "GX") if uses_grade else "GX"
    loc = L_OF[location] if uses_location else "X"
    return BOOKS[(kind, histology)].cells.get((t, n, m, g, loc))


def expected_error_fields(kind: str, t: str, n: str, m: str) -> set[str]:
    """The inputs a caller must fix where the table gives nothing (domain.md §1.9)."""
    if (t == "T0") != (kind == "post_neoadjuvant") and t in ("T0", "Tis"):
        return {"t"}  # cT0/pT0 and ypTis have no row
    if t == "Tis":
        if m == "M1":
            return {"t", "m"}
        return {"n"} if n == "NX" else {"t", "n"}
    fields = {"t"} if t == "TX" else set()
    if n == "NX":
        fields |= {"n", "t"} if (kind == "post_neoadjuvant" and t == "T4") else {"n"}
    if fields:
        return fields
    # What remains is a T that must be divided: T4 where T4a and T4b differ, or pT1 with N0.
    assert (t == "T4") or (t == "T1" and n == "N0" and kind == "pathological"), (kind, t, n, m)
    return {"t"}


def every_case() -> Iterable[tuple[str, str, str, str | None, str | None]]:
    for t in T_ALL:
        for n in N_ALL:
            for m in M_ALL:
                for grade in (None, *G_ALL):
                    for location in (None, *LOCATIONS):
                        yield t, n, m, grade, location


def try_stage(**inputs: str | None) -> StageResult | StagingError:
    try:
        return stage(**inputs)  # type: ignore[arg-type]
    except StagingError as error:
        return error


@pytest.mark.parametrize(("kind", "histology"), list(BOOKS))
def test_every_combination_stages_as_the_printed_table_says_or_names_the_inputs_to_fix(
    kind: str, histology: str
) -> None:
    mismatches = []
    for t, n, m, grade, location in every_case():
        got = try_stage(kind=kind, histology=histology, t=t, n=n, m=m, grade=grade, location=location)
        want = expected_stage(kind, histology, t, n, m, grade, location)
        if want is None:
            want_fields = expected_error_fields(kind, t, n, m)
            got_fields = {e["field"] for e in got.errors} if isinstance(got, StagingError) else got
            if got_fields != want_fields:
                mismatches.append((t, n, m, grade, location, want_fields, got_fields))
        elif not isinstance(got, StageResult) or (got.stage_group, got.row) != want:
            mismatches.append((t, n, m, grade, location, want, got))
    assert mismatches == []


def test_the_second_encoding_overlaps_only_in_the_documented_ambiguous_cell() -> None:
    clashes = {key: book.clashes for key, book in BOOKS.items() if book.clashes}

    assert clashes == {("pathological", SCC): {("T3", "N0", "M0", "GX", "Lower"): [10, 13]}}


@pytest.mark.parametrize(("kind", "histology"), list(BOOKS))
def test_each_table_has_the_printed_rows_and_every_row_is_reachable(kind: str, histology: str) -> None:
    reached = set()
    for t, n, m, grade, location in every_case():
        got = try_stage(kind=kind, histology=histology, t=t, n=n, m=m, grade=grade, location=location)
        if isinstance(got, StageResult):
            reached.add(got.row)

    assert len(TABLES[(kind, histology)].rows) == PRINTED_ROWS[(kind, histology)]
    assert reached == set(range(1, PRINTED_ROWS[(kind, histology)] + 1))


def test_every_table_names_its_sources() -> None:
    for table in TABLES.values():
        assert "AJCC Cancer Staging Manual, 8th ed." in table.source
        assert "Rice TW" in table.source
        assert table.name.startswith("AJCC 8th ed. ch. 16, ")


# --- worked examples and explicit rows of domain.md ------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "stage_group", "row"),
    [
        (
            dict(kind="pathological", histology=SCC, t="T3", n="N0", m="M0", grade="G1", location="upper"),
            "IIA",
            11,
        ),
        (
            dict(kind="pathological", histology=SCC, t="T3", n="N0", m="M0", grade="G2", location="middle"),
            "IIB",
            12,
        ),
        (dict(kind="pathological", histology=ADENO, t="T1b", n="N0", m="M0", grade="G3"), "IC", 7),
        (dict(kind="post_neoadjuvant", histology=SCC, t="T0", n="N0", m="M0"), "I", 1),
        (dict(kind="post_neoadjuvant", histology=ADENO, t="T4a", n="NX", m="M0"), "IVA", 8),
        (dict(kind="clinical", histology=ADENO, t="T4b", n="N0", m="M0"), "IVA", 9),
        (dict(kind="clinical", histology=SCC, t="T4", n="N0", m="M0"), "IVA", 7),
        (dict(kind="clinical", histology=SCC, t="Tis", n="N0", m="M0"), "0", 1),
        (dict(kind="pathological", histology=ADENO, t="T1a", n="N1", m="M0", grade="G2"), "IIB", 11),
    ],
)
def test_the_worked_examples_of_the_reference_stage_as_printed(
    inputs: dict[str, str], stage_group: str, row: int
) -> None:
    result = stage(**inputs)

    assert (result.stage_group, result.row) == (stage_group, row)


def test_the_ambiguous_scc_pt3_n0_gx_lower_cell_is_iia_as_seer_decides_and_says_so() -> None:
    result = stage(
        kind="pathological", histology=SCC, t="pT3", n="pN0", m="cM0", grade="GX", location="lower"
    )

    assert (result.stage_group, result.row) == ("IIA", 10)
    assert any("ambiguous" in note and "SEER" in note and "VistA" in note for note in result.notes)


def test_the_ambiguous_cell_also_applies_when_grade_is_missing_and_the_site_is_the_egj() -> None:
    result = stage(kind="pathological", histology=SCC, t="T3", n="N0", m="M0", location="egj")

    assert result.stage_group == "IIA"
    assert any("ambiguous" in note for note in result.notes)
    assert any("grade not given" in note for note in result.notes)
    assert any("egj → AJCC L Lower" in note for note in result.notes)


def test_a_pathological_scc_result_reports_the_row_its_rule_and_the_inputs_it_used() -> None:
    result = stage(kind="pathological", histology=SCC, t="T3", n="N0", m="M0", grade="G2", location="middle")

    assert result.kind == "pathological"
    assert result.scheme == SCC
    assert result.table == "AJCC 8th ed. ch. 16, pathological (pTNM), squamous cell carcinoma"
    assert result.rule == "pT3 N0 M0, G2–3, upper/middle → IIB"
    assert result.used == {"t": "T3", "n": "N0", "m": "M0", "grade": "G2", "location": "middle"}
    assert result.ignored == []
    assert "Amin MB" in result.source


def test_clinical_staging_lists_grade_and_location_as_ignored() -> None:
    result = stage(kind="clinical", histology=SCC, t="cT2", n="cN1", m="cM0", grade="G3", location="lower")

    assert result.stage_group == "II"
    assert result.used == {"t": "T2", "n": "N1", "m": "M0"}
    assert result.ignored == ["grade", "location"]


def test_post_neoadjuvant_staging_ignores_grade_and_uses_one_table_for_both_histologies() -> None:
    scc = stage(kind="post_neoadjuvant", histology=SCC, t="ypT3", n="ypN1", m="M0", grade="G1")
    adeno = stage(kind="post_neoadjuvant", histology=ADENO, t="ypT3", n="ypN1", m="M0", grade="G1")

    assert (scc.stage_group, scc.row, scc.table) == (adeno.stage_group, adeno.row, adeno.table)
    assert scc.ignored == ["grade"]
    assert (scc.scheme, adeno.scheme) == (SCC, ADENO)


def test_a_missing_grade_in_pathological_staging_reads_as_gx_and_says_so() -> None:
    result = stage(kind="pathological", histology=ADENO, t="T2", n="N0", m="M0")

    assert (result.stage_group, result.row) == ("IIA", 10)
    assert result.used["grade"] == "GX"
    assert any("grade not given" in note for note in result.notes)


def test_a_missing_location_for_scc_pt3_n0_reads_as_location_x() -> None:
    result = stage(kind="pathological", histology=SCC, t="T3", n="N0", m="M0", grade="G1")

    assert (result.stage_group, result.row) == ("IIB", 14)
    assert result.used["location"] == "X"
    assert any("location not given" in note for note in result.notes)


def test_a_cervical_tumour_is_an_upper_location() -> None:
    result = stage(
        kind="pathological", histology=SCC, t="T3", n="N0", m="M0", grade="G1", location="cervical"
    )

    assert result.stage_group == "IIA"
    assert any("cervical → AJCC L Upper" in note for note in result.notes)


def test_location_is_ignored_by_scc_rows_that_do_not_use_it() -> None:
    result = stage(kind="pathological", histology=SCC, t="T2", n="N0", m="M0", grade="G1", location="lower")

    assert result.used == {"t": "T2", "n": "N0", "m": "M0", "grade": "G1"}
    assert result.ignored == ["location"]


def test_an_undivided_adenocarcinoma_ct4_with_n2_stages_iva_and_says_why() -> None:
    result = stage(kind="clinical", histology=ADENO, t="T4", n="N2", m="M0")

    assert result.stage_group == "IVA"
    assert any("T4 not divided" in note for note in result.notes)


def test_an_undivided_scc_ct4_is_noted_as_unsplit_in_the_clinical_table() -> None:
    result = stage(kind="clinical", histology=SCC, t="T4", n="N1", m="M0")

    assert any("does not split T4" in note for note in result.notes)


def test_tx_with_n3_is_iva_through_the_any_t_row() -> None:
    result = stage(kind="clinical", histology=ADENO, t="TX", n="N3", m="M0")

    assert (result.stage_group, result.rule) == ("IVA", "Any T N3 M0 → IVA")
    assert any("TX" in note for note in result.notes)


def test_m1_is_ivb_whatever_the_nodes_even_nx() -> None:
    result = stage(kind="pathological", histology=SCC, t="T2", n="NX", m="M1")

    assert result.stage_group == "IVB"
    assert any("NX" in note for note in result.notes)


def test_ypt0_n0_is_stage_i_because_yptnm_has_no_stage_0() -> None:
    result = stage(kind="post_neoadjuvant", histology=ADENO, t="ypT0", n="ypN0", m="M0")

    assert result.stage_group == "I"
    assert any("complete response" in note for note in result.notes)


# --- inputs the tables do not stage ----------------------------------------------------------------


def fields_of(error: StagingError) -> set[str]:
    return {entry["field"] for entry in error.errors}


@pytest.mark.parametrize(
    ("inputs", "fields", "hint"),
    [
        (dict(kind="clinical", histology=SCC, t="TX", n="N0", m="M0"), {"t"}, "assess T"),
        (dict(kind="pathological", histology=SCC, t="T2", n="NX", m="M0"), {"n"}, "assess N"),
        (dict(kind="pathological", histology=SCC, t="T1", n="N0", m="M0", grade="G1"), {"t"}, "T1a or T1b"),
        (dict(kind="pathological", histology=ADENO, t="T1", n="N0", m="M0", grade="G2"), {"t"}, "T1a or T1b"),
        (dict(kind="clinical", histology=SCC, t="Tis", n="N1", m="M0"), {"t", "n"}, "Tis N0 M0"),
        (dict(kind="pathological", histology=ADENO, t="Tis", n="N0", m="M1"), {"t", "m"}, "Tis N0 M0"),
        (dict(kind="post_neoadjuvant", histology=SCC, t="Tis", n="N0", m="M0"), {"t"}, "ypTis"),
        (dict(kind="pathological", histology=SCC, t="T0", n="N0", m="M0"), {"t"}, "post_neoadjuvant"),
        (dict(kind="clinical", histology=ADENO, t="T4", n="N0", m="M0"), {"t"}, "T4a"),
        (dict(kind="post_neoadjuvant", histology=ADENO, t="T4", n="NX", m="M0"), {"t", "n"}, "T4a"),
    ],
)
def test_a_combination_the_tables_do_not_define_names_the_input_to_fix_and_how(
    inputs: dict[str, str], fields: set[str], hint: str
) -> None:
    with pytest.raises(StagingError) as raised:
        stage(**inputs)

    assert fields_of(raised.value) == fields
    assert hint in raised.value.detail


def test_other_histology_is_refused_with_the_rule_for_choosing_a_scheme() -> None:
    with pytest.raises(StagingError) as raised:
        stage(kind="clinical", histology="other", t="T2", n="N0", m="M0")

    assert fields_of(raised.value) == {"histology"}
    message = raised.value.errors[0]["message"]
    assert "adenosquamous" in message
    assert "glandular" in message


def test_a_staging_error_is_an_invalid_input_error() -> None:
    with pytest.raises(Invalid):
        stage(kind="clinical", histology=SCC, t="TX", n="NX", m="M0")


def test_every_unknown_code_is_reported_at_once_with_the_allowed_values() -> None:
    with pytest.raises(StagingError) as raised:
        stage(kind="surgical", histology="sarcoma", t="T5", n="N4", m="M2", grade="G9", location="stomach")

    assert fields_of(raised.value) == FIELDS
    by_field = {entry["field"]: entry["message"] for entry in raised.value.errors}
    assert "clinical, pathological, post_neoadjuvant" in by_field["kind"]
    assert "T4a" in by_field["t"]
    assert "N3" in by_field["n"]
    assert "M1" in by_field["m"]
    assert "egj" in by_field["location"]


def test_grade_g4_is_refused_with_the_eighth_edition_rule() -> None:
    with pytest.raises(StagingError) as raised:
        stage(kind="pathological", histology=ADENO, t="T2", n="N0", m="M0", grade="G4")

    assert "removed in the 8th edition" in raised.value.errors[0]["message"]


def test_a_prefix_that_contradicts_the_kind_is_refused() -> None:
    with pytest.raises(StagingError) as raised:
        stage(kind="clinical", histology=SCC, t="pT2", n="N0", m="M0")

    assert fields_of(raised.value) == {"t"}
    assert "cT2" in raised.value.errors[0]["message"]


# --- spelling variants -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "t", "n", "m", "canonical"),
    [
        ("pathological", "pT3", "pN0", "cM0", ("T3", "N0", "M0")),
        ("pathological", "pt1a", "PN1", "pM0", ("T1a", "N1", "M0")),
        ("post_neoadjuvant", "ypT4a", "ypNX", "M0", ("T4a", "NX", "M0")),
        ("post_neoadjuvant", "YPT0", "ypn0", "ypM0", ("T0", "N0", "M0")),
        ("clinical", " cTIS ", "cn0", "CM0", ("Tis", "N0", "M0")),
        ("clinical", "t1B", "n2", "m1", ("T1b", "N2", "M1")),
    ],
)
def test_prefixed_and_differently_cased_codes_come_back_canonical(
    kind: str, t: str, n: str, m: str, canonical: tuple[str, str, str]
) -> None:
    result = stage(kind=kind, histology=ADENO, t=t, n=n, m=m, grade="g1", location="EGJ")

    assert (result.used["t"], result.used["n"], result.used["m"]) == canonical


def test_kind_histology_grade_and_location_are_case_insensitive() -> None:
    result = stage(
        kind="Pathological",
        histology="SQUAMOUS_CELL_CARCINOMA",
        t="T3",
        n="N0",
        m="M0",
        grade="g2",
        location="Middle",
    )

    assert (result.used["grade"], result.used["location"]) == ("G2", "middle")


# --- any input at all ------------------------------------------------------------------------------


def spelled(codes: tuple[str, ...], prefixes: tuple[str, ...] = ("",)) -> st.SearchStrategy[str]:
    variants = st.sampled_from([str.lower, str.upper, str])
    return st.builds(
        lambda p, code, case: case(p + code), st.sampled_from(prefixes), st.sampled_from(codes), variants
    )


PREFIXES = ("", "c", "p", "yp")
anything = st.text(max_size=6)


@given(
    kind=st.one_of(st.sampled_from(KINDS), anything),
    histology=st.one_of(st.sampled_from((SCC, ADENO, "other")), anything),
    t=st.one_of(spelled(T_ALL, PREFIXES), anything),
    n=st.one_of(spelled(N_ALL, PREFIXES), anything),
    m=st.one_of(spelled(M_ALL, PREFIXES), anything),
    grade=st.one_of(st.none(), spelled(G_ALL), anything),
    location=st.one_of(st.none(), spelled(LOCATIONS), anything),
)
def test_any_input_stages_to_a_known_group_or_raises_a_staging_error_naming_fields(
    kind: str, histology: str, t: str, n: str, m: str, grade: str | None, location: str | None
) -> None:
    result = try_stage(kind=kind, histology=histology, t=t, n=n, m=m, grade=grade, location=location)

    if isinstance(result, StagingError):
        assert result.errors
        assert all(entry["field"] in FIELDS and entry["message"] for entry in result.errors)
    else:
        assert result.stage_group in STAGE_GROUPS
        assert set(result.used) >= {"t", "n", "m"}
