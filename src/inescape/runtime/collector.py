"""How often a server process runs Python's cycle collector while a runtime is started.

Python's default suits scripts: a young-generation pass every 700 container objects allocated
(net), an older pass every 10 of those, and a pass over the whole heap every 10 older ones
once a quarter of the heap is new since the last. A runtime's bulk work (a page of a
collection job, a generated cohort, an export) makes tens of thousands of records at once and
keeps them for the whole page: with the default they are promoted through every generation
and the whole heap is walked again after every page or two. Measured on a 40,000-row
collection job (embedded database, ``gc.callbacks``): 1.5-1.8 s of about 8 s was the
collector, 10 whole-heap passes of 0.1-0.17 s each. With a young pass every 10,000 objects it
was 0.3 s and one whole-heap pass.

Reference counting still frees everything that is not in a cycle at once; only cyclic
garbage (a traceback held by its exception, say) waits a little longer for its pass.
The thresholds are the process's: the first runtime to start sets them and the last to stop
puts back what it found.
"""

from __future__ import annotations

import gc
import threading

YOUNG_PASS_EVERY = 10_000  # container objects allocated (net) between young-generation passes

_lock = threading.Lock()
_running = 0
_found: tuple[int, ...] | None = None


def pace() -> None:
    """A runtime starts: the collector's thresholds for server work (once per process)."""
    global _running, _found
    with _lock:
        if _running == 0:
            _found = gc.get_threshold()
            if 0 < _found[0] < YOUNG_PASS_EVERY:  # 0: collection was turned off; left so
                gc.set_threshold(YOUNG_PASS_EVERY, *_found[1:])
        _running += 1


def unpace() -> None:
    """A runtime stops: the last one puts back the thresholds the first one found."""
    global _running, _found
    with _lock:
        if _running == 0:
            return
        _running -= 1
        if _running == 0 and _found is not None:
            gc.set_threshold(*_found)
            _found = None
