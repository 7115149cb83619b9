"""Synthetic generation speed, as ratios measured in the same run.

* **engine vs Faker row by row**: complete records (patient with identifiers and contact data,
  risk factors, condition, cTNM/pTNM/ypTNM staging, biomarkers, treatments, ECOG and labs,
  outcome) from ``inescape.modules.generation`` (numpy/polars, chunked) against a
  straightforward generator of the same fields that calls Faker and ``random`` once per field
  per patient and builds dicts (what a first version would do). Patients per second; target
  >= 100x.
* **to Parquet**: 1M patients (``--parquet-n``) generated and written as Parquet, one file per
  table, chunk by chunk; patients per minute, target >= 1M on this 2-core machine.
* **generate + load into PostgreSQL** (``--load-n`` patients, default 100k): the clinical
  core's bulk path (validation, encryption of identifiers, binary COPY), into a throwaway
  PostgreSQL (fsync on); patients per second, and the share of the time spent generating.

Prints tables and exits 0: nothing here is a timed assertion.

    .venv/bin/python benchmarks/bench_generation.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from bench_http import versions  # noqa: E402

PROFILE = "us-seer"
HISTOLOGY = ("squamous_cell_carcinoma", "adenocarcinoma", "other")
LOCATION = {
    "squamous_cell_carcinoma": ("upper", "middle", "lower"),
    "adenocarcinoma": ("lower", "egj"),
    "other": ("middle",),
}
STAGES = [
    ("T1a", "N0", "M0", "IA"),
    ("T2", "N0", "M0", "II"),
    ("T3", "N1", "M0", "III"),
    ("T3", "N2", "M1", "IVB"),
]


def faker_patient(fake: Any, rng: random.Random, today: dt.date) -> dict[str, Any]:
    """One complete record with the engine's fields (``to_records``' keys), one Faker/random
    call per field: the row-by-row baseline."""
    histology = rng.choices(HISTOLOGY, weights=(0.33, 0.62, 0.05))[0]
    birth = fake.date_of_birth(minimum_age=40, maximum_age=90)
    diagnosed = fake.date_between(start_date=birth + dt.timedelta(days=365 * 39), end_date=today)
    t, n, m, group = rng.choice(STAGES)
    operated = m == "M0" and rng.random() < 0.5
    dead = rng.random() < 0.6
    follow_up = fake.date_between(start_date=diagnosed, end_date=today)
    recurred = not dead and rng.random() < 0.2
    return {
        "sex": rng.choice(("male", "female")),
        "birth_date": birth,
        "given_name": fake.first_name(),
        "family_name": fake.last_name(),
        "mrn": fake.bothify("SEER-#######"),
        "national_id": fake.ssn(),
        "ethnicity": rng.choice(("White", "Black", "Asian", "Hispanic")),
        "country": "US",
        "province": fake.state(),
        "address": fake.address(),
        "phone": fake.phone_number(),
        "email": fake.email(),
        "origin": "synthetic",
        "source": "faker-baseline",
        "source_record_id": fake.uuid4(),
        "synthetic_risk": rng.gauss(0, 1),
        "risk_factors": {
            "tobacco": rng.choice(("never", "former", "current")),
            "pack_years": round(rng.uniform(0, 60), 1),
            "alcohol_g_per_day": round(rng.uniform(0, 80), 1),
            "opium": False,
            "hot_beverages": rng.random() < 0.1,
            "gerd": rng.random() < 0.3,
            "barretts": rng.random() < 0.1,
            "bmi": round(rng.gauss(28, 5), 1),
            "family_history": rng.random() < 0.05,
            "socioeconomic_status": rng.choice(("low", "middle", "high")),
        },
        "conditions": [
            {
                "diagnosis_date": diagnosed,
                "histology": histology,
                "morphology_code": "8140/3" if histology == "adenocarcinoma" else "8070/3",
                "topography_code": "C15.5",
                "location": rng.choice(LOCATION[histology]),
                "siewert": rng.choice(("I", "II", "III")) if histology == "adenocarcinoma" else None,
                "grade": rng.choice(("G1", "G2", "G3")),
                "tumour_length_cm": round(rng.uniform(1, 10), 1),
            }
        ],
        "staging": [
            {"kind": "clinical", "t": t, "n": n, "m": m, "stage_group": group, "assessed_on": diagnosed},
            *(
                [
                    {
                        "kind": "post_neoadjuvant",
                        "t": "T2",
                        "n": "N0",
                        "m": "M0",
                        "stage_group": "I",
                        "assessed_on": diagnosed + dt.timedelta(days=rng.randint(90, 150)),
                    }
                ]
                if operated
                else []
            ),
        ],
        "biomarkers": [
            {"kind": "pdl1_cps", "value": str(rng.randint(0, 50)), "measured_on": diagnosed},
            {"kind": "her2", "value": rng.choice(("0", "1+", "2+ ISH-", "3+")), "measured_on": diagnosed},
        ],
        "treatments": [
            {
                "kind": "systemic",
                "start_date": diagnosed + dt.timedelta(days=rng.randint(10, 40)),
                "end_date": diagnosed + dt.timedelta(days=rng.randint(50, 80)),
                "intent": "neoadjuvant" if operated else "palliative",
                "regimen": rng.choice(("CROSS", "FLOT", "FOLFOX")),
                "agents": [
                    rng.choice(("carboplatin", "oxaliplatin")),
                    rng.choice(("paclitaxel", "docetaxel")),
                ],
                "line": 1,
            },
            *(
                [
                    {
                        "kind": "surgery",
                        "start_date": diagnosed + dt.timedelta(days=rng.randint(90, 150)),
                        "procedure": "esophagectomy",
                        "margin": rng.choice(("R0", "R1")),
                        "pathologic_complete_response": rng.random() < 0.3,
                        "tumour_regression_grade": rng.randint(1, 5),
                    }
                ]
                if operated
                else []
            ),
        ],
        "observations": [
            {"code": "89247-1", "value": rng.randint(0, 2), "observed_on": diagnosed},
            {
                "code": "718-7",
                "value": round(rng.gauss(13, 1.5), 1),
                "unit": "g/dL",
                "observed_on": diagnosed,
            },
        ],
        "outcome": {
            "vital_status": "dead" if dead else "alive",
            "last_follow_up": follow_up,
            "death_date": follow_up if dead else None,
            "cause_of_death": "esophageal cancer" if dead else None,
            "recurrence_date": follow_up if recurred else None,
            "recurrence_site": rng.choice(("local", "distant")) if recurred else None,
        },
    }


def faker_rate(n: int) -> float:
    from faker import Faker

    fake = Faker("en_US")
    Faker.seed(7)
    rng, today = random.Random(7), dt.date.today()
    started = time.perf_counter()
    rows = [faker_patient(fake, rng, today) for _ in range(n)]
    elapsed = time.perf_counter() - started
    assert len(rows) == n
    return n / elapsed


def generator() -> Any:
    """Generation's backend-free ``GeneratorApi``, built by the root."""
    from inescape.modules.generation.api import GeneratorApi
    from inescape.runtime import library

    return library(GeneratorApi)


