"""Lines of a stored object, read chunk by chunk (never the whole object in memory)."""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator

from inescape.modules.generation.api import DatasetsApi


async def lines_of(datasets: DatasetsApi, key: str) -> AsyncIterator[str]:
    """Each line of the UTF-8 object at ``key`` of the datasets (a BOM dropped), without its line ending."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    pending = ""
    async for chunk in datasets.stream(key):
        pending += decoder.decode(chunk)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield line.removesuffix("\r")
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending.removesuffix("\r")


async def logical_lines(lines: AsyncIterator[str]) -> AsyncIterator[tuple[int, str]]:
    """CSV records with their first line's number (1-based): a quoted field may hold line breaks."""
    number, start, held = 0, 0, ""
    async for line in lines:
        number += 1
        held = f"{held}\n{line}" if held else line
        start = start or number
        if held.count('"') % 2 == 0:
            yield start, held
            start, held = 0, ""
    if held:
        yield start, held
