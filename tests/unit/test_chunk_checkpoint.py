"""A generation job's load checkpoint when chunks commit out of order (several connections):
a chunk is skipped on a restart only if a committed transaction holds it."""

from __future__ import annotations

from inescape.modules.generation.service import chunk_loaded, with_chunk


def test_chunks_committed_out_of_order_are_each_named_until_the_gap_closes():
    state = None
    for index in (1, 3, 0):
        state = with_chunk(state, index)

    assert state == {"next_chunk": 2, "done": [3]}
    assert [i for i in range(6) if chunk_loaded(state, i)] == [0, 1, 3]

    state = with_chunk(state, 2)

    assert state == {"next_chunk": 4, "done": []}


def test_a_checkpoint_written_before_out_of_order_loads_still_reads():
    assert [i for i in range(5) if chunk_loaded({"next_chunk": 3}, i)] == [0, 1, 2]
    assert with_chunk({"next_chunk": 3}, 3) == {"next_chunk": 4, "done": []}
    assert not chunk_loaded(None, 0)
