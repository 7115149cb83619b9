"""Collection ingest against the straightforward design, on the same database, in one run.

A CSV of ``--rows`` patients (1% of them with an impossible birth date, rejected by both) is
ingested research-only (identifiers dropped, dates shifted, the source id replaced by the
research id) by

* ``collection``: the real path: ``POST /api/v1/collection/uploads`` (the file streamed to
  storage) then ``POST /api/v1/collection/jobs``, run by the app's embedded worker: pages of
  ``--page-size`` rows, each mapped, validated, de-identified and upserted through
  ``patients.api.upsert_records`` with its checkpoint, in one transaction per page. Timed from
  the upload's first byte to the job's end.
* ``orm-per-row``: the baseline (1.00x): the same rows read with the same CSV reader and
  mapped, validated and de-identified by the same functions, then, row by row, a SQLAlchemy
  ORM query for the stored record with that (source, source id) and ``session.add`` of a new
  patient object with its children as relationships (autoflush: one INSERT per row and
  table), a commit per page of the same size, into a freshly migrated database of its own.

``orm-per-row`` runs ``--baseline-rows`` (its rate hardly depends on N; ``--baseline-rows``
= ``--rows`` compares at equal N). Both run on the embedded default (SQLite) and on a
throwaway PostgreSQL (as ``bench_patients.py`` starts one; ``--skip-postgres`` leaves it out).
Prints rows/s for each and the ratio; exits 0: nothing here is a timed assertion.

    .venv/bin/python benchmarks/bench_collection.py [--quick] [--rows N] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import gc
import io
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from bench_http import versions  # noqa: E402
from bench_patients import (  # noqa: E402
    encryption_env,
    fresh_database,
    load_average,
    log,
    migrate,
    orm_classes,
    throwaway_postgres,
    wait_for_quiet,
)

SOURCE = "bench-hospital"
HEADER = ["PatientID", "MRN", "FirstName", "LastName", "DOB", "Sex", "Histology", "Morphology", "Site"]
HEADER += ["Location", "DxDate", "Vital", "LastSeen"]
MAPPING = {
    "source_record_id": "PatientID",
    "mrn": "MRN",
    "given_name": "FirstName",
    "family_name": "LastName",
    "birth_date": "DOB",
    "sex": "Sex",
    "histology": "Histology",
    "condition.morphology_code": "Morphology",
    "condition.topography_code": "Site",
    "location": "Location",
    "diagnosis_date": "DxDate",
    "vital_status": "Vital",
    "outcome.last_follow_up": "LastSeen",
}
KINDS = (
    ("squamous_cell_carcinoma", "8070/3", ("upper", "middle", "lower")),
    ("adenocarcinoma", "8140/3", ("lower", "egj")),
)
SITES = {"upper": "C15.3", "middle": "C15.4", "lower": "C15.5", "egj": "C16.0"}
GIVEN = ("Reza", "Maryam", "Ali", "Fatemeh", "Hassan", "Zahra", "Mohammad", "Leila", "Omid", "Sara")
FAMILY = ("Karimi", "Hosseini", "Ahmadi", "Rezaei", "Moradi", "Jafari", "Rahimi", "Kazemi", "Sadeghi")
BAD_EVERY = 100
VARIANTS = ("collection", "orm-per-row")


def make_csv(n: int, *, seed: int = 7) -> tuple[bytes, int]:
    """``n`` rows; every ``BAD_EVERY``-th has an impossible birth date. (CSV bytes, bad rows)."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    bad = 0
    for i in range(n):
        histology, morphology, locations = rng.choice(KINDS)
        location = rng.choice(locations)
        born = f"{rng.randrange(1935, 1975)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        if i % BAD_EVERY == BAD_EVERY - 1:
            born, bad = "1950-13-40", bad + 1
        diagnosed = f"{rng.randrange(2015, 2024)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        writer.writerow(
            [
                f"P{i:07d}",
                f"MRN-{i:07d}",
                rng.choice(GIVEN),
                rng.choice(FAMILY),
                born,
                rng.choice(("male", "female")),
                histology,
                morphology,
                SITES[location],
                location,
                diagnosed,
                "alive",
                "2024-06-01",
            ]
        )
    return out.getvalue().encode(), bad


