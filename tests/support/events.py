"""Events used by the tests (real event classes, registered like any module's)."""

from __future__ import annotations

from inescape.kernel.events import Event


class SampleRecorded(Event, frozen=True, tag="testing.sample.recorded.v1"):
    value: int


class SampleExported(Event, frozen=True, tag="testing.sample.exported.v1"):
    leaves_process = True
    value: int
