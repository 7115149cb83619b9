"""Cohort analytics computed in the database, from 10k to 1M patients, against reading the
columns they need.

For each backend (embedded SQLite; PostgreSQL when ``INESCAPE_BENCH_POSTGRES_URL`` names a
server, where a database is created and dropped) and each size, synthetic patients are
written straight into the ``patients`` table (the columns the cohort answers read; the
identifying columns hold placeholders as long as their encrypted values, so rows are as wide
as real ones), PostgreSQL's table is vacuumed and analysed as after a bulk load, then each
measurement runs in a fresh process (cold: no answer cache, a new connection, the modules
imported before the clock starts):

* ``raw``: ``SELECT`` of the five columns survival by stage needs into a polars frame, the
  baseline (1.00x);
* ``counts``: ``GET /cohort/counts?by=histology``'s work, one ``GROUP BY``;
* ``ages``: ``GET /cohort/age``'s work, patients per age, then the histogram and summary;
* ``survival``: ``GET /cohort/survival?group=stage_group&points=500``'s work (a chart's
  request): the tallies per group, time and event, Kaplan-Meier, medians, numbers at risk,
  log-rank, hazard ratios and the summarised curve, encoded as JSON;
* ``per-patient``: the same survival answer from one row per patient (what the endpoints did
  before), only up to ``--per-patient-max``;
* ``http counts`` and ``http survival``: the same two answers over HTTP, each the first request
  of its kind to a fresh ``inescape serve`` on the database (every module loaded, a clinician's
  token, the read audited); the memory columns are then the server's (its peak over the
  requests, and the growth over its RSS when it came up). ``--no-server`` leaves them out.

Reports seconds, **× raw** (the op's time ÷ ``raw``'s at the same size), the process's peak
RSS and the growth of that peak over the RSS after imports, and the JSON size of the survival
answer. Ratios compare ops within one run; absolute times depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from typing import Any

OPS = ("raw", "counts", "ages", "survival", "per-patient")
TODAY = date(2026, 1, 1)


def rss_mb() -> float:
    """This process's peak RSS since ``reset_peak`` (Linux: VmHWM), else since it started."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Forget the peak RSS so far: a child starts with its parent's (the loader's), not its own."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


# --- the data -------------------------------------------------------------------------------
def rows(n: int, seed: int) -> Any:
    """Synthetic patients as column lists (numpy draws; survival by stage, censoring at 2026)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    stages = np.array(["I", "II", "III", "IVA", "IVB"])
    stage = rng.choice(len(stages), n, p=[0.15, 0.25, 0.35, 0.15, 0.10])
    diagnosed = rng.integers(0, 365 * 12, n)  # days after 2013-01-01
    hazard = np.array([0.008, 0.015, 0.03, 0.06, 0.1])[stage]  # per month
    death_month = rng.exponential(1 / hazard)
    follow_days = (TODAY - date(2013, 1, 1)).days - diagnosed
    death_days = (death_month * 30.4375).astype(int)
    dead = death_days < follow_days
    recurred = rng.random(n) < 0.4
    start = date(2013, 1, 1)
    iso = [(start + timedelta(days=int(d))).isoformat() for d in range(365 * 14)]
    for i in range(n):
        d = int(diagnosed[i])
        end = d + int(death_days[i]) if dead[i] else d + int(follow_days[i]) - 30
        rec = d + int(death_days[i] * 0.6) if recurred[i] and dead[i] else None
        yield (
            uuid.UUID(int=int(rng.integers(0, 2**62)) << 64 | i).hex,
            "male" if stage[i] % 2 else "female",
            int(1930 + (i * 7919) % 60),
            ("squamous_cell_carcinoma", "adenocarcinoma", "other")[i % 3],
            ("upper", "middle", "lower", "egj")[i % 4],
            str(stages[stage[i]]),
            iso[d],
            "dead" if dead[i] else "alive",
            iso[max(end, d)],
            iso[end] if dead[i] else None,
            iso[rec] if rec is not None else None,
            "esophageal cancer" if dead[i] and i % 5 else None,
        )


COLUMNS = (
    "id, sex, birth_year, histology, location, stage_group, diagnosis_date, vital_status, "
    "last_follow_up, death_date, recurrence_date, cause_of_death"
)
# Placeholders as long as the stored values (an encrypted field is "v1:<key id>:" and the
# base64 of nonce, text and tag: about 60 characters for a name, 100 for an address).
TOKEN = "v1:k1:" + "A" * 54
IDENTIFYING = {
    "birth_date": TOKEN,
    "given_name": TOKEN,
    "family_name": TOKEN,
    "mrn": TOKEN,
    "national_id": TOKEN,
    "address": "v1:k1:" + "A" * 94,
    "phone": TOKEN,
    "email": "v1:k1:" + "A" * 70,
}


def load(url: str, n: int) -> None:
    """``n`` patients into a migrated database at ``url`` (sync URL)."""
    from sqlalchemy import create_engine, text

    from inescape import migrate

    migrate.upgrade(url)
    engine = create_engine(url)
    now = "2026-01-01 00:00:00"
    names = [c.strip() for c in COLUMNS.split(",")]
    placeholders = ", ".join(f"'{v}'" for v in IDENTIFYING.values())
    insert = text(
        f"INSERT INTO patients ({COLUMNS}, mrn_index, version, {', '.join(IDENTIFYING)}, origin, "
        f"risk_factors, created_at, updated_at) VALUES ({', '.join(':' + c for c in names)}, "
        f":mrn_index, 1, {placeholders}, 'synthetic', '{{}}', '{now}', '{now}')"
    )
    with engine.begin() as conn:
        chunk: list[dict[str, Any]] = []
        for row in rows(n, seed=n):
            chunk.append(dict(zip(names, row, strict=True), mrn_index=row[0] * 2))
            if len(chunk) == 50_000:
                conn.execute(insert, chunk)
                chunk = []
        if chunk:
            conn.execute(insert, chunk)
    if engine.dialect.name == "postgresql":  # as after a bulk load: statistics and the visibility map
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE patients"))
            # A VACUUM straight after the load may leave every page unmarked in the visibility
            # map (seen here on PostgreSQL 15), and then no scan can be index-only: vacuum
            # again until autovacuum's end state is reached.
            for _ in range(5):
                pages, visible = conn.execute(
                    text("SELECT relpages, relallvisible FROM pg_class WHERE relname = 'patients'")
                ).one()
                if visible >= 0.99 * pages:
                    break
                time.sleep(1)
                conn.execute(text("VACUUM patients"))
    engine.dispose()


# --- one measurement, in its own process ---------------------------------------------------
def measure(op: str, url: str) -> dict[str, Any]:
    import msgspec
    import polars as pl
    from sqlalchemy import create_engine, select

    from inescape.modules.patients import analytics
    from inescape.modules.patients.cohort import age_table, count_table, read_for, survival_tallies
    from inescape.modules.patients.models import patients

    engine = create_engine(url)
    reset_peak()
    before = rss_mb()
    started = time.perf_counter()
    size = 0
    with engine.connect() as conn:
        if op == "raw":
            needed = [patients.c[c] for c in ("diagnosis_date", "death_date", "last_follow_up")]
            query = select(*needed, patients.c.vital_status, patients.c.stage_group)
            result = conn.execute(query.where(patients.c.deleted_at.is_(None)))
            names = list(result.keys())
            frame = pl.DataFrame(result.fetchall(), schema=names, orient="row")
            size = frame.height
        elif op == "counts":
            size = count_table(conn, {}, today=TODAY, by=["histology"]).height
        elif op == "ages":
            table = age_table(conn, {}, today=TODAY)
            dist, summary = (
                analytics.age_distribution(table, weight="n"),
                analytics.age_summary(table, weight="n"),
            )
            size = len(msgspec.json.encode({"bins": dist.to_dicts(), "summary": summary.to_dicts()}))
        else:
            if op == "survival":
                frame, _ = survival_tallies(conn, {}, today=TODAY, group="stage_group")
                options: dict[str, Any] = {"group": "stage_group", "weight": "n"}
            else:
                frame = read_for(conn, today=TODAY, wide=True).drop_nulls("stage_group")
                options = {"group": "stage_group"}
            km = analytics.kaplan_meier(frame, **options)
            body = {
                "km": analytics.summarise_curve(km, group="stage_group", points=500).to_dicts(),
                "median": analytics.median_survival(frame, **options).to_dicts(),
                "at_risk": analytics.number_at_risk(
                    frame, times=[0, 12, 24, 36, 48, 60], **options
                ).to_dicts(),
                "log_rank": msgspec.to_builtins(analytics.log_rank(frame, **options)),
                "hazard_ratios": analytics.hazard_ratios(frame, **options).to_dicts(),
            }
            size = len(msgspec.json.encode(body))
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "rss_mb": rss_mb(), "rss_growth_mb": rss_mb() - before, "size": size}


def in_process(op: str, url: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", op, "--url", url],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


# --- the same answers from a fresh server -------------------------------------------------
HTTP_OPS = {
    "http counts": "/api/v1/patients/cohort/counts?by=histology",
    "http survival": "/api/v1/patients/cohort/survival?group=stage_group&points=500",
}


def served(url: str, work: str) -> dict[str, dict[str, Any]]:
    """Each of ``HTTP_OPS`` as the first request of its kind to a fresh ``inescape serve`` on the
    database (every module, a clinician's token, the request audited), and the server's memory:
    its peak RSS over the requests, and the growth over its RSS when it came up."""
    from pathlib import Path

    from bench_http import free_port
    from bench_patients import (
        clean_env,
        create_account,
        encryption_env,
        http_get,
        issue_token,
        start_inescape,
        stop_server,
        wait_ready,
    )

    from inescape.infra.tokens import new_signing_key, write_key_file

    directory = Path(tempfile.mkdtemp(prefix="serve-", dir=work))
    key_file = directory / "jwt-signing.json"
    write_key_file(key_file, [new_signing_key()])
    env = encryption_env() | {
        "INESCAPE_DATABASE_URL": url,
        "INESCAPE_DATA_DIR": str(directory / "data"),
        "INESCAPE_AUTH_SIGNING_KEY_FILE": str(key_file),
        "INESCAPE_LOG_LEVEL": "WARNING",
    }
    headers = {
        "Authorization": f"Bearer {issue_token(key_file, create_account(env))}",
        "Accept": "application/json",
    }
    server = start_inescape(free_port(), clean_env() | env, [], directory)
    results: dict[str, dict[str, Any]] = {}
    try:
        wait_ready(server, "/health", {})
        status_file = Path(f"/proc/{server.proc.pid}/status")

        def memory(field: str) -> float:
            for line in status_file.read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
            return float("nan")

        # the peak from here on, not the start-up's
        with contextlib.suppress(OSError):
            Path(f"/proc/{server.proc.pid}/clear_refs").write_text("5")
        before = memory("VmRSS")
        for op, path in HTTP_OPS.items():
            started = time.perf_counter()
            status, body = http_get(server.port, path, headers)
            seconds = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"{path}: {status} {body[:500]!r}")
            peak = memory("VmHWM")
            results[op] = {
                "seconds": seconds,
                "rss_mb": peak,
                "rss_growth_mb": peak - before,
                "size": len(body),
            }
    finally:
        stop_server(server)
    return results


# --- the run ---------------------------------------------------------------------------------
def databases(backends: list[str]) -> list[tuple[str, str, Any]]:
    """(backend, URL template, cleanup) for each backend there is."""
    found = []
    if "embedded" in backends:
        found.append(("embedded", "sqlite:///{dir}/cohort-{n}.db", None))
    server = os.environ.get("INESCAPE_BENCH_POSTGRES_URL")
    if "postgresql" in backends:
        if server:
            found.append(("postgresql", server, None))
        else:
            print("  (PostgreSQL skipped: set INESCAPE_BENCH_POSTGRES_URL to a server to include it)")
    return found


def postgres_database(server: str, name: str, *, drop: bool = False) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from inescape.migrate import sync_url

    base = make_url(sync_url(server))
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        if not drop:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def verdict(backend: str, measured: dict[int, dict[str, dict[str, Any]]]) -> None:
    """The target at the largest size: counts and survival cold in under 1 s and within 3x of
    the raw read, peak RSS under 500 MB, the growth over the imports sub-linear in patients;
    in-process and as a fresh server's first requests."""
    if not measured:
        return
    small, large = min(measured), max(measured)
    checks = []
    for op in ("counts", "survival", *HTTP_OPS):
        if op not in measured[large]:
            continue
        r = measured[large][op]
        ratio = r["seconds"] / measured[large]["raw"]["seconds"]
        checks.append((f"{op} {r['seconds']:.2f} s < 1 s", r["seconds"] < 1.0))
        checks.append((f"{op} {ratio:.2f}x raw <= 3x", ratio <= 3.0))
        checks.append((f"{op} peak RSS {r['rss_mb']:.0f} MB < 500 MB", r["rss_mb"] < 500))
        if large > small:
            grew = max(r["rss_growth_mb"], 1.0) / max(measured[small][op]["rss_growth_mb"], 1.0)
            checks.append(
                (f"{op} RSS growth x{grew:.1f} for x{large // small} patients", grew < large / small)
            )
    met = all(ok for _, ok in checks)
    print(f"  {backend} at {large:,} patients: {'met' if met else 'NOT met'}")
    for text, ok in checks:
        print(f"    {'ok ' if ok else 'NO '} {text}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--quick", action="store_true", help="10k and 100k patients")
    parser.add_argument("--backends", default="embedded,postgresql")
    parser.add_argument("--per-patient-max", type=int, default=100_000)
    parser.add_argument(
        "--database-prefix", default="inescape_bench_cohort", help="PostgreSQL databases: PREFIX_<patients>"
    )
    parser.add_argument(
        "--no-server", action="store_true", help="only the in-process measurements, not a served process's"
    )
    parser.add_argument("--measure", choices=OPS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.url)))
        return
    sizes = [10_000, 100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    print("Cohort analytics in the database: cold, one fresh process per measurement")
    print("  x raw = the op's seconds / reading the five survival columns raw, same size and backend\n")
    header = (
        f"{'backend':<11}{'patients':>10}  {'op':<14}{'seconds':>9}{'x raw':>8}"
        f"{'peak RSS MB':>13}{'growth MB':>11}{'answer':>10}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as directory:
        for backend, template, _ in databases(args.backends.split(",")):
            measured: dict[int, dict[str, dict[str, Any]]] = {}
            for n in sizes:
                name = f"{args.database_prefix}_{n}"
                if backend == "embedded":
                    url = template.format(dir=directory, n=n)
                else:
                    url = postgres_database(template, name)
                started = time.perf_counter()
                load(url, n)
                loaded = time.perf_counter() - started
                results = {}
                for op in OPS:
                    if op == "per-patient" and n > args.per_patient_max:
                        continue
                    results[op] = in_process(op, url)
                if not args.no_server:
                    results |= served(url, directory)
                raw = results["raw"]["seconds"]
                for op, r in results.items():
                    answer = (
                        f"{r['size'] / 1024:.1f} KB"
                        if op in ("survival", "per-patient", "ages", "http survival")
                        else f"{r['size']}"
                    )
                    print(
                        f"{backend:<11}{n:>10,}  {op:<14}{r['seconds']:>9.3f}{r['seconds'] / raw:>7.2f}x"
                        f"{r['rss_mb']:>13.0f}{r['rss_growth_mb']:>11.0f}{answer:>10}"
                    )
                print(f"{'':<11}{'':>10}  (loaded in {loaded:.1f} s)")
                measured[n] = results
                if backend == "postgresql":
                    postgres_database(template, name, drop=True)
                elif os.path.exists(url.removeprefix("sqlite:///")):
                    os.remove(url.removeprefix("sqlite:///"))
            verdict(backend, measured)


if __name__ == "__main__":
    main()