def engine_rate(n: int) -> tuple[float, int]:
    """Complete records as polars frames (all tables), patients per second and rows made."""
    library = generator()
    profile = library.profile(PROFILE)
    started, rows = time.perf_counter(), 0
    for cohort in library.chunks(profile, n, seed=7):
        rows += sum(
            getattr(cohort, t).height
            for t in ("patients", "conditions", "staging", "biomarkers", "treatments", "observations")
        )
    return n / (time.perf_counter() - started), rows


def parquet_rate(n: int) -> tuple[float, int]:
    library = generator()
    profile = library.profile(PROFILE)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        written, _ = library.write_files(profile, n, seed=7, out=Path(tmp) / "cohort.parquet")
        elapsed = time.perf_counter() - started
        size = sum(p.stat().st_size for p in written)
    return n / elapsed * 60, size


def load_rate(n: int) -> tuple[float, float]:
    """Generate + validate + load into a throwaway PostgreSQL; (patients/s, generating share)."""
    import msgspec
    from bench_patients import encryption_env, fresh_database, install_cipher, migrate, throwaway_postgres

    from inescape.modules.patients.api import PatientCreate

    env = encryption_env()
    install_cipher(env)
    with throwaway_postgres([], durable=True) as server, fresh_database(server, "gen") as url:
        migrate(url, env, Path(tempfile.mkdtemp()))
        return asyncio.run(_load(url, n, generator(), PatientCreate, msgspec))


