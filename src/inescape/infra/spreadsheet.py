"""CSV cells a spreadsheet will not run: a text cell that begins with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return is read as a formula by Excel, LibreOffice and Google Sheets
(``=HYPERLINK(...)`` in a rejected row's value would be a live link). Such a cell gets a leading
apostrophe, as OWASP's guidance on CSV injection advises; numbers, which are never text cells
here, are left as they are."""

from __future__ import annotations

import polars as pl

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = r"^[=+\-@\t\r]"


def safe_cell(value: object) -> str:
    """The text of one CSV cell, defused when a spreadsheet would take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def safe_text_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text column's formula-like cells defused (for ``write_csv``)."""
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not texts:
        return frame
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_FORMULA_START))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in texts
    )