# --------------------------------------------------------------------------- the real path


def app_settings(data_dir: Path, database_url: str | None, keys: dict[str, str]) -> Any:
    from inescape.settings import load_settings

    env = {
        "INESCAPE_DATA_DIR": str(data_dir),
        "INESCAPE_LOG_LEVEL": "WARNING",
        "INESCAPE_MODULES": "auth,patients,cds,training,generation,collection",  # what collection requires
    }
    if database_url is not None:
        env |= {"INESCAPE_DATABASE_URL": database_url} | keys
    return load_settings(env)


async def run_collection(settings: Any, body: bytes, page_size: int, baseline: Any) -> dict[str, Any]:
    """The upload and the job through the app; then, on the same runtime (the install's
    de-identifier and validator), ``baseline(runtime)``."""
    from litestar.testing import AsyncTestClient
    from tests.support.auth import bearer, on_app_loop

    from inescape.app import create_app

    app = create_app(settings, worker=True)
    async with AsyncTestClient(app) as client:
        headers = await bearer(client, app, "bench.steward", ["data_steward"])
        services = app.state.services
        with CollectorTime() as collector:
            started = time.perf_counter()
            uploaded = await client.post(
                "/api/v1/collection/uploads?filename=bench.csv",
                content=body,
                headers=headers | {"Content-Type": "text/csv"},
            )
            assert uploaded.status_code == 201, uploaded.text
            upload_s = time.perf_counter() - started
            config = {"upload_id": uploaded.json()["id"], "format": "csv", "mapping": MAPPING}
            job = await client.post(
                "/api/v1/collection/jobs",
                json={
                    "connector": "upload",
                    "source": SOURCE,
                    "config": config | {"page_size": page_size},
                    "research_only": True,
                },
                headers=headers,
            )
            assert job.status_code == 202, job.text
            while True:
                done = await on_app_loop(app, services.jobs.get(job.json()["id"]))
                if done.status.finished:
                    break
                await asyncio.sleep(0.05)
            seconds = time.perf_counter() - started
        assert str(done.status) == "succeeded", done.error
        result = {"seconds": seconds, "upload_s": upload_s, "counts": dict(done.counts)}
        result["collector_s"] = collector.seconds
        result["baseline"] = baseline(app.state.runtime)
    return result


# --------------------------------------------------------------------------- the baseline


