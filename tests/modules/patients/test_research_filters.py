"""The research filters' database step selects every record the exact step can keep: for any
patient's date shift and age, a row the researcher's filter matches on its de-identified values
is among the candidates the stored values select."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from inescape.modules.auth.deid import MAX_SHIFT_DAYS, Deidentifier
from inescape.modules.patients.research import SHIFT_BOUND, Matcher, candidates

TODAY = date(2026, 6, 1)
DEID = Deidentifier(b"0123456789abcdef0123456789abcdef")
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31))
shifts = st.integers(-MAX_SHIFT_DAYS, MAX_SHIFT_DAYS).filter(bool).map(lambda d: timedelta(days=d))


def test_the_widening_covers_the_largest_shift_the_deidentifier_gives():
    offsets = [abs(DEID.date_offset(f"patient-{i}")) for i in range(2000)]

    assert max(offsets) <= SHIFT_BOUND
    assert timedelta(days=MAX_SHIFT_DAYS) == SHIFT_BOUND


@given(real=days, shift=shifts, low=st.none() | days, high=st.none() | days)
def test_a_row_matched_on_its_shifted_date_is_a_candidate_by_its_stored_date(real, shift, low, high):
    filters = {"diagnosed_from": low, "diagnosed_to": high}
    wide = candidates(filters)

    if Matcher(filters, TODAY)({"diagnosis_date": (real + shift).isoformat()}):
        assert wide.get("diagnosed_from") is None or wide["diagnosed_from"] <= real
        assert wide.get("diagnosed_to") is None or real <= wide["diagnosed_to"]


@given(
    born=st.dates(min_value=date(1900, 1, 1), max_value=date(2006, 1, 1)),
    low=st.none() | st.integers(0, 130),
    high=st.none() | st.integers(0, 130),
)
def test_a_row_matched_on_its_shown_age_is_a_candidate_by_its_stored_birth_year(born, low, high):
    filters = {"min_age": low, "max_age": high}
    shown = DEID.deidentify({"birth_date": born.isoformat()}, patient_id="p", as_of=TODAY)
    wide = candidates(filters)

    if Matcher(filters, TODAY)(shown):
        assert wide.get("min_age") is None or born.year <= TODAY.year - wide["min_age"]
        assert wide.get("max_age") is None or born.year >= TODAY.year - wide["max_age"] - 1


@given(born=st.dates(min_value=date(1900, 1, 1), max_value=date(1936, 5, 31)), low=st.integers(0, 130))
def test_every_patient_over_89_is_in_or_out_of_an_age_filter_together(born, low):
    shown = DEID.deidentify({"birth_date": born.isoformat()}, patient_id="p", as_of=TODAY)
    oldest = DEID.deidentify({"birth_date": "1900-01-01"}, patient_id="q", as_of=TODAY)
    matches = Matcher({"min_age": low}, TODAY)

    assert shown == {"research_id": shown["research_id"], "age_group": "90+"}
    assert matches(shown) == matches(oldest)
