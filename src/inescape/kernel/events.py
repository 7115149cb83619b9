"""The event base: tagged, frozen msgspec Structs with versioned names.

An event's tag is ``<module>.<entity>.<past_verb>.v<N>``: a breaking change to its shape is a
new version, never an edit of the old one, so consumers in other processes keep decoding.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

import msgspec

from inescape.kernel.clock import utcnow
from inescape.kernel.ids import new_id

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.v[1-9][0-9]*\Z")


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    """Something that happened, published after the transaction that caused it commits.

    ``leaves_process`` marks events other processes must see: they are also written to the
    transactional outbox in the same transaction.
    """

    leaves_process: ClassVar[bool] = False

    id: str = msgspec.field(default_factory=new_id)
    occurred_at: datetime = msgspec.field(default_factory=utcnow)


def event_name(event: Event | type[Event]) -> str:
    tag = event.__struct_config__.tag
    assert isinstance(tag, str)
    return tag


def event_types() -> dict[str, type[Event]]:
    """Every event class imported so far, by name; a malformed or reused name is an error."""
    found: dict[str, type[Event]] = {}
    pending = list(Event.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        tag = cls.__struct_config__.tag
        if not isinstance(tag, str) or not EVENT_NAME.match(tag):
            raise TypeError(f"{cls.__qualname__} needs tag='<module>.<entity>.<past_verb>.v<N>', got {tag!r}")
        known = found.get(tag)
        if known is not None and known is not cls:
            raise TypeError(f"event name {tag} is used by {known.__qualname__} and {cls.__qualname__}")
        found[tag] = cls
    return found


_encoder = msgspec.json.Encoder()


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes | str, types: dict[str, type[Event]] | None = None) -> Event:
    """Decode an event by its tag; raise ``msgspec.ValidationError`` for an unknown one."""
    known = types if types is not None else event_types()
    probe = msgspec.json.decode(data, type=dict[str, Any])
    cls = known.get(str(probe.get("type")))
    if cls is None:
        raise msgspec.ValidationError(f"unknown event type {probe.get('type')!r}")
    return msgspec.json.decode(data, type=cls)