class CollectorTime:
    """Seconds Python's cycle collector ran while it is entered (``gc.callbacks``): how much
    of a variant's time went to collecting, at the pace the started runtime set."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def _note(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    def __enter__(self) -> CollectorTime:
        gc.callbacks.append(self._note)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._note)


def run_orm(runtime: Any, url: str, body: bytes, n: int, page_size: int) -> dict[str, Any]:
    """The first ``n`` rows, per row through the ORM; a commit per page."""
    import datetime as dt

    import msgspec
    from sqlalchemy import create_engine, select, text
    from sqlalchemy.orm import Session

    from inescape.kernel.errors import Invalid
    from inescape.kernel.ids import new_id
    from inescape.modules.auth.api import GatewayApi
    from inescape.modules.collection.connectors.base import Item, parse_config
    from inescape.modules.collection.connectors.upload import UploadConnector
    from inescape.modules.collection.deid import deidentified
    from inescape.modules.patients.api import ClinicalCodecs, PatientsApi
    from inescape.modules.patients.models import CHILDREN, patients
    from inescape.modules.patients.repository import patient_row

    patient_cls, child_cls = orm_classes({"patients": patients, **CHILDREN})
    connector = UploadConnector()
    config = parse_config(connector, {"upload_id": "-", "format": "csv", "mapping": MAPPING})
    deid = runtime.facade(GatewayApi).deidentifier
    patients_api, codecs = runtime.facade(PatientsApi), runtime.facade(ClinicalCodecs)
    engine = create_engine(url)
    counts = {"read": 0, "accepted": 0, "rejected": 0}
    lines = io.StringIO(body.decode()).readlines()[: n + 1]
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        started = time.perf_counter()
        with CollectorTime() as collector, Session(engine) as session:
            header: list[str] | None = None
            for number, line in enumerate(lines, start=1):
                cells = next(csv.reader([line.rstrip("\n")]))
                if header is None:
                    header = cells
                    continue
                row = dict(zip(header, cells, strict=False))
                item = Item(location=f"row {number}", source_id=row["PatientID"], data=row)
                counts["read"] += 1
                try:
                    record = connector.to_record(item, config, codecs=codecs)
                    record = msgspec.structs.replace(
                        record, origin="real", source=SOURCE, source_record_id=item.source_id
                    )
                    patients_api.check_record(record)
                    record = deidentified(deid, record)
                except Invalid:
                    counts["rejected"] += 1
                    continue
                stored = session.scalars(
                    select(patient_cls).where(
                        patient_cls.origin == "real",  # type: ignore[attr-defined]  (the key's index)
                        patient_cls.source == SOURCE,  # type: ignore[attr-defined]
                        patient_cls.source_record_id == record.source_record_id,  # type: ignore[attr-defined]
                    )
                ).first()
                if stored is None:
                    now = dt.datetime.now(dt.UTC)
                    digest = codecs.record_digest(record)
                    patient = patient_cls(**patient_row(record, patient_id=new_id(), now=now, digest=digest))
                    for name, cls in child_cls.items():
                        items = getattr(record, name)
                        setattr(patient, name, [cls(id=new_id(), **msgspec.structs.asdict(i)) for i in items])
                    session.add(patient)
                    counts["accepted"] += 1
                if counts["read"] % page_size == 0:
                    session.commit()
                    session.expunge_all()
            session.commit()
        seconds = time.perf_counter() - started
        with engine.connect() as conn:
            stored_rows = int(conn.execute(text("SELECT count(*) FROM patients")).scalar_one())
        assert stored_rows == counts["accepted"], (stored_rows, counts)
        return {"seconds": seconds, "counts": counts, "collector_s": collector.seconds}
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- one backend


@contextlib.contextmanager
def databases(backend: str, server_url: str | None, keys: dict[str, str], tmp: Path) -> Iterator[tuple]:
    """(URL the app uses or None for the embedded default, sync URL for the baseline)."""
    if backend == "sqlite":
        from inescape import migrate as schema

        baseline = f"sqlite:///{tmp / 'baseline.db'}"
        schema.upgrade(baseline)
        yield None, baseline
        return
    assert server_url is not None
    with (
        fresh_database(server_url, f"inescape_bench_col_{os.getpid()}") as app_url,
        fresh_database(server_url, f"inescape_bench_col_orm_{os.getpid()}") as orm_url,
    ):
        for url in (app_url, orm_url):
            migrate(url, keys, tmp)
        yield app_url, orm_url.replace("postgresql://", "postgresql+psycopg://", 1)


def run_backend(args: argparse.Namespace, backend: str, server_url: str | None, body: bytes) -> dict:
    keys = encryption_env()
    with tempfile.TemporaryDirectory(prefix="inescape-bench-col-") as tmp_name:
        tmp = Path(tmp_name)
        with databases(backend, server_url, keys, tmp) as (app_url, orm_url):
            settings = app_settings(tmp / "data", app_url, keys)
            log(f"{backend}: collection job over {args.rows} rows, then the ORM over {args.baseline_rows}")

            def baseline(runtime: Any) -> dict[str, Any]:
                return run_orm(runtime, orm_url, body, args.baseline_rows, args.page_size)

            return asyncio.run(run_collection(settings, body, args.page_size, baseline))


def report(backend: str, where: str, result: dict[str, Any], args: argparse.Namespace) -> float:
    orm = result["baseline"]
    col_rate = args.rows / result["seconds"]
    orm_rate = args.baseline_rows / orm["seconds"]
    ratio = col_rate / orm_rate
    counts = result["counts"]
    print(f"\n{backend} ({where}), research-only, page {args.page_size} rows")
    print(
        f"  collection   {col_rate:>10,.0f} rows/s  ({args.rows:,} rows in {result['seconds']:.1f} s, "
        f"upload {result['upload_s']:.1f} s, collector {result['collector_s']:.1f} s; "
        f"accepted {counts.get('accepted', 0):,}, rejected {counts.get('rejected', 0):,})"
    )
    print(
        f"  orm-per-row  {orm_rate:>10,.0f} rows/s  ({args.baseline_rows:,} rows in {orm['seconds']:.1f} s, "
        f"collector {orm['collector_s']:.1f} s; "
        f"accepted {orm['counts']['accepted']:,}, rejected {orm['counts']['rejected']:,})"
    )
    verdict = "met" if ratio >= 10 else "NOT met"
    print(f"  collection ÷ orm-per-row  {ratio:.1f}x; target >= 10x: {verdict}")
    return ratio


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="20000 rows, the baseline 5000 (nox -s bench)")
    parser.add_argument("--rows", type=int, default=None, help="rows the collection job ingests (100000)")
    parser.add_argument(
        "--baseline-rows", type=int, default=None, help="rows the ORM baseline ingests (10000)"
    )
    parser.add_argument("--page-size", type=int, default=5_000, help="rows per page and commit (5000)")
    parser.add_argument("--skip-postgres", action="store_true", help="the embedded default only")
    parser.add_argument("--no-fsync", action="store_true", help="throwaway PostgreSQL with fsync off")
    parser.add_argument(
        "--quiet-wait", type=float, default=30.0, help="max seconds to wait for a quiet machine"
    )
    args = parser.parse_args(argv)
    args.rows = args.rows or (20_000 if args.quick else 100_000)
    args.baseline_rows = min(args.baseline_rows or (5_000 if args.quick else 10_000), args.rows)
    if min(args.rows, args.baseline_rows) < 1 or not 1 <= args.page_size <= 10_000:
        parser.error("rows must be at least 1 and --page-size in 1..10000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    wait_for_quiet(args.quiet_wait)
    load_before = load_average()
    body, bad = make_csv(args.rows)
    log(f"{args.rows} rows, {len(body) / 1e6:.1f} MB, {bad} bad")
    results = {"sqlite": run_backend(args, "sqlite", None, body)}
    external = os.environ.get("INESCAPE_BENCH_POSTGRES_URL")
    if not args.skip_postgres:
        with contextlib.ExitStack() as stack:
            server = external or stack.enter_context(throwaway_postgres([], durable=not args.no_fsync))
            results["postgresql"] = run_backend(args, "postgresql", server, body)
    print()
    print("INEsCape collection ingest vs per-row ORM (benchmarks/bench_collection.py)")
    print(f"  {versions()}")
    report("sqlite", "the embedded default", results["sqlite"], args)
    if "postgresql" in results:
        where = "INESCAPE_BENCH_POSTGRES_URL" if external else "throwaway cluster"
        fsync = "off" if args.no_fsync and not external else "on"
        report("postgresql", f"{where}, fsync {fsync}", results["postgresql"], args)
    print(
        f"\n  load average {load_before:.2f} before, {load_average():.2f} after; total wall time "
        f"{time.perf_counter() - started:.0f} s. Ratios compare variants within this run only; "
        "nothing gates on them."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
