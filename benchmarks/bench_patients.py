"""The clinical core against the straightforward design, on the same PostgreSQL, in one run.

Two measurements, each a ratio between variants measured side by side (interleaved in every
repetition), printed with the per-repetition range:

* **bulk**: N patients (9 rows each: patient, condition, staging, biomarker, 3 treatments,
  2 observations) written in one transaction, ``--bulk-batch`` records per call, through

  - ``core``: ``repository.insert_records`` (binary COPY on PostgreSQL);
  - ``core-executemany``: the same function held on its multi-row INSERT path (reference);
  - ``orm-add_all``: SQLAlchemy ORM ``Session.add_all`` of mapped objects (patient objects
    with their children as relationships, client-side ids, sync psycopg), flushed per batch,
    into copies of the same tables in a schema of their own: the baseline (1.00x).

  Same input (``PatientCreate`` structs built before timing), same encryption work per row
  (the tables' ``EncryptedString`` columns encrypt at bind time in every variant; the blind
  indexes come from the same ``patient_row``), same commit; tables truncated between runs.
* **read**: ``GET /api/v1/patients/{id}`` with a clinician's ES256 bearer token, ids rotating
  over ``--read-n`` seeded patients, from

  - ``inescape``: ``inescape serve`` (modules auth + patients): JWT, RBAC guard, rate limiter,
    a hash-chained audit event per read (SQL JSON document store on the same PostgreSQL),
    the encrypted read-through cache (in-process: no Redis configured), JSON access log;
  - ``fastapi``: FastAPI + pydantic + SQLAlchemy async ORM doing the same work per request
    (verify the same token with the same public key, check the role, INSERT an audit row,
    SELECT the patient and its children, decrypting the same columns, return JSON),

  each under uvicorn in a subprocess on 127.0.0.1, loaded by ``wrk`` (or, without it, an
  asyncio HTTP/1.1 client in this process) with ``--read-concurrency`` keep-alive connections.

PostgreSQL is a throwaway cluster (initdb in a temporary directory, a free port, run as the
``postgres`` user when this runs as root, stopped by its own pg_ctl at the end), or the server
in ``INESCAPE_BENCH_POSTGRES_URL`` (a database is created there and dropped afterwards). On a
machine with 2+ CPUs the app server runs on CPU 0 and PostgreSQL + the load generator on CPU 1.

Prints tables and exits 0: nothing here is a timed assertion.

    .venv/bin/python benchmarks/bench_patients.py [--quick] [--bulk-n N] [--read-duration S]
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pydantic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from bench_http import LOOPBACK, free_port, rotated, stop_server, versions  # noqa: E402

from inescape.modules.patients.api import PatientCreate  # noqa: E402
from inescape.modules.patients.models import CHILDREN, name_terms, patients  # noqa: E402

ORM_SCHEMA = "orm_bench"
ISSUER, AUDIENCE = "inescape", "inescape-api"  # the auth module's defaults
READ_PATH = "/api/v1/patients/"
BULK_VARIANTS = ("core", "core-executemany", "orm-add_all")
BULK_BASELINE = "orm-add_all"
READ_VARIANTS = ("inescape", "fastapi")
TABLES = {"patients": patients, **CHILDREN}
FILLED = [*TABLES.values(), name_terms]  # every table the bulk writer fills (names: a search index)


# --------------------------------------------------------------------------- environment


def log(message: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def wait_for_quiet(limit_s: float, threshold: float = 0.6) -> None:
    """Up to ``limit_s`` for the 1-minute load average to fall below ``threshold``."""
    deadline = time.monotonic() + limit_s
    while load_average() >= threshold and time.monotonic() < deadline:
        time.sleep(2)


def pinning(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """taskset prefixes: (app server, PostgreSQL and load generator); empty when not pinning."""
    taskset = shutil.which("taskset")
    if args.no_pin or taskset is None or (os.cpu_count() or 1) < 2:
        return [], []
    return [taskset, "-c", "0"], [taskset, "-c", "1"]


def encryption_env() -> dict[str, str]:
    """Fresh keys, as production passes them (as tests/support/backends.py makes them)."""
    from inescape.infra.crypto.keyring import KeyRing

    ring = json.loads(KeyRing.generate().to_json())
    keys = ",".join(f"{kid}:{key}" for kid, key in ring["keys"].items())
    return {"INESCAPE_ENCRYPTION_KEYS": keys, "INESCAPE_ENCRYPTION_HMAC_KEY": ring["hmac_key"]}


def install_cipher(env: Mapping[str, str]) -> None:
    from inescape.infra.crypto.cipher import FieldCipher
    from inescape.infra.crypto.column import set_field_cipher
    from inescape.infra.crypto.keyring import KeyRing

    ring = KeyRing.parse(env["INESCAPE_ENCRYPTION_KEYS"], hmac_key=env["INESCAPE_ENCRYPTION_HMAC_KEY"])
    set_field_cipher(FieldCipher(ring))


# --------------------------------------------------------------------------- PostgreSQL


def _as_postgres(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the ``postgres`` user then."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


@contextlib.contextmanager
def throwaway_postgres(prefix: list[str], *, durable: bool) -> Iterator[str]:
    """initdb + pg_ctl start in a temporary directory; yields the server's URL."""
    bindir = Path(subprocess.check_output(["pg_config", "--bindir"], text=True).strip())
    root = Path(tempfile.mkdtemp(prefix="inescape-bench-pg-"))
    root.chmod(0o755)
    pg = root / "pg"
    pg.mkdir()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        shutil.chown(pg, "postgres", "postgres")
    data, port = pg / "data", free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    try:
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]
        subprocess.run(_as_postgres([*initdb, "--locale=C.UTF-8", "--no-sync"]), **run)  # type: ignore[arg-type]
        options = [
            f"-c listen_addresses={LOOPBACK} -p {port} -k {pg}",
            "-c shared_buffers=256MB -c max_wal_size=4GB -c checkpoint_timeout=30min",
            "-c max_connections=200",
        ]
        if not durable:
            options.append("-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        pg_ctl = str(bindir / "pg_ctl")
        start = [
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(pg / "server.log"),
            "-w",
            "-o",
            " ".join(options),
            "start",
        ]
        subprocess.run([*prefix, *_as_postgres(start)], **run)  # type: ignore[arg-type]
        try:
            yield f"postgresql://postgres@{LOOPBACK}:{port}/postgres"
        finally:
            stop = _as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"])
            stopped = subprocess.run(stop, capture_output=True, timeout=60)
            pid_file = data / "postmaster.pid"
            if stopped.returncode != 0 and pid_file.exists():  # its own pid, nothing broader
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pid_file.read_text().split()[0]), 3)  # SIGQUIT: immediate stop
    finally:
        shutil.rmtree(root, ignore_errors=True)


