"""Free heap pages given back after the story stage's window sweep (issue 13, round eight).

The sweep (`story_stage.prune`, every RASID_STORY_PRUNE_SECONDS) closes the stories that went a whole
window without a report; their states, centroids and index postings are freed, but glibc keeps
the freed pages of its (single, streams/worker/heap.py) arena resident until the top of the heap
is free. `trim()` right after a sweep that closed something hands them back with
`malloc_trim(0)`: measured on a paced feed (docs/performance.md, "Memory: round eight") it took
~1.6 ms of wall time on average (15 ms at most) on a ~250 MB worker, once per sweep (every 10
minutes in a real feed). It holds the arena's lock while it walks the heap, which is why it
runs after a sweep only, not on a timer. It changes nothing the worker computes; with another C
library (musl) it does nothing.
"""

from __future__ import annotations

import time

from streams.worker import heap


def trim() -> float | None:
    """glibc's `malloc_trim(0)`; the seconds it took, or None when the C library is not glibc."""
    libc = heap._glibc()
    if libc is None:
        return None
    started = time.perf_counter()
    libc.malloc_trim(0)
    return time.perf_counter() - started
