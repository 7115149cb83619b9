"""The audit trail: every access to patient data and every auth event, in a keyed hash chain.

Each event stores the hash of the one before it (``prev_hash``) and its own HMAC-SHA256 over
its canonical JSON, under a key that is not in the audit store (derived from the platform key
ring's HMAC key, named by ``key_id`` in the event), with a gap-free sequence number as its id.
Someone who can write the store but lacks the key can neither alter an event and recompute
the chain after it nor forge one. A signed checkpoint of the head (its sequence number and
hash), kept in the SQL database apart from the events, moves with every appended batch:
deleting the newest events leaves the checkpoint naming an event that is gone. ``verify``
walks the chain and names the deleted, altered, rewritten or reordered events.

Chains written before keying: their events carry no ``key_id`` and a plain SHA-256 hash.
The first keyed append records in the checkpoint where keying starts (``keyed_from``); the
legacy segment before it is verified as before, every event from it on must be keyed.

Appending reads the head and inserts the next sequence numbers; a concurrent writer that got
there first makes the insert a conflict, and the append retries on the new head, so the
chain stays linear across processes. If the store is down, ``record`` raises ``Unavailable``:
callers fail closed. A caller is answered once its event and the checkpoint covering it are
acknowledged, and the stores acknowledge only durable writes (journaled on MongoDB, a
synchronous commit on SQL).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from inescape.kernel.clock import Clock
from inescape.kernel.errors import Conflict, Unavailable
from inescape.kernel.ports import DocumentStore
from inescape.modules.auth.api import VerifyReport

log = logging.getLogger("inescape.auth")

COLLECTION = "audit_logs"
CHECKPOINTS = "audit_checkpoints"  # in the SQL database's document table, apart from the events
HEAD = "head"
GENESIS = "0" * 64
UNREACHABLE = "The audit log is unreachable; patient data cannot be reached now: try again in a few seconds."
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
KEYED_FIELDS = (*FIELDS, "key_id")


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True):
    seq: Annotated[int, Meta(description="Its place in the chain: gap-free, from 1; the id a cursor names.")]
    time: Annotated[str, Meta(description="When it happened: ISO 8601 in UTC, to the microsecond.")]
    user: Annotated[
        str | None, Meta(description="Who acted, by username (for a login, the name given); null: not known.")
    ]
    roles: Annotated[list[str], Meta(description="The roles the user's token carried; empty without one.")]
    action: Annotated[
        str, Meta(description="What was done, as the route declares it (patients.read, auth.login...).")
    ]
    resource_type: Annotated[
        str | None, Meta(description="The kind of thing acted on (patient, dataset...); null: none.")
    ]
    resource_id: Annotated[str | None, Meta(description="Its id; null when the action names no single one.")]
    patient_id: Annotated[
        str | None, Meta(description="The patient whose data was reached; null when none was.")
    ]
    outcome: Annotated[
        str,
        Meta(
            description="success, failure (refused by the action, as a wrong password) or denied (401, 403)."
        ),
    ]
    request_id: Annotated[
        str | None,
        Meta(description="The request's X-Request-ID, to find it in the logs; null outside a request."),
    ]
    client_ip: Annotated[str | None, Meta(description="The client's address; null outside a request.")]
    detail: Annotated[str | None, Meta(description="What else the action noted, in words; null: nothing.")]
    prev_hash: Annotated[
        str, Meta(description="The hash of the event before it (64 zeros for the first), in hex.")
    ]
    hash: Annotated[
        str, Meta(description="Its HMAC-SHA256 (plain SHA-256 before keying) over its fields, in hex.")
    ]
    key_id: Annotated[
        str | None, Meta(description="The audit key that signed it; null: an event from before keying.")
    ] = None


class AuditKeys:
    """The chain's HMAC keys by id; ``active`` signs new events. Derived from a secret the
    audit store does not hold (the key ring's HMAC key), so every replica derives the same.
    After a rotation, keep the retired keys here: old events name theirs and still verify."""

    def __init__(self, keys: Mapping[str, bytes], *, active: str) -> None:
        if active not in keys:
            raise ValueError("the active audit key is not among the keys")
        self._keys = dict(keys)
        self.active = active

    @classmethod
    def derived(cls, *secrets: bytes) -> AuditKeys:
        """Keys derived from ``secrets`` (the first signs); their ids are fingerprints."""
        keys = {}
        for secret in secrets:
            key = hmac.new(secret, b"inescape.audit.chain.v1", hashlib.sha256).digest()
            keys["a" + hmac.new(key, b"key id", hashlib.sha256).hexdigest()[:12]] = key
        return cls(keys, active=next(iter(keys)))

    def sign(self, key_id: str, message: bytes) -> str | None:
        """The HMAC of ``message`` under ``key_id`` (None: a key this install does not have)."""
        key = self._keys.get(key_id)
        return None if key is None else hmac.digest(key, message, "sha256").hex()


def _canonical(doc: Mapping[str, Any], fields: tuple[str, ...]) -> bytes:
    return json.dumps(
        {k: doc.get(k) for k in fields}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def event_hash(doc: Mapping[str, Any], keys: AuditKeys | None = None) -> str | None:
    """A keyed event's HMAC (None if its key is unknown); a legacy event's SHA-256."""
    key_id = doc.get("key_id")
    if key_id:
        return keys.sign(str(key_id), _canonical(doc, KEYED_FIELDS)) if keys else None
    return hashlib.sha256(_canonical(doc, FIELDS)).hexdigest()


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """The head as the last append left it, signed: ``seq`` and ``hash`` of the newest event,
    where keying started, and where the checkpoint had to be made anew (it was missing while
    keyed events existed: deletions before that cannot be ruled out)."""

    seq: int
    hash: str
    keyed_from: int
    recreated_at: list[int] = msgspec.field(default_factory=list)
    key_id: str
    mac: str = ""

    def message(self) -> bytes:
        body = {"seq": self.seq, "hash": self.hash, "keyed_from": self.keyed_from}
        return b"checkpoint\x00" + _canonical({**body, "recreated_at": self.recreated_at}, _CP_FIELDS)

    def signed(self, keys: AuditKeys) -> Checkpoint:
        return msgspec.structs.replace(self, mac=keys.sign(self.key_id, self.message()) or "")

    def valid(self, keys: AuditKeys) -> bool:
        expected = keys.sign(self.key_id, self.message())
        return expected is not None and hmac.compare_digest(expected, self.mac)


_CP_FIELDS = ("seq", "hash", "keyed_from", "recreated_at")


class AuditTrail:
    """Appends in group commits: requests that arrive while a batch is being written wait
    for the next one, so under load many requests share one round trip and one commit. A
    caller returns only once its own event is committed and the signed checkpoint covers it;
    a failed batch fails every caller in it (closed, never silently dropped)."""

    BATCH = 256

    def __init__(
        self, documents: DocumentStore, clock: Clock, *, keys: AuditKeys, checkpoints: DocumentStore
    ) -> None:
        self._docs = documents
        self._clock = clock
        self._keys = keys
        self._checkpoints = checkpoints
        self._head: tuple[int, str] | None = None  # (seq, hash) of the last event we know
        # where keying starts and where the checkpoint was made anew, for a checkpoint written
        # when the stored one is missing or does not verify
        self._start: tuple[int, list[int]] = (1, [])
        self._pending: list[tuple[dict[str, Any], asyncio.Future[AuditEvent]]] = []
        self._writer: asyncio.Task[None] | None = None  # the one appender of this process
        # Events and checkpoint in one SQL database (the embedded default): a batch and the
        # checkpoint covering it go in one transaction, one commit, one trip to its thread.
        shares = getattr(documents, "shares_database", None)
        self._together = bool(shares and shares(checkpoints))

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
        first) keep what was committed and chain the rest onto the new head. The checkpoint
        moves to the last event written before anyone is answered."""
        written: list[AuditEvent] = []
        bases = [base for base, _ in batch]
        for _ in range(50):
            if self._head is None:
                self._head = await self._read_head()
            seq, prev = self._head
            docs = []
            for base in bases:
                seq += 1
                doc = {**base, "seq": seq, "prev_hash": prev, "key_id": self._keys.active}
                prev = doc["hash"] = str(event_hash(doc, self._keys))
                docs.append(doc)
            rows = [{"id": _doc_id(int(d["seq"])), **d} for d in docs]
            if self._together:
                inserted = await self._append_with_checkpoint(
                    rows, int(docs[-1]["seq"]), str(docs[-1]["hash"])
                )
            else:
                inserted = await self._docs.insert_many(COLLECTION, rows)
            if inserted:
                last = docs[inserted - 1]
                self._head = (int(last["seq"]), str(last["hash"]))
                if not self._together:
                    await self._advance(*self._head)
                written.extend(msgspec.convert(d, AuditEvent) for d in docs[:inserted])
                bases = bases[inserted:]
            if not bases:
                return written
            self._head = None  # another process appended: chain onto its event
        raise Unavailable("The audit log is too busy to append to; try again.", backend="audit")

    async def _read_head(self) -> tuple[int, str]:
        # ids are zero-padded sequence numbers: the primary key orders them, no scan
        found = await self._docs.find(COLLECTION, {}, sort=[("id", -1)], limit=1)
        head = (int(found[0]["seq"]), str(found[0]["hash"])) if found else (0, GENESIS)
        raw = await self._checkpoints.get(CHECKPOINTS, HEAD)
        stored = _checkpoint(raw)
        if stored is not None and stored.valid(self._keys):
            # should it vanish before the next append, that append flags where
            self._start = (stored.keyed_from, [*stored.recreated_at, head[0]])
        elif not found:
            self._start = (1, [])
        elif raw is None and not found[0].get("key_id"):
            self._start = (head[0] + 1, [])  # an unkeyed chain: keying starts after its head
        else:
            log.error(
                "the audit checkpoint is missing or does not verify; writing a new one, "
                "which `inescape audit verify` reports",
                extra={"seq": head[0]},
            )
            self._start = (head[0] if found[0].get("key_id") else head[0] + 1, [head[0]])
        return head

    async def _append_with_checkpoint(self, rows: list[dict[str, Any]], seq: int, head_hash: str) -> int:
        """Insert the events and move the checkpoint to the last of them in one transaction
        (the store's write lock is held from the insert on, so no other process moves the
        checkpoint between the read and the write)."""
        moved: list[tuple[int, list[int]]] = []

        def change(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
            body, start = self._moved(raw, seq, head_hash)
            moved.append(start)
            return body

        store: Any = self._docs
        inserted = int(
            await store.insert_many_and_update(COLLECTION, rows, target=(CHECKPOINTS, HEAD), change=change)
        )
        if inserted and moved:
            self._start = moved[-1]
        return inserted

    def _moved(
        self, raw: Mapping[str, Any] | None, seq: int, head_hash: str
    ) -> tuple[dict[str, Any] | None, tuple[int, list[int]]]:
        """The checkpoint at event ``seq`` over the stored one ``raw`` (None: leave it, another
        process moved it past), and where keying starts and was made anew after it."""
        stored = _checkpoint(raw)
        if stored is not None and stored.valid(self._keys):
            if stored.seq >= seq:
                return None, self._start
            keyed_from, recreated = stored.keyed_from, stored.recreated_at
        else:
            keyed_from, recreated = self._start
        checkpoint = Checkpoint(
            seq=seq, hash=head_hash, keyed_from=keyed_from, recreated_at=recreated, key_id=self._keys.active
        ).signed(self._keys)
        return msgspec.to_builtins(checkpoint), (keyed_from, [*recreated, seq])

    async def _advance(self, seq: int, head_hash: str) -> None:
        """Move the signed checkpoint to event ``seq``, unless another process moved it past."""
        for _ in range(10):
            raw = await self._checkpoints.get(CHECKPOINTS, HEAD)
            body, start = self._moved(raw, seq, head_hash)
            if body is None:
                return
            if raw is None:
                try:
                    await self._checkpoints.insert(CHECKPOINTS, {"id": HEAD, **body})
                except Conflict:
                    continue  # another process wrote the first one
            elif not await self._checkpoints.replace(CHECKPOINTS, HEAD, body):
                continue
            self._start = start
            return
        raise Unavailable("The audit checkpoint is too busy to move; try again.", backend="audit")

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
        fields = (*KEYED_FIELDS, "hash")
        return [msgspec.convert({k: d.get(k) for k in fields}, AuditEvent) for d in docs]

    async def verify(self, *, page: int = 500) -> VerifyReport:
        """Walk the chain from its first event, then hold its end against the checkpoint."""
        raw = await self._checkpoints.get(CHECKPOINTS, HEAD)
        checkpoint = _checkpoint(raw)
        problems: list[str] = []
        if raw is not None and (checkpoint is None or not checkpoint.valid(self._keys)):
            problems.append("the head checkpoint was altered or signed with another key: its signature fails")
            checkpoint = None
        keyed_from = checkpoint.keyed_from if checkpoint else None
        expected_seq, prev, checked, keyed_seen = 1, GENESIS, 0, False
        while len(problems) <= 20:
            docs = await self._docs.find(
                COLLECTION, {"id": {"$gte": _doc_id(expected_seq)}}, sort=[("id", 1)], limit=page
            )
            if not docs:
                break
            for doc in docs:
                problems.extend(_check(doc, expected_seq, prev, self._keys, keyed_from))
                if checkpoint and doc.get("seq") == checkpoint.seq and doc.get("hash") != checkpoint.hash:
                    problems.append(
                        f"event {checkpoint.seq} is not the one the signed checkpoint names: "
                        "the chain was rewritten"
                    )
                keyed_seen = keyed_seen or bool(doc.get("key_id"))
                expected_seq, prev, checked = doc["seq"] + 1, doc.get("hash", ""), checked + 1
        last = expected_seq - 1
        if checkpoint is not None:
            if last < checkpoint.seq:
                first = last + 1
                gone = f"event {first}" if first == checkpoint.seq else f"events {first} to {checkpoint.seq}"
                problems.append(
                    f"{gone} deleted at the end: the signed checkpoint names event {checkpoint.seq}, "
                    f"the chain ends at {last}"
                )
            problems.extend(
                f"the signed checkpoint was lost and made anew at event {at}: deletions before "
                "it cannot be ruled out"
                for at in checkpoint.recreated_at
            )
        elif raw is None and keyed_seen:
            problems.append("the signed head checkpoint is missing: deletions at the end cannot be ruled out")
        return VerifyReport(ok=not problems, checked=checked, head_hash=prev, problems=problems[:20])


def _checkpoint(raw: Mapping[str, Any] | None) -> Checkpoint | None:
    if raw is None:
        return None
    try:
        return msgspec.convert({k: v for k, v in raw.items() if k != "id"}, Checkpoint)
    except msgspec.ValidationError:
        return None


def _check(
    doc: Mapping[str, Any], expected_seq: int, prev: str, keys: AuditKeys, keyed_from: int | None
) -> list[str]:
    seq = doc.get("seq")
    problems = []
    if seq != expected_seq:
        problems.append(f"event {expected_seq} is missing (found {seq} next): deleted")
    if doc.get("prev_hash") != prev:
        problems.append(f"event {seq} does not follow the event before it: deleted or reordered")
    key_id = doc.get("key_id")
    if not key_id and keyed_from is not None and isinstance(seq, int) and seq >= keyed_from:
        problems.append(
            f"event {seq} carries no signature though every event from {keyed_from} on is signed: rewritten"
        )
        return problems
    computed = event_hash(doc, keys)
    if key_id and computed is None:
        problems.append(f"event {seq} is signed with a key this install does not have ({key_id})")
    elif computed is None or not hmac.compare_digest(computed, str(doc.get("hash"))):
        problems.append(f"event {seq} was altered: its hash does not match its content")
    return problems


def _doc_id(seq: int) -> str:
    return f"{seq:012d}"


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="microseconds")
