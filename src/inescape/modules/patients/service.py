"""Use cases of the clinical core's records. A write either runs in its own unit of work
(the HTTP edge) or in the caller's session (other modules' jobs); nothing here commits a
session it was given."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import date
from typing import Any

import msgspec
from sqlalchemy.exc import IntegrityError

from inescape.infra.crypto import field_cipher
from inescape.infra.db import Database
from inescape.infra.uow import UnitOfWork
from inescape.kernel.clock import Clock
from inescape.kernel.errors import Conflict, Invalid, PreconditionFailed
from inescape.kernel.ids import is_id, new_ids
from inescape.kernel.ports import Cache
from inescape.modules.patients import repository as repo
from inescape.modules.patients.api import (
    PatientCreate,
    PatientNotFound,
    PatientRecord,
    PatientSummary,
    PatientUpdate,
    Upserted,
)
from inescape.modules.patients.digest import record_digest
from inescape.modules.patients.events import PatientCreated, PatientDeleted, PatientUpdated
from inescape.modules.patients.validation import validate

CACHE_TTL_S = 300
EXPORT_PAGE = 200  # records read per session while an export streams: memory stays flat
STAMP_BATCH = 5_000  # research ids stamped per transaction
INDEX_BATCH = 2_000  # records given their name terms per transaction (records stored before 0012)
INDEX_RETRIES = 5  # batches another process indexed first, before giving up
_record_decoder = msgspec.json.Decoder(PatientRecord)


def record_key(patient_id: str) -> str:
    return f"inescape:patients:record:{patient_id}"


class PatientService:
    """Records: create, read (through an encrypted read-through cache), list, change, delete."""

    def __init__(self, *, db: Database, uow: Callable[[], UnitOfWork], clock: Clock, cache: Cache) -> None:
        self._db = db
        self._uow = uow
        self._clock = clock
        self._cache = cache
        self._inflight: dict[str, asyncio.Future[PatientRecord | None]] = {}
        self._stamps_checked: Callable[[str], str] | None = None
        self._names_indexed = False
        self._indexing = asyncio.Lock()

    def today(self) -> date:
        return self._clock.now().date()

    # --- writes ---------------------------------------------------------------------------
    async def create(self, *, record: PatientCreate) -> str:
        return (await self.create_many(records=[record]))[0]

    async def create_many(self, *, records: Sequence[PatientCreate]) -> list[str]:
        """All or nothing, in one transaction: every record is validated first, then written."""
        async with self._uow() as uow:
            ids = await self.insert_many(session=uow.session, records=records)
            for record, patient_id in zip(records, ids, strict=True):
                uow.publish(PatientCreated(patient_id=patient_id, origin=record.origin, source=record.source))
        return ids

    async def insert_many(self, *, session: Any, records: Sequence[PatientCreate]) -> list[str]:
        """Validate every record, then write them all in ``session``'s transaction (COPY on
        PostgreSQL); ``Invalid`` naming ``[i].field`` of each problem, and nothing written."""
        today = self.today()
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
        await repo.insert_records(session, records, ids=ids, now=self._clock.now())
        return ids

    def check(self, *, record: PatientCreate) -> None:
        """``Invalid`` naming each field of ``record`` the clinical core refuses."""
        validate(record, today=self.today())

    async def upsert_many(
        self, *, session: Any, records: Sequence[PatientCreate], checked: bool = False
    ) -> list[Upserted]:
        """Real records keyed by (source, source_record_id), in ``session``'s transaction: a new
        one is inserted, a changed one replaces ours (same id, next version), an identical one
        (same SHA-256) is left alone. Every record is validated first (unless the caller did,
        ``checked``); all or nothing."""
        _check_keys(records)
        if not checked:
            for record in records:
                self.check(record=record)
        found: dict[tuple[str, str], repo.SourceRow] = {}
        for source in {str(r.source) for r in records}:
            ids = [str(r.source_record_id) for r in records if r.source == source]
            found |= {(source, k): v for k, v in (await repo.find_by_source(session, source, ids)).items()}
        now, done, fresh = self._clock.now(), [], []
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

    async def update(self, *, patient_id: str, change: PatientUpdate, if_match: int | None = None) -> int:
        """Demographics, risk factors, outcome, fitness for surgery, comorbidities and the
        primary condition's invasion facts; the record's new version. ``change.version`` (409)
        or ``if_match`` (412), when given, must be the stored version: a change made against an
        older one is refused and nothing is written."""
        async with self._uow() as uow:
            current = await self._current(uow, patient_id)
            expected = _expected_version(current.version, change.version, if_match)
            tumour = {  # null is an answer here: the fact is not known any more
                k: getattr(change, k)
                for k in ("lymphovascular_invasion", "invades_airway_or_great_vessels")
                if getattr(change, k) is not msgspec.UNSET
            }
            values = {
                k: v
                for k, v in msgspec.structs.asdict(change).items()
                if v is not None and v is not msgspec.UNSET and k not in (*_NOT_COLUMNS, *tumour)
            }
            if change.risk_factors is not None:
                values["risk_factors"] = msgspec.to_builtins(change.risk_factors)
            changed = {
                k: getattr(change, k)
                for k in ("outcome", "risk_factors", "comorbidities")
                if getattr(change, k) is not None
            }
            if change.fitness_for_surgery is not msgspec.UNSET:
                changed["fitness_for_surgery"] = change.fitness_for_surgery
            merged = msgspec.structs.replace(_as_create(current), **changed)
            if tumour:
                merged = _with_primary(merged, tumour)
            validate(merged, today=self.today())
            if change.outcome is not None:
                values |= repo.outcome_columns(change.outcome)
            if change.fitness_for_surgery is not msgspec.UNSET:
                values |= repo.fitness_columns(change.fitness_for_surgery)
            version = await repo.touch(
                uow.session, patient_id, values, now=self._clock.now(), expected=expected
            )
            if version is None:  # deleted or changed since it was read: nothing is written
                if not await repo.is_live(uow.session, patient_id):
                    raise PatientNotFound(f"no patient {patient_id}")
                raise Conflict(f"patient {patient_id} changed meanwhile; read it again and retry")
            if "given_name" in values or "family_name" in values:
                await repo.reindex_names(uow.session, patient_id)
            if change.comorbidities is not None:
                await repo.replace_children(
                    uow.session, patient_id, "comorbidities", list(change.comorbidities)
                )
            if tumour:
                await repo.update_primary_condition(uow.session, patient_id, tumour)
            uow.publish(PatientUpdated(patient_id=patient_id, version=version))
            uow.after_commit(lambda: self.forget(patient_id=patient_id))
            return version

    async def add(self, *, patient_id: str, kind: str, item: msgspec.Struct) -> int:
        """Add a staging, treatment, observation, biomarker or condition to a record."""
        async with self._uow() as uow:
            merged = _as_create(await self._current(uow, patient_id))
            merged = msgspec.structs.replace(merged, **{kind: [*getattr(merged, kind), item]})
            validate(merged, today=self.today())
            await repo.add_child(uow.session, patient_id, kind, item)
            return await self._touched(uow, patient_id, repo.summary_columns(merged))

    async def delete(self, *, patient_id: str) -> None:
        """Soft delete: the row stays (provenance, audit) but is gone from every read."""
        if not is_id(patient_id):
            raise PatientNotFound(f"no patient {patient_id!r}")
        async with self._uow() as uow:
            if not await repo.soft_delete(uow.session, patient_id, now=self._clock.now()):
                raise PatientNotFound(f"no patient {patient_id}")
            uow.publish(PatientDeleted(patient_id=patient_id))
            uow.after_commit(lambda: self.forget(patient_id=patient_id))

    async def _current(self, uow: UnitOfWork, patient_id: str) -> PatientRecord:
        current = await repo.load(uow.session, patient_id) if is_id(patient_id) else None
        if current is None:
            raise PatientNotFound(f"no patient {patient_id}")
        return current

    async def _touched(self, uow: UnitOfWork, patient_id: str, values: Mapping[str, Any]) -> int:
        version = await repo.touch(uow.session, patient_id, values, now=self._clock.now())
        if version is None:  # deleted since ``_current`` read it (a concurrent DELETE committed)
            raise PatientNotFound(f"no patient {patient_id}")
        uow.publish(PatientUpdated(patient_id=patient_id, version=version))
        uow.after_commit(lambda: self.forget(patient_id=patient_id))
        return version

    # --- reads ----------------------------------------------------------------------------
    async def get(self, *, patient_id: str) -> PatientRecord:
        """Read-through cache (values encrypted, since they hold identifiers); concurrent
        misses for one patient share one database read (no stampede)."""
        if not is_id(patient_id):
            raise PatientNotFound(f"no patient {patient_id!r}")
        cached = await self._cache.get(record_key(patient_id))
        if cached is not None:
            plain = field_cipher().decrypt(cached.decode(), context="patients.cache")
            return _record_decoder.decode(plain)
        pending = self._inflight.get(patient_id)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._inflight[patient_id] = pending
            try:
                pending.set_result(await self._load_and_cache(patient_id))
            except BaseException as exc:
                pending.set_exception(exc)
                raise
            finally:
                self._inflight.pop(patient_id, None)
        record = await asyncio.shield(pending)
        if record is None:
            raise PatientNotFound(f"no patient {patient_id}")
        return record

    async def _load_and_cache(self, patient_id: str) -> PatientRecord | None:
        async with self._db.sessions() as session:
            found = await repo.load(session, patient_id)
        if found is not None:
            token = field_cipher().encrypt(msgspec.json.encode(found).decode(), context="patients.cache")
            await self._cache.set(record_key(patient_id), token.encode(), ttl=CACHE_TTL_S)
        return found

    async def forget(self, *, patient_id: str) -> None:
        """Drop the cached copy of a record (it changed, here or in another process)."""
        await self._cache.delete(record_key(patient_id))

    async def page(
        self, *, filters: Mapping[str, Any], limit: int, cursor: str | None, sort: str
    ) -> tuple[list[PatientSummary], str | None]:
        """One page of list rows and the cursor of the next (None at the end)."""
        if cursor and not is_id(cursor):
            raise Invalid("cursor is not a patient id", errors=[{"field": "cursor", "message": "invalid"}])
        if sort.lstrip("-") != "id":
            raise Invalid(
                "only sorting by id (creation order) is supported with a cursor",
                errors=[{"field": "sort", "message": "use id or -id"}],
            )
        async with self._db.sessions() as session:
            rows = await repo.page(
                session,
                filters,
                today=self.today(),
                limit=limit + 1,
                after=cursor,
                descending=sort.startswith("-"),
            )
        items = rows[:limit]
        return items, (items[-1].id if len(rows) > limit else None)

    # --- the name index -------------------------------------------------------------------
    async def index_names(self) -> int:
        """Give the live records stored before the name index existed (revision 0012: the
        terms need the field key, which migrations do not load) their name terms; once per
        process, before its first name search. A batch per transaction, so an interrupted run
        resumes where it stopped; the number of records indexed."""
        if self._names_indexed:
            return 0
        async with self._indexing:
            if self._names_indexed:
                return 0
            done, after, clashes = 0, None, 0
            while True:
                try:
                    async with self._db.sessions() as session, session.begin():
                        found = await repo.unindexed(session, after=after, limit=INDEX_BATCH)
                        rows = [t for i, g, f in found for t in repo.term_rows(i, g, f)]
                        await repo.insert_terms(session, rows)
                except IntegrityError:  # another process indexed some of them meanwhile
                    clashes += 1
                    if clashes > INDEX_RETRIES:
                        raise
                    continue
                done += len(found)
                if len(found) < INDEX_BATCH:
                    break
                after = found[-1][0]  # a record whose names give no word stays behind
            self._names_indexed = True
            return done

    # --- the research id ------------------------------------------------------------------
    async def stamp_research_ids(self, research_id: Callable[[str], str]) -> None:
        """Give every live record its research id (``research_id`` of its id) before a research
        list or lookup: the records written since the last call, and all of them again when
        the stamps were made under another key (checked once per process)."""
        if self._stamps_checked != research_id:
            async with self._db.sessions() as session, session.begin():
                probe = await repo.one_stamped(session)
                if probe is not None and research_id(probe[0]) != probe[1]:
                    await repo.unstamp_all(session)
            self._stamps_checked = research_id
        while True:
            async with self._db.sessions() as session, session.begin():
                ids = await repo.unstamped(session, limit=STAMP_BATCH)
                await repo.stamp(session, {i: research_id(i) for i in ids})
            if len(ids) < STAMP_BATCH:
                return

    async def research_page(
        self, *, filters: Mapping[str, Any], limit: int, after: str | None, descending: bool
    ) -> list[tuple[str, PatientSummary]]:
        """Up to ``limit`` (research id, list row) in research-id order past ``after`` (stamped
        records only: call ``stamp_research_ids`` first)."""
        async with self._db.sessions() as session:
            return await repo.research_page(
                session, filters, today=self.today(), limit=limit, after=after, descending=descending
            )

    async def by_research_id(self, research_id: str) -> str | None:
        """The id of the live record stamped with ``research_id``."""
        async with self._db.sessions() as session:
            return await repo.by_research_id(session, research_id)

    async def matching_ids(self, *, filters: Mapping[str, Any]) -> list[str]:
        """The ids of the live records ``filters`` selects, in id order."""
        async with self._db.sessions() as session:
            return await repo.matching_ids(session, filters, today=self.today())

    async def records(self, *, ids: Sequence[str]) -> AsyncIterator[PatientRecord]:
        """The live records of ``ids``, a page of them per session (for streaming exports)."""
        for start in range(0, len(ids), EXPORT_PAGE):
            async with self._db.sessions() as session:
                page = [r for i in ids[start : start + EXPORT_PAGE] if (r := await repo.load(session, i))]
            for record in page:
                yield record


# PatientUpdate fields that are not columns of the patient row (or need mapping to them).
_NOT_COLUMNS = ("version", "risk_factors", "outcome", "fitness_for_surgery", "comorbidities")


def _expected_version(stored: int, given: int | None, if_match: int | None) -> int | None:
    """The version a change was made against (None: unconditional), refused when stale."""
    if if_match is not None and if_match != stored:
        raise PreconditionFailed(
            f"If-Match names version {if_match}; the record is at version {stored}: read it again",
            extra={"version": stored},
        )
    if given is not None and given != stored:
        raise Conflict(
            f"the change was made against version {given}; the record is at version {stored}: read it again",
            extra={"version": stored},
        )
    return given if given is not None else if_match


def _with_primary(record: PatientCreate, facts: Mapping[str, Any]) -> PatientCreate:
    """``record`` with ``facts`` set on its primary (earliest diagnosed) condition."""
    if not record.conditions:
        raise Invalid(
            "lymphovascular and airway or great-vessel invasion are facts of the tumour: "
            "the record has no condition yet",
            errors=[{"field": k, "message": "the record has no primary condition"} for k in facts],
        )
    conditions = sorted(record.conditions, key=lambda c: c.diagnosis_date)
    conditions[0] = msgspec.structs.replace(conditions[0], **facts)
    return msgspec.structs.replace(record, conditions=conditions)


def _check_keys(records: Sequence[PatientCreate]) -> None:
    keyed = {(r.source, r.source_record_id) for r in records if r.origin == "real"}
    if len(keyed) != len(records) or any(None in key for key in keyed):
        raise Invalid("each record to upsert needs origin 'real' and a unique (source, source_record_id)")


def _as_create(record: PatientRecord) -> PatientCreate:
    fields = {f: getattr(record, f) for f in PatientCreate.__struct_fields__}
    return PatientCreate(**fields)


__all__ = ["PatientService", "record_key"]
