"""A Parquet upload, page by page: the stored object is copied to a local temporary file
(chunk by chunk) and read a slice of rows at a time, only the mapped columns. The cursor is
the row offset, so a resumed job reads on from the first row it had not committed.

Rows are numbered from 1 (``row 1`` is the first row; Parquet has no header row). Cells
become text as a CSV cell would be, so the column mapping and its rejects work alike.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import polars as pl

from inescape.kernel.errors import Invalid
from inescape.modules.collection.connectors.base import Item, Page
from inescape.modules.generation.api import DatasetsApi

_ROW = "__inescape_row__"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # pandas writes a date column as midnight timestamps: it must still read as a date
        if value.time() == time() and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _shape(path: Path, columns: Sequence[str]) -> tuple[int, list[str]]:
    """The number of rows, and which of ``columns`` the file has."""
    try:
        schema = pl.read_parquet_schema(path)
        total = int(pl.scan_parquet(path).select(pl.len()).collect().item())
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise Invalid(f"the upload is not a readable Parquet file: {exc}") from None
    return total, [c for c in dict.fromkeys(columns) if c in schema]


def _rows(path: Path, columns: list[str], offset: int, limit: int) -> list[dict[str, Any]]:
    frame = pl.scan_parquet(path).slice(offset, limit).with_row_index(_ROW).select([_ROW, *columns])
    return list(frame.collect().iter_rows(named=True))


async def _copy(datasets: DatasetsApi, key: str, path: Path) -> None:
    with path.open("wb") as out:
        async for chunk in datasets.stream(key):
            await asyncio.to_thread(out.write, chunk)


def _item(number: int, row: dict[str, Any], id_column: str) -> Item:
    cells = {column: _text(value) for column, value in row.items() if column != _ROW}
    source_id = cells.get(id_column, "").strip() or None
    return Item(location=f"row {number}", source_id=source_id, data=cells)


async def parquet_pages(
    datasets: DatasetsApi, key: str, *, columns: Sequence[str], id_column: str, page_size: int, start: int
) -> AsyncIterator[Page]:
    """Pages of ``page_size`` rows from row offset ``start``; the last one's cursor is None."""
    with tempfile.TemporaryDirectory(prefix="inescape-parquet-") as folder:
        path = Path(folder) / "upload.parquet"
        await _copy(datasets, key, path)
        total, present = await asyncio.to_thread(_shape, path, columns)
        offset = start
        while True:
            rows = await asyncio.to_thread(_rows, path, present, offset, page_size)
            items = [_item(offset + i + 1, row, id_column) for i, row in enumerate(rows)]
            offset += len(rows)
            done = not rows or offset >= total
            fraction = offset / total if total else 1.0
            yield Page(items=items, cursor=None if done else {"rows": offset}, fraction=fraction)
            if done:
                return
