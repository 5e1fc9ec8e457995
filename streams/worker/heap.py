"""The C heap of a long-running worker: glibc's malloc arenas capped.

Python puts objects of up to 512 bytes in its own pools; everything larger (an article's
text, its JSON bytes, Kafka fetch buffers, the tables of big dicts and lists) comes from the
C library's malloc. glibc gives each thread that allocates its own arena (up to 8 per core),
and a freed block stays in its arena's heap until the top of that heap is free: a worker that
decodes thousands of articles a minute on faust's consumer thread and its event loop keeps
the high-water mark of every arena resident. So the worker, at start (`rasid worker`):

- caps the arenas at ARENAS (`mallopt(M_ARENA_MAX)`, as MALLOC_ARENA_MAX=1 would, but
  without depending on the launcher's environment), before any thread is started: one arena
  for every thread (their Python code runs under one lock anyway); with 2, faust's consumer
  thread still kept 29-37 MB of its own (docs/performance.md, "Memory, round five");
- gives free pages back after a story sweep that closed stories (`trim`, called by
  `story_stage.prune` every RASID_STORY_PRUNE_SECONDS): the closed stories' states,
  centroids and postings are freed, but the arena keeps their pages resident until the top of
  its heap is free. `malloc_trim(0)` holds the arena's lock while it walks the heap, which is
  why it runs after a sweep, not on a timer: ~1.6 ms of wall time on average (15 ms at most)
  on a ~250 MB worker, measured on a paced feed (docs/performance.md, "Memory: round eight").

Neither changes what the worker computes. Both are glibc calls, looked up through ctypes;
with another C library (musl) they are skipped (`cap_arenas` returns False, `trim` None).
"""

from __future__ import annotations

import ctypes
import time
from functools import cache

M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)
ARENAS = 1


@cache
def _glibc() -> ctypes.CDLL | None:
    """The process's C library if it is glibc (it has gnu_get_libc_version), else None."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (glibc only)
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):
        return None
    return libc


def cap_arenas(arenas: int = ARENAS) -> bool:
    """At most `arenas` malloc arenas from now on (call before threads start); True if set."""
    libc = _glibc()
    return libc is not None and libc.mallopt(M_ARENA_MAX, arenas) == 1


def trim() -> float | None:
    """glibc's `malloc_trim(0)`; the seconds it took, or None when the C library is not glibc."""
    libc = _glibc()
    if libc is None:
        return None
    started = time.perf_counter()
    libc.malloc_trim(0)
    return time.perf_counter() - started
