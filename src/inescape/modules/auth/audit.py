"""The audit trail: every access to patient data and every auth event, hash-chained.

Each event stores the hash of the one before it (``prev_hash``) and its own hash over its
canonical JSON, with a gap-free sequence number as its id. ``verify`` walks the chain and
names the first deleted, altered or reordered event. Appending reads the head and inserts
the next sequence numbers; a concurrent writer that got there first makes the insert a
conflict, and the append retries on the new head, so the chain stays linear across
processes. If the store is down, ``record`` raises ``Unavailable``: callers fail closed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from inescape.kernel.clock import Clock
from inescape.kernel.errors import Unavailable
from inescape.kernel.ports import DocumentStore
from inescape.modules.auth.api import VerifyReport

COLLECTION = "audit_logs"
GENESIS = "0" * 64
UNREACHABLE = "The audit log is unreachable; patient data cannot be changed now."
FIELDS = (
    "seq",
    "time",
    "user",
    "roles",
    "action",
    "resource_type",
    "resource_id",
    "patient_id",
    "outcome",
    "request_id",
    "client_ip",
    "detail",
    "prev_hash",
)


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    time: str
    user: str | None
    roles: list[str]
    action: str
    resource_type: str | None
    resource_id: str | None
    patient_id: str | None
    outcome: str
    request_id: str | None
    client_ip: str | None
    detail: str | None
    prev_hash: str
    hash: str


def event_hash(doc: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        {k: doc.get(k) for k in FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditTrail:
    """Appends in group commits: requests that arrive while a batch is being written wait
    for the next one, so under load many requests share one round trip and one commit. A
    caller returns only once its own event is committed; a failed batch fails every caller
    in it (closed, never silently dropped)."""

    BATCH = 256

    def __init__(self, documents: DocumentStore, clock: Clock) -> None:
        self._docs = documents
        self._clock = clock
        self._head: tuple[int, str] | None = None  # (seq, hash) of the last event we know
        self._pending: list[tuple[dict[str, Any], asyncio.Future[AuditEvent]]] = []
        self._writer: asyncio.Task[None] | None = None  # the one appender of this process

    async def record(
        self,
        *,
        action: str,
        outcome: str,
        user: str | None = None,
        roles: list[str] | None = None,
        resource_type: str | None = None,
        resource_id: str | None = None,
        patient_id: str | None = None,
        request_id: str | None = None,
        client_ip: str | None = None,
        detail: str | None = None,
    ) -> AuditEvent:
        base = {
            "time": _iso(self._clock.now()),
            "user": user,
            "roles": list(roles or []),
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "patient_id": patient_id,
            "outcome": outcome,
            "request_id": request_id,
            "client_ip": client_ip,
            "detail": detail,
        }
        loop = asyncio.get_running_loop()
        done: asyncio.Future[AuditEvent] = loop.create_future()
        self._pending.append((base, done))
        if self._writer is None or self._writer.done() or self._writer.get_loop() is not loop:
            self._writer = loop.create_task(self._drain())
        # a caller that gives up (client gone) stops waiting; its event is still written
        return await asyncio.shield(done)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.BATCH], self._pending[self.BATCH :]
            try:
                events = await self._append(batch)
            except Exception as exc:
                self._head = None  # unknown outcome: read the head again next time
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            except BaseException:  # the writer itself is stopped (shutdown): fail every waiter
                self._head = None
                stopped = Unavailable("The audit log writer stopped; try again.", backend="audit")
                for _, done in batch + self._pending:
                    if not done.done():
                        done.set_exception(stopped)
                self._pending = []
                raise
            for (_, done), event in zip(batch, events, strict=True):
                if not done.done():
                    done.set_result(event)

    async def _append(
        self, batch: list[tuple[dict[str, Any], asyncio.Future[AuditEvent]]]
    ) -> list[AuditEvent]:
        """Chain ``batch`` onto the head and insert it; on a conflict (another process appended
        first) keep what was committed and chain the rest onto the new head."""
        written: list[AuditEvent] = []
        bases = [base for base, _ in batch]
        for _ in range(50):
            if self._head is None:
                self._head = await self._read_head()
            seq, prev = self._head
            docs = []
            for base in bases:
                seq += 1
                doc = {**base, "seq": seq, "prev_hash": prev}
                prev = doc["hash"] = event_hash(doc)
                docs.append(doc)
            inserted = await self._docs.insert_many(
                COLLECTION, [{"id": _doc_id(int(d["seq"])), **d} for d in docs]
            )
            if inserted:
                last = docs[inserted - 1]
                self._head = (int(last["seq"]), str(last["hash"]))
                written.extend(msgspec.convert(d, AuditEvent) for d in docs[:inserted])
                bases = bases[inserted:]
            if not bases:
                return written
            self._head = None  # another process appended: chain onto its event
        raise Unavailable("The audit log is too busy to append to; try again.", backend="audit")

    async def _read_head(self) -> tuple[int, str]:
        # ids are zero-padded sequence numbers: the primary key orders them, no scan
        found = await self._docs.find(COLLECTION, {}, sort=[("id", -1)], limit=1)
        return (int(found[0]["seq"]), str(found[0]["hash"])) if found else (0, GENESIS)

    async def ready(self) -> None:
        """Raise ``Unavailable`` while the audit store is down, before a write that must be
        audited: the write is refused rather than done unaudited."""
        try:
            await self._docs.ping()
        except Exception as exc:
            raise Unavailable(UNREACHABLE, backend="audit", retry_after=5) from exc

    async def query(
        self, *, filters: Mapping[str, Any], before_seq: int | None, limit: int
    ) -> list[AuditEvent]:
        conditions = {k: v for k, v in filters.items() if v is not None}
        if before_seq is not None:
            conditions["id"] = {"$lt": _doc_id(before_seq)}
        docs = await self._docs.find(COLLECTION, conditions, sort=[("id", -1)], limit=limit)
        return [msgspec.convert({k: d.get(k) for k in (*FIELDS, "hash")}, AuditEvent) for d in docs]

    async def verify(self, *, page: int = 500) -> VerifyReport:
        problems: list[str] = []
        expected_seq, prev, checked = 1, GENESIS, 0
        while True:
            docs = await self._docs.find(
                COLLECTION, {"id": {"$gte": _doc_id(expected_seq)}}, sort=[("id", 1)], limit=page
            )
            if not docs:
                break
            for doc in docs:
                problems.extend(_check(doc, expected_seq, prev))
                expected_seq, prev, checked = doc["seq"] + 1, doc.get("hash", ""), checked + 1
            if len(problems) > 20:
                break
        return VerifyReport(ok=not problems, checked=checked, head_hash=prev, problems=problems[:20])


def _check(doc: Mapping[str, Any], expected_seq: int, prev: str) -> list[str]:
    seq = doc.get("seq")
    problems = []
    if seq != expected_seq:
        problems.append(f"event {expected_seq} is missing (found {seq} next): deleted")
    if doc.get("prev_hash") != prev:
        problems.append(f"event {seq} does not follow the event before it: deleted or reordered")
    if event_hash(doc) != doc.get("hash"):
        problems.append(f"event {seq} was altered: its hash does not match its content")
    return problems


def _doc_id(seq: int) -> str:
    return f"{seq:012d}"


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")