async def _load(url: str, n: int, library: Any, record_type: Any, msgspec: Any) -> tuple[float, float]:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from inescape.infra.cache import MemoryCache
    from inescape.infra.db import normalise_url
    from inescape.kernel.clock import SystemClock
    from inescape.modules.patients.service import PatientService

    engine = create_async_engine(normalise_url(url))
    # only the bulk path (insert_many in the caller's session) is timed: no database handle needed
    service = PatientService(db=None, uow=None, clock=SystemClock(), cache=MemoryCache())  # type: ignore[arg-type]
    generating = 0.0
    started = time.perf_counter()
    try:
        for cohort in library.chunks(PROFILE, n, seed=7, chunk_size=10_000):
            t0 = time.perf_counter()
            records = [msgspec.convert(r, record_type) for r in library.to_records(cohort)]
            generating += time.perf_counter() - t0
            async with async_sessionmaker(engine)() as session, session.begin():
                await service.insert_many(session=session, records=records)
    finally:
        await engine.dispose()
    return n / (time.perf_counter() - started), generating / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (nox -s bench)")
    parser.add_argument("--parquet-n", type=int, default=None)
    parser.add_argument("--load-n", type=int, default=None)
    args = parser.parse_args(argv)
    faker_n, engine_n = (1_000, 100_000) if args.quick else (3_000, 300_000)
    parquet_n = args.parquet_n or (250_000 if args.quick else 1_000_000)
    load_n = args.load_n or (20_000 if args.quick else 100_000)

    faker, engine, ratios = [], [], []
    for _ in range(3):
        f = faker_rate(faker_n)
        e, rows = engine_rate(engine_n)
        faker.append(f)
        engine.append(e)
        ratios.append(e / f)
    per_minute, size = parquet_rate(parquet_n)
    loaded, share = load_rate(load_n)

    print("INEsCape synthetic generation")
    print(f"  {versions()}\n")
    ratio = statistics.median(ratios)
    verdict = "met" if ratio >= 100 else "NOT met"
    print(f"complete records ({PROFILE}), 3 repetitions, interleaved")
    print(f"  Faker row by row    {statistics.median(faker):>12,.0f} patients/s ({faker_n:,} per repetition)")
    per_patient = rows / engine_n
    print(
        f"  engine, vectorised  {statistics.median(engine):>12,.0f} patients/s ({per_patient:.1f} rows each)"
    )
    spread = f"{min(ratios):.0f}..{max(ratios):.0f}x"
    print(f"  engine ÷ Faker      {ratio:>12.0f}x (per repetition {spread}); target >= 100x: {verdict}\n")
    print(f"to Parquet: {parquet_n:,} patients, every table, {size / 1e6:,.0f} MB")
    verdict = "met" if per_minute >= 1e6 else "NOT met"
    print(f"  {per_minute:,.0f} patients/minute; target >= 1,000,000: {verdict}\n")
    print(f"generate + load into PostgreSQL (bulk path, fsync on): {load_n:,} patients")
    print(f"  {loaded:,.0f} patients/s ({load_n / loaded:.0f} s); generating + converting: {share:.0%} of it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
