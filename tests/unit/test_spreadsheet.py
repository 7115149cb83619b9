"""CSV cells a spreadsheet would run as formulas are defused; numbers and plain text are not."""

from __future__ import annotations

import io

import polars as pl
import pytest

from inescape.infra.spreadsheet import safe_cell, safe_text_columns


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://x.example","a")', '\'=HYPERLINK("http://x.example","a")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("row 3", "row 3"),
        ("8070/3", "8070/3"),
        ("a=b", "a=b"),
        (None, ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_apostrophe(value, cell):
    assert safe_cell(value) == cell


def test_text_columns_are_defused_and_numbers_kept_as_numbers():
    frame = pl.DataFrame({"name": ["=cmd|' /C calc'!A0", "Reza", None], "delta": [-1.5, 2.0, None]})

    written = io.BytesIO()
    safe_text_columns(frame).write_csv(written)

    assert written.getvalue().decode().splitlines() == [
        "name,delta",
        "'=cmd|' /C calc'!A0,-1.5",
        "Reza,2.0",
        ",",
    ]
