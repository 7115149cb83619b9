"""Key rotation: move every encrypted value of a table onto the active key, in short batches
while the application keeps running."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from inescape.infra.crypto.cipher import VERSION, FieldCipher
from inescape.infra.crypto.column import EncryptedString
from inescape.infra.crypto.errors import DecryptionFailed

log = logging.getLogger("inescape.crypto")


@dataclasses.dataclass(frozen=True)
class RotationReport:
    """``changed``: rows another writer updated mid-batch (they wrote under the active key)."""

    table: str
    rotated: int = 0
    failed: int = 0
    changed: int = 0
    batches: int = 0


def encrypted_columns(table: sa.Table) -> dict[str, str]:
    """Column name -> context for each ``EncryptedString`` column of ``table``."""
    return {c.name: c.type.context for c in table.columns if isinstance(c.type, EncryptedString)}


def encrypted_tables(metadata: sa.MetaData) -> list[sa.Table]:
    return [t for t in metadata.sorted_tables if encrypted_columns(t)]


async def rotate(
    engine: AsyncEngine,
    cipher: FieldCipher,
    table: sa.Table,
    *,
    columns: Mapping[str, str] | None = None,
    key: str | None = None,
    batch_size: int = 500,
    progress: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    """Re-encrypt, ``batch_size`` rows per short transaction, every value of ``columns``
    (name -> context; default: the table's ``EncryptedString`` columns) not under the active key.

    The application keeps running: each row is updated only if its tokens are still the ones
    read (a concurrent write wins). Stopping is safe; the next run picks up what is left.
    """
    contexts = dict(columns) if columns is not None else encrypted_columns(table)
    pk = key or _single_key(table)
    if not contexts or batch_size < 1:
        raise ValueError("rotate needs encrypted columns and a positive batch size")
    raw = sa.table(
        table.name,
        sa.column(pk, table.c[pk].type),
        *(sa.column(name, sa.Text()) for name in contexts),
        schema=table.schema,
    )
    current = f"{VERSION}:{cipher.keyring.active_id}:"
    stale = sa.or_(
        *(raw.c[n].is_not(None) & ~raw.c[n].startswith(current, autoescape=True) for n in contexts)
    )
    query = sa.select(raw.c[pk], *(raw.c[n] for n in contexts)).where(stale).order_by(raw.c[pk])
    report, last = RotationReport(table.name), None
    while True:
        page = query if last is None else query.where(raw.c[pk] > last)
        async with engine.begin() as conn:
            rows = (await conn.execute(page.limit(batch_size))).all()
            if not rows:
                break
            report = await _rotate_rows(conn, cipher, raw, pk, contexts, rows, report)
        last = rows[-1][0]
        if progress is not None:
            progress(report)
        if len(rows) < batch_size:
            break
    return report


def _single_key(table: sa.Table) -> str:
    keys = list(table.primary_key.columns)
    if len(keys) != 1:
        raise ValueError(f"{table.name} needs `key=`: rotation pages by a single key column")
    return keys[0].name


async def _rotate_rows(
    conn: AsyncConnection,
    cipher: FieldCipher,
    raw: sa.TableClause,
    pk: str,
    contexts: Mapping[str, str],
    rows: Sequence[Row[Any]],
    report: RotationReport,
) -> RotationReport:
    rotated = failed = changed = 0
    names = list(contexts)
    for row in rows:
        pk_value = row[0]
        tokens: list[str | None] = list(row[1:])
        try:
            new = {
                n: cipher.reencrypt(t, context=contexts[n])
                for n, t in zip(names, tokens, strict=True)
                if t is not None
            }
        except DecryptionFailed as exc:
            failed += 1
            log.warning(
                "cannot re-encrypt a row",
                extra={"table": raw.name, "key": str(pk_value), "detail": exc.detail},
            )
            continue
        unchanged = (raw.c[n].is_not_distinct_from(t) for n, t in zip(names, tokens, strict=True))
        result = await conn.execute(sa.update(raw).where(raw.c[pk] == pk_value, *unchanged).values(new))
        if result.rowcount:
            rotated += 1
        else:
            changed += 1
    return dataclasses.replace(
        report,
        rotated=report.rotated + rotated,
        failed=report.failed + failed,
        changed=report.changed + changed,
        batches=report.batches + 1,
    )
