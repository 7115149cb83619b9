"""Use cases of the clinical core. Callers pass a unit of work; nothing here commits."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import msgspec
from sqlalchemy import insert, update

from inescape.infra.crypto import field_cipher
from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock
from inescape.kernel.errors import Invalid, NotFound
from inescape.kernel.ids import is_id, new_id, new_ids
from inescape.kernel.ports import Cache
from inescape.modules.patients import repository as repo
from inescape.modules.patients.events import PatientCreated, PatientDeleted, PatientUpdated
from inescape.modules.patients.models import CHILDREN, patients
from inescape.modules.patients.schemas import PatientCreate, PatientRecord, PatientSummary, PatientUpdate
from inescape.modules.patients.validation import validate

CACHE_TTL_S = 300
_record_decoder = msgspec.json.Decoder(PatientRecord)


class PatientNotFound(NotFound):
    pass


class PatientService:
    def __init__(self, clock: Clock, cache: Cache) -> None:
        self.clock = clock
        self.cache = cache
        self._inflight: dict[str, asyncio.Future[PatientRecord | None]] = {}

    def _today(self) -> date:
        return self.clock.now().date()

    async def create(self, uow: UnitOfWork, record: PatientCreate) -> str:
        return (await self.create_many(uow, [record]))[0]

    async def create_many(self, uow: UnitOfWork, records: Sequence[PatientCreate]) -> list[str]:
        """All or nothing: every record is validated first, then one insert per table."""
        ids = await self.insert_many(uow.session, records)
        for record, patient_id in zip(records, ids, strict=True):
            uow.publish(PatientCreated(patient_id=patient_id, origin=record.origin, source=record.source))
        return ids

    async def insert_many(self, session: Any, records: Sequence[PatientCreate]) -> list[str]:
        """Validate every record, then write them all in ``session``'s transaction (COPY on
        PostgreSQL); ``Invalid`` naming ``[i].field`` of each problem, and nothing written."""
        today = self._today()
        problems: list[dict[str, str]] = []
        for i, record in enumerate(records):
            try:
                validate(record, today=today)
            except Invalid as exc:
                prefix = f"[{i}]." if len(records) > 1 else ""
                problems += [{"field": prefix + e["field"], "message": e["message"]} for e in exc.errors]
        if problems:
            raise Invalid(
                f"{len({p['field'].split('.')[0] for p in problems})} record(s) are invalid; "
                "nothing was written",
                errors=problems,
            )
        ids = new_ids(len(records))
        await repo.insert_records(session, records, ids=ids, now=self.clock.now())
        return ids

    def check(self, record: PatientCreate) -> None:
        """``Invalid`` naming each field of ``record`` the clinical core refuses."""
        validate(record, today=self._today())

    async def upsert_many(
        self, session: Any, records: Sequence[PatientCreate], *, checked: bool = False
    ) -> list[Upserted]:
        """Real records keyed by (source, source_record_id), in ``session``'s transaction: a new
        one is inserted, a changed one replaces ours (same id, next version), an identical one
        (same SHA-256) is left alone. Every record is validated first (unless the caller did,
        ``checked``); all or nothing."""
        _check_keys(records)
        if not checked:
            for record in records:
                self.check(record)
        found: dict[tuple[str, str], repo.SourceRow] = {}
        for source in {str(r.source) for r in records}:
            ids = [str(r.source_record_id) for r in records if r.source == source]
            found |= {(source, k): v for k, v in (await repo.find_by_source(session, source, ids)).items()}
        now, done, fresh = self.clock.now(), [], []
        for record in records:
            digest = record_digest(record)
            stored = found.get((str(record.source), str(record.source_record_id)))
            if stored is None:
                fresh.append((record, digest))
            elif stored.digest == digest or stored.deleted:  # a deleted record stays deleted
                done.append(Upserted(stored.patient_id, "unchanged"))
            else:
                await repo.replace_record(session, stored.patient_id, record, digest=digest, now=now)
                done.append(Upserted(stored.patient_id, "updated"))
        ids = new_ids(len(fresh))
        await repo.insert_records(
            session, [r for r, _ in fresh], ids=ids, now=now, digests=[d for _, d in fresh]
        )
        return done + [Upserted(i, "created") for i in ids]

    async def get(self, session_factory: Any, patient_id: str) -> PatientRecord:
        """Read-through cache (values encrypted, since they hold identifiers); concurrent
        misses for one patient share one database read (no stampede)."""
        if not is_id(patient_id):
            raise PatientNotFound(f"no patient {patient_id!r}")
        key = f"inescape:patients:record:{patient_id}"
        cached = await self.cache.get(key)
        if cached is not None:
            plain = field_cipher().decrypt(cached.decode(), context="patients.cache")
            return _record_decoder.decode(plain)
        pending = self._inflight.get(patient_id)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._inflight[patient_id] = pending
            try:
                async with session_factory() as session:
                    found = await repo.load(session, patient_id)
                if found is not None:
                    token = field_cipher().encrypt(
                        msgspec.json.encode(found).decode(), context="patients.cache"
                    )
                    await self.cache.set(key, token.encode(), ttl=CACHE_TTL_S)
                pending.set_result(found)
            except BaseException as exc:
                pending.set_exception(exc)
                raise
            finally:
                self._inflight.pop(patient_id, None)
        record = await asyncio.shield(pending)
        if record is None:
            raise PatientNotFound(f"no patient {patient_id}")
        return record

    async def forget(self, patient_id: str) -> None:
        await self.cache.delete(f"inescape:patients:record:{patient_id}")

    async def page(
        self, session_factory: Any, *, filters: Mapping[str, Any], limit: int, cursor: str | None, sort: str
    ) -> tuple[list[PatientSummary], str | None]:
        from sqlalchemy import asc, desc

        column, direction = sort.lstrip("-"), desc if sort.startswith("-") else asc
        query = repo.filtered(filters, today=self._today())
        if cursor:
            if not is_id(cursor):
                raise Invalid(
                    "cursor is not a patient id", errors=[{"field": "cursor", "message": "invalid"}]
                )
            query = query.where(patients.c.id < cursor if direction is desc else patients.c.id > cursor)
        if column != "id":
            raise Invalid(
                "only sorting by id (creation order) is supported with a cursor",
                errors=[{"field": "sort", "message": "use id or -id"}],
            )
        query = query.order_by(direction(patients.c.id)).limit(limit + 1)
        async with session_factory() as session:
            rows = (await session.execute(query)).all()
        items = [repo.summary_of(r) for r in rows[:limit]]
        return items, (items[-1].id if len(rows) > limit else None)

    async def update(self, uow: UnitOfWork, patient_id: str, change: PatientUpdate) -> int:
        current = await repo.load(uow.session, patient_id) if is_id(patient_id) else None
        if current is None:
            raise PatientNotFound(f"no patient {patient_id}")
        values = {
            k: v
            for k, v in msgspec.structs.asdict(change).items()
            if v is not None and k not in ("risk_factors", "outcome")
        }
        if change.risk_factors is not None:
            values["risk_factors"] = msgspec.to_builtins(change.risk_factors)
        merged = msgspec.structs.replace(
            _as_create(current),
            **{k: getattr(change, k) for k in ("outcome", "risk_factors") if getattr(change, k) is not None},
        )
        validate(merged, today=self._today())
        if change.outcome is not None:
            values |= repo.outcome_columns(change.outcome)
        version = await repo.touch(uow.session, patient_id, values, now=self.clock.now())
        assert version is not None
        uow.publish(PatientUpdated(patient_id=patient_id, version=version))
        uow.after_commit(lambda: self.forget(patient_id))
        return version

    async def add(self, uow: UnitOfWork, patient_id: str, kind: str, item: msgspec.Struct) -> int:
        """Add a staging, treatment, observation, biomarker or condition to a record."""
        current = await repo.load(uow.session, patient_id) if is_id(patient_id) else None
        if current is None:
            raise PatientNotFound(f"no patient {patient_id}")
        merged = _as_create(current)
        merged = msgspec.structs.replace(merged, **{kind: [*getattr(merged, kind), item]})
        validate(merged, today=self._today())
        await uow.session.execute(
            insert(CHILDREN[kind]).values(id=new_id(), patient_id=patient_id, **msgspec.structs.asdict(item))
        )
        version = await repo.touch(
            uow.session, patient_id, repo.summary_columns(merged), now=self.clock.now()
        )
        assert version is not None
        uow.publish(PatientUpdated(patient_id=patient_id, version=version))
        uow.after_commit(lambda: self.forget(patient_id))
        return version

    async def delete(self, uow: UnitOfWork, patient_id: str) -> None:
        """Soft delete: the row stays (provenance, audit) but is gone from every read."""
        if not is_id(patient_id):
            raise PatientNotFound(f"no patient {patient_id!r}")
        result = await uow.session.execute(
            update(patients)
            .where(patients.c.id == patient_id, patients.c.deleted_at.is_(None))
            .values(deleted_at=self.clock.now(), version=patients.c.version + 1)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise PatientNotFound(f"no patient {patient_id}")
        uow.publish(PatientDeleted(patient_id=patient_id))
        uow.after_commit(lambda: self.forget(patient_id))


class Upserted(msgspec.Struct, frozen=True):
    patient_id: str
    outcome: str  # "created", "updated" or "unchanged"


def _check_keys(records: Sequence[PatientCreate]) -> None:
    keyed = {(r.source, r.source_record_id) for r in records if r.origin == "real"}
    if len(keyed) != len(records) or any(None in key for key in keyed):
        raise Invalid("each record to upsert needs origin 'real' and a unique (source, source_record_id)")


def record_digest(record: PatientCreate) -> str:
    return hashlib.sha256(msgspec.json.encode(record)).hexdigest()


def _as_create(record: PatientRecord) -> PatientCreate:
    fields = {f: getattr(record, f) for f in PatientCreate.__struct_fields__}
    return PatientCreate(**fields)


__all__ = ["PatientNotFound", "PatientService", "Upserted", "record_digest"]
