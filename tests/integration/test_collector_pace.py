"""A started runtime runs Python's cycle collector at a server's pace (a young pass every
10,000 objects, not 700: bulk work spent a fifth of its time in the collector), and the last
runtime to stop leaves the process's thresholds as it found them."""

from __future__ import annotations

import gc

import pytest

from inescape.runtime import Runtime, collector
from inescape.settings import load_settings


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


async def test_a_started_runtime_paces_the_collector_and_the_last_one_stopped_restores_it(
    tmp_path, thresholds
):
    first = Runtime(load_settings({"INESCAPE_DATA_DIR": str(tmp_path / "a")}), specs=[])
    second = Runtime(load_settings({"INESCAPE_DATA_DIR": str(tmp_path / "b")}), specs=[])
    await first.start(worker=False)
    assert gc.get_threshold()[0] >= collector.YOUNG_PASS_EVERY
    assert gc.get_threshold()[1:] == thresholds[1:]  # the older generations keep their pace
    await second.start(worker=False)
    await first.stop()
    assert gc.get_threshold()[0] >= collector.YOUNG_PASS_EVERY  # the second still runs
    await second.stop()
    assert gc.get_threshold() == thresholds


def test_pacing_keeps_a_collector_turned_off_off_and_gives_back_what_it_found(monkeypatch, thresholds):
    monkeypatch.setattr(collector, "_running", 0)  # as in a process with no runtime started
    monkeypatch.setattr(collector, "_found", None)
    gc.set_threshold(0, 10, 10)
    collector.pace()
    assert gc.get_threshold() == (0, 10, 10)
    collector.unpace()
    gc.set_threshold(700, 5, 5)
    collector.pace()
    collector.pace()
    assert gc.get_threshold() == (collector.YOUNG_PASS_EVERY, 5, 5)
    collector.unpace()
    assert gc.get_threshold() == (collector.YOUNG_PASS_EVERY, 5, 5)
    collector.unpace()
    collector.unpace()  # one too many does not go below none running
    assert gc.get_threshold() == (700, 5, 5)
    assert collector._running == 0
