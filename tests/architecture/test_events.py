"""Every event round-trips through msgspec; event names follow the versioned pattern."""

from __future__ import annotations

import gc
import importlib

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inescape.kernel.events import Event, decode_event, encode_event, event_name, event_types
from inescape.kernel.modules import MODULE_NAMES
from tests.support.events import SampleExported, SampleRecorded


def all_events() -> dict[str, type[Event]]:
    for name in MODULE_NAMES:
        importlib.import_module(f"inescape.modules.{name}.events")
    return event_types()


@pytest.mark.parametrize("name", sorted(all_events()))
def test_every_event_has_a_json_schema_and_a_versioned_name(name):
    cls = all_events()[name]

    assert event_name(cls) == name
    assert msgspec.json.schema(cls)["$ref"]


@given(value=st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_an_event_round_trips_through_json_unchanged(value):
    for cls in (SampleRecorded, SampleExported):
        event = cls(value=value)

        assert decode_event(encode_event(event)) == event


def test_an_event_with_a_malformed_name_is_refused():
    class Bad(Event, frozen=True, tag="NotVersioned"):
        pass

    try:
        with pytest.raises(TypeError, match=r"<module>\.<entity>\.<past_verb>\.v<N>"):
            event_types()
    finally:
        del Bad
        gc.collect()  # the bad class must not leak into other tests' event_types()


def test_an_unknown_event_name_does_not_decode():
    with pytest.raises(msgspec.ValidationError, match="unknown event type"):
        decode_event(b'{"type": "nobody.nothing.happened.v1", "id": "x"}')
