"""Bulk load into PostgreSQL over several connections: patients/s against the number of
connections, in the same run.

What a generation job with ``load_connections`` does: the cohort is cut into chunks
(``--chunk`` patients), each chunk is loaded by ``repository.insert_records`` (one binary
``COPY`` per table) in a transaction of its own (in the job, the update of the job's row with
the chunk's checkpoint goes in it too: one short statement, left out here), and up to
``connections`` such transactions run at once, each on its own pooled connection.
The records (shaped like ``tests/support/records.py`` ``RECORD``, 9 rows in 6 tables each)
are built before the clock starts; the encryption of their fields and their blind indexes
happen while loading, as in the job. Before each load the tables are truncated; after it the
rows are counted. The connection counts are interleaved within every repetition.

The server is a throwaway cluster (``initdb`` in a temporary directory, durable: fsync on),
or the server in ``INESCAPE_BENCH_POSTGRES_URL`` (a database is created there and dropped).
Scaling needs cores on both sides: the client encrypts in one Python process (one core),
the server runs one backend process per connection. On a machine with 2 cores, expect little.

    .venv/bin/python benchmarks/bench_parallel_load.py [--n 40000] [--chunk 2000]
        [--connections 1,2,4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_patients import (
    FILLED,
    admin_connect,
    chunks,
    encryption_env,
    fresh_database,
    install_cipher,
    log,
    make_records,
    migrate,
    throwaway_postgres,
)

from inescape.modules.patients.api import PatientCreate


def truncate(url: str) -> None:
    with admin_connect(url) as conn:
        conn.execute(f"TRUNCATE {', '.join(t.name for t in FILLED)}")
        with contextlib.suppress(Exception):  # needs superuser; a shared server may refuse
            conn.execute("CHECKPOINT")


def patients_in(url: str) -> int:
    with admin_connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM patients").fetchone()[0])  # type: ignore[index]


async def load(
    url: str, records: Sequence[PatientCreate], ids: Sequence[str], chunk: int, connections: int
) -> float:
    """Every chunk in its own transaction, ``connections`` at once; returns wall seconds."""
    from sqlalchemy import text

    from inescape.infra.db import Database
    from inescape.modules.patients import repository as repo

    db = Database(url, pool_size=connections)
    try:

        async def warm() -> None:
            async with db.sessions() as session:
                await session.execute(text("SELECT 1"))

        await asyncio.gather(*(warm() for _ in range(connections)))  # pooled before the clock
        now = dt.datetime.now(dt.UTC)
        turns = asyncio.Semaphore(connections)

        async def one(part: slice) -> None:
            async with turns, db.sessions() as session, session.begin():
                await repo.insert_records(session, records[part], ids=ids[part], now=now)

        started = time.perf_counter()
        await asyncio.gather(*(one(part) for part in chunks(len(records), chunk)))
        return time.perf_counter() - started
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40_000, help="patients per load")
    parser.add_argument("--chunk", type=int, default=2_000, help="patients per transaction")
    parser.add_argument("--connections", default="1,2,4", help="connection counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    widths = [int(c) for c in args.connections.split(",")]

    from inescape.kernel.ids import new_ids

    external = os.environ.get("INESCAPE_BENCH_POSTGRES_URL")
    rates: dict[int, list[float]] = {c: [] for c in widths}
    with contextlib.ExitStack() as stack:
        server_url = external or stack.enter_context(throwaway_postgres([], durable=True))
        keys = encryption_env()
        install_cipher(keys)
        with (
            fresh_database(server_url, f"inescape_bench_parallel_{os.getpid()}") as url,
            tempfile.TemporaryDirectory() as tmp,
        ):
            log("migrating (inescape migrate)")
            migrate(url, keys, Path(tmp))
            records = make_records(args.n)
            ids = new_ids(args.n)
            for rep in range(args.repeats):
                order = widths if rep % 2 == 0 else list(reversed(widths))
                for width in order:
                    truncate(url)
                    seconds = asyncio.run(load(url, records, ids, args.chunk, width))
                    found = patients_in(url)
                    if found != args.n:
                        raise SystemExit(
                            f"{found} patients after a load of {args.n} over {width} connections"
                        )
                    rates[width].append(args.n / seconds)
                    log(f"repetition {rep + 1}: {width} connection(s) {args.n / seconds:,.0f} patients/s")
    where = "INESCAPE_BENCH_POSTGRES_URL" if external else "throwaway cluster, fsync on"
    print(f"Bulk load into PostgreSQL over several connections ({where})")
    print(
        f"  {args.n} patients (9 rows in 6 tables each) in chunks of {args.chunk}, {args.repeats} repetitions"
    )
    print(f"  this machine: {os.cpu_count()} CPUs (the client encrypts on one of them)\n")
    print(f"{'connections':<13}{'patients/s (median)':>21}{'min..max':>22}{'x one connection':>18}")
    one = statistics.median(rates[widths[0]])
    for width in widths:
        values = rates[width]
        rate, spread = statistics.median(values), f"{min(values):,.0f}..{max(values):,.0f}"
        print(f"{width:<13}{rate:>21,.0f}{spread:>22}{rate / one:>17.2f}x")


if __name__ == "__main__":
    main()
