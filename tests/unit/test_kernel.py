from __future__ import annotations

import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from inescape.kernel.bus import RetryPolicy
from inescape.kernel.ids import is_id, new_id, new_ids


def test_ids_are_uuid7_and_sort_by_creation_time():
    first = new_id()
    time.sleep(0.002)
    later = [new_id() for _ in range(200)]

    assert all(uuid.UUID(i).version == 7 and is_id(i) for i in [first, *later])
    assert all(first < i for i in later)
    assert len(set(later)) == 200


def test_ids_carry_their_creation_millisecond():
    before = time.time_ns() // 1_000_000
    made = new_id()
    after = time.time_ns() // 1_000_000

    assert before <= uuid.UUID(made).int >> 80 <= after


def test_a_batch_of_ids_is_as_valid_as_single_ones_and_all_distinct():
    first = new_id()
    time.sleep(0.002)
    batch = new_ids(5000)

    parsed = [uuid.UUID(i) for i in batch]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 and is_id(str(u)) for u in parsed)
    assert len(set(batch)) == 5000
    assert all(first < i for i in batch)  # after every id made before the batch
    assert new_ids(0) == []


@given(st.text(max_size=40))
def test_only_canonical_uuids_count_as_ids(text):
    assert is_id(text) == (text.count("-") == 4 and _parses(text) and text == text.lower())


def _parses(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


@given(st.integers(min_value=1, max_value=60), st.floats(0.01, 5), st.floats(5, 600))
def test_backoff_delays_stay_between_half_and_the_capped_exponential(attempt, base, cap):
    policy = RetryPolicy(attempts=10, base_delay=base, max_delay=cap)

    delay = policy.delay(attempt)

    ceiling = min(cap, base * 2 ** (attempt - 1))
    assert ceiling / 2 <= delay <= ceiling