def admin_connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


@contextlib.contextmanager
def fresh_database(server_url: str, name: str) -> Iterator[str]:
    with admin_connect(server_url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = server_url.rpartition("/")[0]
    try:
        yield f"{base}/{name}"
    finally:
        with contextlib.suppress(Exception), admin_connect(server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(url: str, env: Mapping[str, str], data_dir: Path) -> None:
    """``inescape migrate`` against ``url``, as an operator runs it."""
    full = clean_env() | dict(env) | {"INESCAPE_DATABASE_URL": url, "INESCAPE_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "inescape", "migrate"], env=full, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        raise RuntimeError(f"inescape migrate failed:\n{done.stderr[-3000:]}")


def clean_env() -> dict[str, str]:
    """This process's environment without any INESCAPE_* setting (each server gets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("INESCAPE_")}


def sync_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


# --------------------------------------------------------------------------- records

GIVEN = ("Reza", "Maryam", "Ali", "Fatemeh", "Hassan", "Zahra", "Mohammad", "Leila", "Omid", "Sara")
FAMILY = ("Karimi", "Hosseini", "Ahmadi", "Rezaei", "Moradi", "Jafari", "Rahimi", "Kazemi", "Sadeghi")


def make_records(n: int, *, seed: int = 7) -> list[PatientCreate]:
    """``n`` records shaped like tests/support/records.py ``RECORD``, identifiers varied."""
    from tests.support.records import RECORD

    base = msgspec.convert(RECORD, PatientCreate)
    rng = random.Random(seed)
    return [
        msgspec.structs.replace(
            base,
            given_name=rng.choice(GIVEN),
            family_name=rng.choice(FAMILY),
            mrn=f"GOL-{i:07d}",
            national_id=f"{rng.randrange(10**10):010d}",
            address=f"{rng.randrange(1, 400)} Shahid Beheshti St, Gonbad-e Kavus",
            phone=f"+98 17 {rng.randrange(1000, 9999)} {rng.randrange(1000, 9999)}",
            synthetic_risk=round(rng.random(), 4),
        )
        for i in range(n)
    ]


def chunks(n: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


# --------------------------------------------------------------------------- ORM mappings


def orm_classes(tables: Mapping[str, Any]) -> tuple[type, dict[str, type]]:
    """Declarative classes over ``tables`` (keys as ``TABLES``): the patient class has one
    relationship per child table, as straightforward ORM code would have."""
    from sqlalchemy.orm import DeclarativeBase, relationship

    class Base(DeclarativeBase):
        pass

    children = {name: type(f"Orm{name.title()}", (Base,), {"__table__": tables[name]}) for name in CHILDREN}
    attrs: dict[str, Any] = {"__table__": tables["patients"]}
    attrs |= {name: relationship(cls) for name, cls in children.items()}
    attrs["outcome"] = property(_outcome)
    return type("OrmPatient", (Base,), attrs), children


def _outcome(patient: Any) -> dict[str, Any] | None:
    if patient.vital_status is None:
        return None
    names = ("vital_status", "last_follow_up", "death_date", "cause_of_death", "recurrence_date")
    return {n: getattr(patient, n) for n in (*names, "recurrence_site")}


def orm_bench_tables() -> dict[str, Any]:
    """Copies of the clinical core's tables (same columns, types, keys, indexes) in their own
    schema, so the ORM baseline writes the same rows without touching the core's tables."""
    from sqlalchemy import MetaData

    metadata = MetaData()
    return {name: table.to_metadata(metadata, schema=ORM_SCHEMA) for name, table in TABLES.items()}


# --------------------------------------------------------------------------- bulk load


@dataclass
class Series:
    values: list[float] = field(default_factory=list)
    extra: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0


def prepare_bulk_db(url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine, text

    tables = orm_bench_tables()
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{ORM_SCHEMA}"'))
        next(iter(tables.values())).metadata.create_all(conn)
    engine.dispose()
    return tables


def reset_bulk_tables(url: str) -> None:
    names = ", ".join(t.name for t in FILLED)
    orm_names = ", ".join(f'"{ORM_SCHEMA}".{t.name}' for t in TABLES.values())
    with admin_connect(url) as conn:
        conn.execute(f"TRUNCATE {names}, {orm_names}")
        with contextlib.suppress(Exception):  # needs superuser; a shared server may refuse
            conn.execute("CHECKPOINT")


def count_rows(url: str, schema: str | None) -> int:
    prefix = f'"{schema}".' if schema else ""
    with admin_connect(url) as conn:
        return sum(
            int(conn.execute(f"SELECT count(*) FROM {prefix}{t.name}").fetchone()[0])  # type: ignore[index]
            for t in TABLES.values()
        )


async def load_core(
    url: str, records: Sequence[PatientCreate], ids: Sequence[str], batch: int
) -> tuple[float, float]:
    """``insert_records`` in one transaction, ``batch`` records per call; (wall, CPU) seconds."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from inescape.infra.db import normalise_url
    from inescape.modules.patients import repository as repo

    engine = create_async_engine(normalise_url(url))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as session:  # a pooled connection before the clock starts
            await session.execute(text("SELECT 1"))
        now = dt.datetime.now(dt.UTC)
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        async with sessions() as session, session.begin():
            for part in chunks(len(records), batch):
                await repo.insert_records(session, records[part], ids=ids[part], now=now)
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        await engine.dispose()


def load_core_executemany(
    url: str, records: Sequence[PatientCreate], ids: Sequence[str], batch: int
) -> tuple[float, float]:
    """The same function held on its executemany path (what it did before COPY)."""
    from inescape.modules.patients.repository import bulk

    saved = bulk.COPY_MIN_RECORDS
    bulk.COPY_MIN_RECORDS = sys.maxsize
    try:
        return asyncio.run(load_core(url, records, ids, batch))
    finally:
        bulk.COPY_MIN_RECORDS = saved


def load_orm(
    url: str,
    classes: tuple[type, dict[str, type]],
    records: Sequence[PatientCreate],
    ids: Sequence[str],
    batch: int,
) -> tuple[float, float]:
    """ORM ``add_all`` of patient objects with their children, flushed per batch, one
    transaction; (wall, CPU) seconds. Row values come from the core's ``patient_row`` (the
    same blind indexes); the encrypted columns encrypt at flush, as in every variant."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from inescape.kernel.ids import new_id
    from inescape.modules.patients.repository import patient_row

    patient_cls, child_cls = classes
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        now = dt.datetime.now(dt.UTC)
        gc.collect()
        started, cpu = time.perf_counter(), time.process_time()
        with Session(engine) as session, session.begin():
            for part in chunks(len(records), batch):
                objects = []
                for record, patient_id in zip(records[part], ids[part], strict=True):
                    patient = patient_cls(**patient_row(record, patient_id=patient_id, now=now))
                    for name, cls in child_cls.items():
                        items = getattr(record, name)
                        setattr(patient, name, [cls(id=new_id(), **msgspec.structs.asdict(i)) for i in items])
                    objects.append(patient)
                session.add_all(objects)
                session.flush()
                session.expunge_all()  # bounded memory: the identity map does not grow with N
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        engine.dispose()


def run_bulk(args: argparse.Namespace, url: str) -> tuple[dict[str, Series], dict[str, int], int]:
    """Every variant once per repetition (order rotated). ``core`` loads ``--bulk-n`` patients;
    the baseline and the executemany reference load ``--baseline-n`` (their rate hardly
    depends on N, and 100k through the ORM takes minutes; ``--baseline-n`` = ``--bulk-n``
    compares at equal N). Returns the series, N per variant and rows per patient."""
    from inescape.kernel.ids import new_id

    sizes = {"core": args.bulk_n, "core-executemany": args.baseline_n, "orm-add_all": args.baseline_n}
    n = max(sizes.values())
    log(f"bulk: building {n} records")
    records = make_records(n)
    ids = [new_id() for _ in range(n)]
    per_patient = 1 + sum(len(getattr(records[0], name)) for name in CHILDREN)
    classes = orm_classes(prepare_bulk_db(url))
    series = {v: Series(extra={"cpu": []}) for v in BULK_VARIANTS}
    variants = tuple(v for v in BULK_VARIANTS if v != "core-executemany" or not args.no_executemany)
    for rep in range(args.bulk_repeats):
        for variant in rotated(variants, rep):
            reset_bulk_tables(url)
            k = sizes[variant]
            if variant == "core":
                seconds, cpu = asyncio.run(load_core(url, records[:k], ids[:k], args.bulk_batch))
            elif variant == "core-executemany":
                seconds, cpu = load_core_executemany(url, records[:k], ids[:k], args.bulk_batch)
            else:
                seconds, cpu = load_orm(url, classes, records[:k], ids[:k], args.bulk_batch)
            written = count_rows(url, ORM_SCHEMA if variant == BULK_BASELINE else None)
            series[variant].errors += written != k * per_patient
            series[variant].values.append(k / seconds)
            series[variant].extra["cpu"].append(cpu / k * 1e6)
            log(
                f"bulk {rep + 1}/{args.bulk_repeats} {variant}: {k} patients, {seconds:.2f} s, {written} rows"
            )
    reset_bulk_tables(url)
    return {v: s for v, s in series.items() if s.values}, sizes, per_patient


# --------------------------------------------------------------------------- the FastAPI reference


class ConditionOut(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(from_attributes=True)
    diagnosis_date: dt.date
    histology: str
    morphology_code: str
    topography_code: str
    location: str
    siewert: str | None
    grade: str
    tumour_length_cm: float | None


class StagingOut(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(from_attributes=True)
    kind: str
    t: str
    n: str
    m: str
    stage_group: str
    assessed_on: dt.date
    grade: str | None
    location: str | None
    method: str


class BiomarkerOut(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(from_attributes=True)
    kind: str
    value: str
    measured_on: dt.date


class TreatmentOut(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(from_attributes=True)
    kind: str
    start_date: dt.date
    end_date: dt.date | None
    intent: str | None
    procedure: str | None
    regimen: str | None
    agents: list[str]
    line: int | None
    margin: str | None
    dose_gy: float | None
    fractions: int | None
    pathologic_complete_response: bool | None
    tumour_regression_grade: int | None


class ObservationOut(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(from_attributes=True)
    code: str
    value: float
    observed_on: dt.date
    unit: str | None


class OutcomeOut(pydantic.BaseModel):
    vital_status: str
    last_follow_up: dt.date
    death_date: dt.date | None
    cause_of_death: str | None
    recurrence_date: dt.date | None
    recurrence_site: str | None


class RiskFactorsOut(pydantic.BaseModel):
    tobacco: str
    pack_years: float | None = None
    alcohol_g_per_day: float | None = None
    opium: bool | None = None
    hot_beverages: bool | None = None
    gerd: bool | None = None
    barretts: bool | None = None
    bmi: float | None = None
    family_history: bool | None = None
    socioeconomic_status: str


class PatientOut(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(from_attributes=True)
    id: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    sex: str
    birth_date: dt.date
    given_name: str | None
    family_name: str | None
    mrn: str | None
    national_id: str | None
    ethnicity: str | None
    country: str | None
    province: str | None
    address: str | None
    phone: str | None
    email: str | None
    origin: str
    source: str | None
    source_record_id: str | None
    synthetic_risk: float | None
    risk_factors: RiskFactorsOut
    conditions: list[ConditionOut]
    staging: list[StagingOut]
    biomarkers: list[BiomarkerOut]
    treatments: list[TreatmentOut]
    observations: list[ObservationOut]
    outcome: OutcomeOut | None


def fastapi_audit_table(metadata: Any) -> Any:
    """The reference's audit table: one plain row per access (no hash chain)."""
    from sqlalchemy import JSON, BigInteger, Column, DateTime, Identity, String, Table

    return Table(
        "fastapi_audit_log",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("time", DateTime(timezone=True), nullable=False),
        Column("user", String(200)),
        Column("roles", JSON, nullable=False),
        Column("action", String(64), nullable=False),
        Column("resource_type", String(32)),
        Column("resource_id", String(64)),
        Column("outcome", String(16), nullable=False),
        Column("client_ip", String(64)),
    )


def build_fastapi(db_url: str, key_file: str) -> Any:
    """The seed's design: FastAPI, pydantic models, SQLAlchemy async ORM, a JWT dependency."""
    from typing import Annotated

    from fastapi import Depends, FastAPI, Header, HTTPException, Request
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import ECKey, KeySet
    from sqlalchemy import MetaData, select
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
    from sqlalchemy.orm import DeclarativeBase, selectinload

    from inescape.infra.db import normalise_url

    patient_cls, _ = orm_classes(TABLES)

    class AuditBase(DeclarativeBase):
        metadata = MetaData()

    audit_cls = type("AuditLog", (AuditBase,), {"__table__": fastapi_audit_table(AuditBase.metadata)})
    private = json.loads(Path(key_file).read_text())["keys"]
    public_keys = KeySet([ECKey.import_key(ECKey.import_key(k).as_dict(private=False)) for k in private])
    claims_registry = jwt.JWTClaimsRegistry(
        leeway=30,
        iss={"essential": True, "value": ISSUER},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
        sub={"essential": True},
    )
    engine = create_async_engine(normalise_url(db_url), pool_size=10, max_overflow=10, pool_pre_ping=True)
    session_factory = async_sessionmaker(engine, expire_on_commit=False)
    load_options = [selectinload(getattr(patient_cls, name)) for name in CHILDREN]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Any) -> Any:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    async def get_session() -> Any:
        async with session_factory() as session:
            yield session

    async def current_claims(authorization: Annotated[str, Header()]) -> dict[str, Any]:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(status_code=401, detail="Not authenticated")
        try:
            decoded = jwt.decode(token, public_keys, algorithms=["ES256"])
            claims_registry.validate(decoded.claims)
        except (JoseError, ValueError, TypeError):
            raise HTTPException(status_code=401, detail="Invalid token") from None
        if decoded.claims.get("typ") != "access":
            raise HTTPException(status_code=401, detail="Not an access token")
        return dict(decoded.claims)

    def require_role(*allowed: str) -> Any:
        async def check(claims: Annotated[dict[str, Any], Depends(current_claims)]) -> dict[str, Any]:
            if not set(allowed) & set(claims.get("roles") or []):
                raise HTTPException(status_code=403, detail="Forbidden")
            return claims

        return check

    clinical_staff = require_role("clinician", "data_steward")

    @app.get("/api/v1/patients/{patient_id}", response_model=PatientOut)
    async def read_patient(
        patient_id: str,
        request: Request,
        claims: Annotated[dict[str, Any], Depends(clinical_staff)],
        session: Annotated[AsyncSession, Depends(get_session)],
    ) -> Any:
        session.add(
            audit_cls(
                time=dt.datetime.now(dt.UTC),
                user=claims.get("name"),
                roles=claims.get("roles"),
                action="patients.read",
                resource_type="patient",
                resource_id=patient_id,
                outcome="success",
                client_ip=request.client.host if request.client else None,
            )
        )
        found = (
            await session.execute(
                select(patient_cls)
                .where(patient_cls.id == patient_id, patient_cls.deleted_at.is_(None))
                .options(*load_options)
            )
        ).scalar_one_or_none()
        await session.commit()
        if found is None:
            raise HTTPException(status_code=404, detail="Patient not found")
        return found

    return app


def serve_fastapi(port: int) -> None:
    """The --serve-fastapi entry point (a subprocess): uvicorn with its defaults."""
    import uvicorn

    install_cipher(os.environ)
    app = build_fastapi(os.environ["BENCH_DATABASE_URL"], os.environ["BENCH_SIGNING_KEY_FILE"])
    uvicorn.run(app, host=LOOPBACK, port=port)


# --------------------------------------------------------------------------- the read path


@dataclass
class Server:
    variant: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path


def start_inescape(port: int, env: Mapping[str, str], prefix: list[str], workdir: Path) -> Server:
    cmd = [*prefix, sys.executable, "-m", "inescape", "serve", "--host", LOOPBACK, "--port", str(port)]
    log_path = workdir / "inescape.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, env=clean_env() | dict(env), stdout=out, stderr=subprocess.STDOUT)
    return Server("inescape", port, proc, log_path)


def start_fastapi(port: int, env: Mapping[str, str], prefix: list[str], workdir: Path) -> Server:
    cmd = [*prefix, sys.executable, str(Path(__file__).resolve()), "--serve-fastapi", "--port", str(port)]
    log_path = workdir / "fastapi.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, env=clean_env() | dict(env), stdout=out, stderr=subprocess.STDOUT)
    return Server("fastapi", port, proc, log_path)


def http_get(port: int, path: str, headers: Mapping[str, str]) -> tuple[int, bytes]:
    import http.client

    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        conn.request("GET", path, headers=dict(headers))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_ready(server: Server, path: str, headers: Mapping[str, str], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            break
        with contextlib.suppress(OSError):
            if http_get(server.port, path, headers)[0] == 200:
                return
        time.sleep(0.3)
    tail = server.log_path.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"{server.variant} did not come up on port {server.port}:\n{tail}")


def create_account(env: Mapping[str, str]) -> str:
    """``inescape create-user dr.bench --role clinician``, as an operator runs it, on the
    database ``env`` configures; the account's id (from ``inescape users list --json``): a
    token's subject must be an account that exists and is active."""
    import secrets

    def cli(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "inescape", *args],
            env=clean_env() | dict(env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"inescape {args[0]} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    password = secrets.token_urlsafe(18) + "-Aa1\n"
    cli("create-user", "dr.bench", "--role", "clinician", "--password-stdin", stdin=password)
    listed = json.loads(cli("users", "list", "--json"))
    rows = listed["items"] if isinstance(listed, dict) else listed
    return str(next(row["id"] for row in rows if row["username"] == "dr.bench"))


def issue_token(key_file: Path, subject: str) -> str:
    """An access token for the clinician ``subject``, with the claims ``Sessions.issue`` puts in
    one (credentials version 0: the account's password was never changed)."""
    from inescape.infra.tokens import TokenSigner, load_or_create_key_file
    from inescape.kernel.ids import new_id

    signer = TokenSigner(load_or_create_key_file(key_file), issuer=ISSUER, audience=AUDIENCE)
    claims = {"roles": ["clinician"], "name": "dr.bench", "sid": new_id(), "typ": "access", "cv": 0}
    token, _ = signer.issue(subject=subject, ttl_s=6 * 3600, claims=claims)
    return token


async def seed(url: str, n: int) -> list[str]:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from inescape.infra.db import normalise_url
    from inescape.kernel.ids import new_id
    from inescape.modules.patients import repository as repo

    records = make_records(n, seed=11)
    ids = [new_id() for _ in records]
    engine = create_async_engine(normalise_url(url))
    try:
        async with async_sessionmaker(engine)() as session, session.begin():
            await repo.insert_records(session, records, ids=ids, now=dt.datetime.now(dt.UTC))
    finally:
        await engine.dispose()
    return ids


def audit_counts(url: str) -> dict[str, int]:
    with admin_connect(url) as conn:
        ines = conn.execute("SELECT count(*) FROM documents WHERE collection = 'audit_logs'").fetchone()
        fast = conn.execute("SELECT count(*) FROM fastapi_audit_log").fetchone()
    return {"inescape": int(ines[0]) if ines else 0, "fastapi": int(fast[0]) if fast else 0}


def compare_bodies(a: bytes, b: bytes) -> list[str]:
    """Field-level differences between the two apps' JSON for one patient (timestamps are
    compared as instants, so ``Z`` and ``+00:00`` spell the same value)."""
    left, right = json.loads(a), json.loads(b)

    def norm(value: Any) -> Any:
        if isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT", value):
            with contextlib.suppress(ValueError):
                return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if isinstance(value, dict):
            return {k: norm(v) for k, v in value.items()}
        if isinstance(value, list):
            return [norm(v) for v in value]
        return value

    return [
        f"{key}: {left.get(key)!r} vs {right.get(key)!r}"
        for key in sorted(set(left) | set(right))
        if norm(left.get(key)) != norm(right.get(key))
    ]


@dataclass
class Burst:
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int


def wrk_script(path: Path, ids: Sequence[str], token: str) -> None:
    listed = ",\n".join(f'  "{i}"' for i in ids)
    path.write_text(
        f"local ids = {{\n{listed}\n}}\n"
        "local i = 0\n"
        f'local headers = {{["Authorization"] = "Bearer {token}", ["Accept"] = "application/json"}}\n'
        "request = function()\n"
        "  i = i % #ids + 1\n"
        f'  return wrk.format("GET", "{READ_PATH}" .. ids[i], headers)\n'
        "end\n"
    )


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk_burst(
    wrk: str, prefix: list[str], port: int, script: Path, duration: float, concurrency: int
) -> Burst:
    seconds = max(1, round(duration))
    url = f"http://{LOOPBACK}:{port}/"
    cmd = [*prefix, wrk, "-t1", f"-c{concurrency}", f"-d{seconds}s", "--latency", "-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*?timeout (\d+)", out)
    if not (rate and total and p50 and p99):
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    bad = (int(non_2xx.group(1)) if non_2xx else 0) + (int(errors.group(1)) if errors else 0)
    return Burst(float(rate.group(1)), _ms(p50.group(1)), _ms(p99.group(1)), int(total.group(1)), bad)


async def raw_burst(
    port: int, ids: Sequence[str], token: str, duration: float, concurrency: int, cap: int
) -> Burst:
    """Keep-alive HTTP/1.1 load from plain asyncio streams, one latency sample per request."""
    conns = [await asyncio.open_connection(LOOPBACK, port) for _ in range(concurrency)]
    latencies: list[float] = []
    bad = 0
    counter = 0
    deadline = 0.0

    async def one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal bad, counter
        counter += 1
        request = (
            f"GET {READ_PATH}{ids[counter % len(ids)]} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
        ).encode()
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
        if length is None:
            raise RuntimeError(f"response without content-length: {head!r}")
        await reader.readexactly(int(length.group(1)))
        latencies.append(time.perf_counter() - started)
        bad += not head.startswith(b"HTTP/1.1 200 ")

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while len(latencies) < cap and time.perf_counter() < deadline:
            await one(reader, writer)

    try:
        deadline = time.perf_counter() + duration
        started = time.perf_counter()
        await asyncio.gather(*(worker(r, w) for r, w in conns))
        elapsed = time.perf_counter() - started
    finally:
        for _, writer in conns:
            writer.close()
    ordered = sorted(latencies)

    def pct(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")

    return Burst(len(latencies) / elapsed, pct(0.50), pct(0.99), len(latencies), bad)


def run_read(args: argparse.Namespace, server_url: str) -> tuple[dict[str, Series], dict[str, Any]]:
    from sqlalchemy import MetaData, create_engine

    from inescape.infra.tokens import new_signing_key, write_key_file

    app_cpu, side_cpu = pinning(args)
    wrk = None if args.load == "raw" else shutil.which("wrk")
    if args.load == "wrk" and wrk is None:
        raise SystemExit("--load wrk: wrk is not on PATH")
    pinned = []
    if app_cpu:
        pinned.append("app servers on CPU 0")
        side = [] if os.environ.get("INESCAPE_BENCH_POSTGRES_URL") else ["PostgreSQL"]
        side += ["wrk"] if wrk else []
        if side:
            pinned.append(f"{' and '.join(side)} on CPU 1")
    info: dict[str, Any] = {"load": "wrk" if wrk else "raw", "pinned": ", ".join(pinned) or "no CPU pinning"}
    series = {v: Series(extra={"p50": [], "p99": [], "requests": []}) for v in READ_VARIANTS}
    with (
        tempfile.TemporaryDirectory(prefix="inescape-bench-read-") as tmp,
        fresh_database(server_url, f"inescape_bench_read_{os.getpid()}") as url,
    ):
        work = Path(tmp)
        keys = encryption_env()
        install_cipher(keys)
        key_file = work / "jwt-signing.json"
        write_key_file(key_file, [new_signing_key()])
        log("read: migrating (inescape migrate) and seeding")
        migrate(url, keys, work / "data-migrate")
        engine = create_engine(sync_url(url))
        fastapi_audit_table(MetaData()).create(engine)
        engine.dispose()
        account = create_account(
            keys | {"INESCAPE_DATABASE_URL": url, "INESCAPE_DATA_DIR": str(work / "data-migrate")}
        )
        ids = asyncio.run(seed(url, args.read_n))
        token = issue_token(key_file, account)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        ines_env = keys | {
            "INESCAPE_DATABASE_URL": url,
            "INESCAPE_DATA_DIR": str(work / "data-inescape"),
            "INESCAPE_MODULES": "auth,patients",
            "INESCAPE_AUTH_SIGNING_KEY_FILE": str(key_file),
            "INESCAPE_RATE_LIMITS": "api=100000/1",  # on, as in production, but never refusing
            "INESCAPE_JOBS_EMBEDDED_WORKER": "false",  # the job worker is not on the request path
        }
        fast_env = keys | {"BENCH_DATABASE_URL": url, "BENCH_SIGNING_KEY_FILE": str(key_file)}
        servers = {
            "inescape": start_inescape(free_port(), ines_env, app_cpu, work),
            "fastapi": start_fastapi(free_port(), fast_env, app_cpu, work),
        }
        try:
            probe = READ_PATH + ids[0]
            for server in servers.values():
                wait_ready(server, probe, headers)
            bodies = {v: http_get(s.port, probe, headers)[1] for v, s in servers.items()}
            info["differences"] = compare_bodies(bodies["inescape"], bodies["fastapi"])
            info["body_bytes"] = {v: len(b) for v, b in bodies.items()}
            script = work / "rotate.lua"
            wrk_script(script, ids, token)

            def burst(variant: str, duration: float) -> Burst:
                port = servers[variant].port
                if wrk:
                    return wrk_burst(wrk, side_cpu, port, script, duration, args.read_concurrency)
                return asyncio.run(
                    raw_burst(port, ids, token, duration, args.read_concurrency, args.read_max_requests)
                )

            for variant in READ_VARIANTS:  # warm-up: pools, caches, every id read once
                burst(variant, args.read_warmup)
            audit_before = audit_counts(url)
            for rep in range(args.read_repeats):
                for variant in rotated(READ_VARIANTS, rep):
                    got = burst(variant, args.read_duration)
                    s = series[variant]
                    s.values.append(got.rate)
                    s.extra["p50"].append(got.p50_ms)
                    s.extra["p99"].append(got.p99_ms)
                    s.extra["requests"].append(got.requests)
                    s.errors += got.bad
                    log(
                        f"read rep {rep + 1}/{args.read_repeats} {variant}: {got.rate:,.0f} req/s, "
                        f"p50 {got.p50_ms:.1f} ms, p99 {got.p99_ms:.1f} ms, {got.bad} bad"
                    )
            audit_after = audit_counts(url)
            info["audit"] = {
                v: (audit_after[v] - audit_before[v], int(sum(series[v].extra["requests"])))
                for v in READ_VARIANTS
            }
        finally:
            for server in servers.values():
                stop_server(server)
    return series, info


# --------------------------------------------------------------------------- the report


def spread(values: Sequence[float], fmt: str = ",.0f") -> str:
    return f"{min(values):{fmt}}..{max(values):{fmt}}"


def paired(a: Sequence[float], b: Sequence[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


def report_bulk(
    series: dict[str, Series], sizes: dict[str, int], per_patient: int, args: argparse.Namespace
) -> dict[str, float]:
    print()
    print(f"Bulk load into PostgreSQL: {per_patient} rows per patient, one transaction per load")
    print(
        f"  {args.bulk_batch:,} records per call, {args.bulk_repeats} repetitions, variants interleaved; "
        "tables truncated (+ CHECKPOINT) before each load; commit included"
    )
    print(
        "  × ORM = variant patients/s ÷ orm-add_all patients/s in the same repetition; client CPU = "
        "this process's CPU per patient (the server's is not in it)"
    )
    print()
    head = (
        f"{'variant':<18}{'patients':>10}{'patients/s':>12}{'rows/s':>10}{'min..max patients/s':>22}"
        f"{'client CPU':>12}{'× ORM':>8}{'per-rep range':>16}{'bad':>5}"
    )
    print(head)
    print("-" * len(head))
    base = series[BULK_BASELINE].values
    medians = {}
    for variant, s in series.items():
        ratios = paired(s.values, base)
        medians[variant] = statistics.median(ratios)
        median = statistics.median(s.values)
        cpu = f"{statistics.median(s.extra['cpu']):,.0f} µs"
        print(
            f"{variant:<18}{sizes[variant]:>10,}{median:>12,.0f}{median * per_patient:>10,.0f}"
            f"{spread(s.values):>22}{cpu:>12}"
            f"{statistics.median(ratios):>7.1f}x{min(ratios):>9.1f}..{max(ratios):.1f}x{s.errors:>5}"
        )
    return medians


def report_read(
    series: dict[str, Series], info: dict[str, Any], args: argparse.Namespace
) -> dict[str, float]:
    ines, fast = series["inescape"], series["fastapi"]
    tool = "wrk (1 thread)" if info["load"] == "wrk" else "asyncio HTTP/1.1 client in this process (no wrk)"
    print()
    print("Read path: GET /api/v1/patients/{id}, clinician ES256 bearer token, loopback HTTP, uvicorn")
    print(
        f"  {args.read_n:,} seeded patients (ids rotate), {args.read_concurrency} keep-alive connections, "
        f"{args.read_duration:g} s per app per repetition, {args.read_repeats} repetitions, interleaved;"
    )
    print(f"  load: {tool}; {info['pinned']}")
    print(
        "  inescape: inescape serve (auth + patients): JWT, RBAC guard, rate limiter, hash-chained "
        "audit event (SQL JSON document store), encrypted read-through cache (in-process), access log"
    )
    print(
        "  fastapi:  FastAPI + pydantic + SQLAlchemy async ORM: JWT (joserfc, same public key), role "
        "check, audit row INSERT, SELECT patient + 5 child tables (selectinload), JSON"
    )
    print()
    head = (
        f"{'app':<10}{'req/s':>10}{'min..max req/s':>18}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'min..max p99':>16}{'audit rows/req':>16}{'non-200':>9}"
    )
    print(head)
    print("-" * len(head))
    for variant, s in series.items():
        written, requests = info["audit"][variant]
        per = written / requests if requests else float("nan")
        print(
            f"{variant:<10}{statistics.median(s.values):>10,.0f}{spread(s.values):>18}"
            f"{statistics.median(s.extra['p50']):>9.1f}{statistics.median(s.extra['p99']):>9.1f}"
            f"{spread(s.extra['p99'], '.1f'):>16}{per:>16.3f}{s.errors:>9}"
        )
    rate = paired(ines.values, fast.values)
    p50 = paired(ines.extra["p50"], fast.extra["p50"])
    p99 = paired(ines.extra["p99"], fast.extra["p99"])
    print()
    print(f"{'inescape ÷ fastapi':<22}{'median':>8}{'per-rep range':>17}")
    for name, values in (("req/s", rate), ("p50 latency", p50), ("p99 latency", p99)):
        print(f"  {name:<20}{statistics.median(values):>7.2f}x{min(values):>10.2f}..{max(values):.2f}x")
    if info["differences"]:
        print(f"\n  WARNING: the two apps' JSON differ: {'; '.join(info['differences'][:5])}")
    else:
        sizes = info["body_bytes"]
        print(
            f"\n  response bodies checked: same fields and values "
            f"({sizes['inescape']} / {sizes['fastapi']} bytes)"
        )
    return {
        "req/s": statistics.median(rate),
        "p99": statistics.median(p99),
    }


def report_targets(bulk: dict[str, float] | None, read: dict[str, float] | None) -> None:
    print()
    print("Targets (ratios within this run)")
    if read is not None:
        ok = read["req/s"] >= 2.0 and read["p99"] <= 1.0
        print(
            f"  read:  >= 2x FastAPI req/s with p99 no worse: {read['req/s']:.2f}x req/s, "
            f"p99 {read['p99']:.2f}x -> {'met' if ok else 'NOT met'}"
        )
    if bulk is not None and "core" in bulk:
        ok = bulk["core"] >= 20.0
        print(f"  bulk:  >= 20x ORM add_all: {bulk['core']:.1f}x -> {'met' if ok else 'NOT met'}")


# --------------------------------------------------------------------------- entry point

QUICK = {
    "bulk_n": 5_000,
    "baseline_n": 2_000,
    "bulk_repeats": 2,
    "read_n": 200,
    "read_duration": 3.0,
    "read_warmup": 1.0,
    "read_repeats": 2,
    "quiet_wait": 0.0,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    add = parser.add_argument
    add("--quick", action="store_true", help="small sizes for a smoke run (< 2 minutes): " + str(QUICK))
    add("--bulk-n", type=int, default=100_000, help="patients the core path loads (default 100000)")
    add(
        "--baseline-n",
        type=int,
        default=10_000,
        help="patients the ORM baseline and the executemany reference load (default 10000; "
        "set it to --bulk-n to compare at equal N, which takes minutes per ORM load)",
    )
    add("--bulk-batch", type=int, default=10_000, help="records per call (default 10000, the API's max)")
    add("--bulk-repeats", type=int, default=2, help="bulk repetitions (default 2)")
    add("--no-executemany", action="store_true", help="skip the core-executemany reference variant")
    add("--read-n", type=int, default=1_000, help="seeded patients for the read path (default 1000)")
    add("--read-duration", type=float, default=10.0, help="seconds per app per repetition (default 10)")
    add("--read-warmup", type=float, default=3.0, help="warm-up seconds per app (default 3)")
    add("--read-repeats", type=int, default=3, help="read repetitions (default 3)")
    add("--read-concurrency", type=int, default=32, help="keep-alive connections (default 32)")
    add("--read-max-requests", type=int, default=200_000, help="cap per burst for the asyncio client")
    add("--load", choices=("auto", "wrk", "raw"), default="auto", help="wrk when on PATH (auto)")
    add("--skip-bulk", action="store_true", help="only the read path")
    add("--skip-read", action="store_true", help="only the bulk load")
    add("--no-pin", action="store_true", help="do not pin processes to CPUs with taskset")
    add(
        "--no-fsync",
        action="store_true",
        help="throwaway PostgreSQL with fsync/synchronous_commit off (default: durable, as in production)",
    )
    add("--quiet-wait", type=float, default=30.0, help="max seconds to wait for load average < 0.6")
    add("--serve-fastapi", action="store_true", help=argparse.SUPPRESS)
    add("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        defaults = {a.dest: a.default for a in parser._actions}
        for key, value in QUICK.items():
            if getattr(args, key) == defaults[key]:
                setattr(args, key, value)
    sizes = (args.bulk_n, args.baseline_n, args.bulk_batch, args.bulk_repeats, args.read_n, args.read_repeats)
    if min(sizes) < 1:
        parser.error("sizes and repetitions must be at least 1")
    if not 0 < args.read_duration <= 120 or args.read_concurrency < 1:
        parser.error("--read-duration must be in (0, 120] and --read-concurrency at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_fastapi:
        serve_fastapi(args.port)
        return 0
    started = time.perf_counter()
    wait_for_quiet(args.quiet_wait)
    load_before = load_average()
    _, side_cpu = pinning(args)
    external = os.environ.get("INESCAPE_BENCH_POSTGRES_URL")
    with contextlib.ExitStack() as stack:
        server_url = external or stack.enter_context(throwaway_postgres(side_cpu, durable=not args.no_fsync))
        with admin_connect(server_url) as conn:
            pg_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
            fsync = conn.execute("SHOW fsync").fetchone()[0]  # type: ignore[index]
            sync_commit = conn.execute("SHOW synchronous_commit").fetchone()[0]  # type: ignore[index]
        bulk = read = None
        if not args.skip_bulk:
            keys = encryption_env()
            install_cipher(keys)
            with fresh_database(server_url, f"inescape_bench_bulk_{os.getpid()}") as url:
                log("bulk: migrating (inescape migrate)")
                with tempfile.TemporaryDirectory(prefix="inescape-bench-bulk-") as tmp:
                    migrate(url, keys, Path(tmp))
                bulk_series, sizes, per_patient = run_bulk(args, url)
        if not args.skip_read:
            read_series, read_info = run_read(args, server_url)
    print()
    print("INEsCape clinical core vs the straightforward design (benchmarks/bench_patients.py)")
    print(f"  {versions()}")
    where = "INESCAPE_BENCH_POSTGRES_URL" if external else "throwaway cluster"
    print(
        f"  PostgreSQL {pg_version} ({where}; fsync={fsync}, synchronous_commit={sync_commit}), TCP loopback"
    )
    if not args.skip_bulk:
        bulk = report_bulk(bulk_series, sizes, per_patient, args)
    if not args.skip_read:
        read = report_read(read_series, read_info, args)
    report_targets(bulk, read)
    print(
        f"\n  load average {load_before:.2f} before, {load_average():.2f} after; total wall time "
        f"{time.perf_counter() - started:.0f} s. Ratios compare variants within this run only; "
        "nothing gates on them."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
