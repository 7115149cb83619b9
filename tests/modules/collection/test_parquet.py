"""A Parquet upload read page by page: rows numbered from 1, cells as text (a midnight
timestamp as a date), the cursor a row offset, so a job resumed from a cursor reads on from
the first row it had not committed."""

from __future__ import annotations

import asyncio
import io
from datetime import datetime

import polars as pl
import pytest

from inescape.infra.storage import LocalObjectStore
from inescape.kernel.errors import Invalid
from inescape.modules.collection.connectors.parquet import parquet_pages
from inescape.modules.generation.api import BUCKET


class Datasets:
    """The stored objects of the datasets, as ``DatasetsApi`` streams them."""

    def __init__(self, storage: LocalObjectStore) -> None:
        self.storage = storage

    def stream(self, key: str):
        return self.storage.stream(BUCKET, key)


def stored(tmp_path, data: bytes) -> Datasets:
    storage = LocalObjectStore(tmp_path)
    asyncio.run(storage.ensure_buckets())
    asyncio.run(storage.put(BUCKET, "u/payload", data))
    return Datasets(storage)


def parquet(n: int) -> bytes:
    out = io.BytesIO()
    frame = pl.DataFrame(
        {
            "id": [f"p{i}" if i != 3 else None for i in range(1, n + 1)],
            "seen": [datetime(2024, 1, i) for i in range(1, n + 1)],
            "age": list(range(50, 50 + n)),
            "unmapped": ["x"] * n,
        }
    )
    frame.write_parquet(out, row_group_size=2)
    return out.getvalue()


def pages(datasets, *, start: int = 0, columns=("id", "seen", "age", "absent")) -> list:
    async def read() -> list:
        found = parquet_pages(
            datasets, "u/payload", columns=columns, id_column="id", page_size=2, start=start
        )
        return [page async for page in found]

    return asyncio.run(read())


def test_rows_come_a_page_at_a_time_with_the_row_offset_as_cursor(tmp_path):
    found = pages(stored(tmp_path, parquet(5)))

    assert [p.cursor for p in found] == [{"rows": 2}, {"rows": 4}, None]
    assert [i.location for p in found for i in p.items] == [f"row {n}" for n in range(1, 6)]
    first = found[0].items[0]
    assert first.source_id == "p1"
    assert first.data == {"id": "p1", "seen": "2024-01-01", "age": "50"}
    assert found[1].items[0].source_id is None


def test_a_resumed_read_starts_at_the_cursor(tmp_path):
    found = pages(stored(tmp_path, parquet(5)), start=4)

    assert [[i.location for i in p.items] for p in found] == [["row 5"]]
    assert found[-1].cursor is None


def test_a_file_that_is_not_parquet_is_refused(tmp_path):
    with pytest.raises(Invalid, match="not a readable Parquet file"):
        pages(stored(tmp_path, b"PatientID,MRN\np1,M1\n"))
