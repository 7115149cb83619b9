"""The audit trail: every access to patient data and every auth event, hash-chained.

Each event stores the hash of the one before it (``prev_hash``) and its own hash over its
canonical JSON, with a gap-free sequence number as its id. ``verify`` walks the chain and
names the first deleted, altered or reordered event. Appending reads the head and inserts
the next sequence number; a concurrent writer that got there first makes the insert a
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
from inescape.kernel.errors import Conflict, Unavailable
from inescape.kernel.ports import DocumentStore

COLLECTION = "audit_logs"
GENESIS = "0" * 64
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


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    checked: int
    head_hash: str
    problems: list[str]


def event_hash(doc: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        {k: doc.get(k) for k in FIELDS}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class AuditTrail:
    def __init__(self, documents: DocumentStore, clock: Clock) -> None:
        self._docs = documents
        self._clock = clock
        self._lock = asyncio.Lock()  # one appender per process; Conflict covers the others
        self._head: tuple[int, str] | None = None  # (seq, hash) of the last event we know

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
        async with self._lock:
            for _ in range(50):
                if self._head is None:
                    self._head = await self._read_head()
                seq, prev = self._head
                doc = {**base, "seq": seq + 1, "prev_hash": prev}
                doc["hash"] = event_hash(doc)
                try:
                    await self._docs.insert(COLLECTION, {"id": _doc_id(seq + 1), **doc})
                except Conflict:
                    self._head = None  # another process appended: chain onto its event
                    continue
                except Exception:
                    self._head = None  # unknown outcome: read the head again next time
                    raise
                self._head = (seq + 1, str(doc["hash"]))
                return msgspec.convert(doc, AuditEvent)
        raise Unavailable("The audit log is too busy to append to; try again.", backend="audit")

    async def _read_head(self) -> tuple[int, str]:
        # ids are zero-padded sequence numbers: the primary key orders them, no scan
        found = await self._docs.find(COLLECTION, {}, sort=[("id", -1)], limit=1)
        return (int(found[0]["seq"]), str(found[0]["hash"])) if found else (0, GENESIS)

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
