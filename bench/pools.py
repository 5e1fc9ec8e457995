"""Where CPython's small-object allocator (pymalloc) holds the process's memory: its arenas,
pools and blocks per size class, read from `sys._debugmallocstats()`, and the GC-tracked
objects by type. `bench/state_growth.py --pools` prints them at each mark, and the change from
the previous mark, so that growth of the pools can be told apart from growth of live objects:

- live blocks growing with their size class: state or caches still filling;
- pools (or whole arenas) growing while the live blocks do not: fragmentation, i.e. pools
  kept by a few long-lived blocks among freed short-lived ones (an arena is returned to the
  system only when all its pools are free, a pool reused only by its own size class).

    .venv/bin/python bench/pools.py   # this process's figures once (a smoke test)
"""

from __future__ import annotations

import ctypes
import gc
import os
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

POOL = 16384  # CPython 3.11's POOL_SIZE (4 KiB pages * 4); checked against the stats' own line


@dataclass
class Pools:
    """One reading of `sys._debugmallocstats()`: per size class (block bytes) the pools it
    holds, its blocks in use and its free blocks in those pools, and the arena totals."""

    classes: dict[int, tuple[int, int, int]] = field(
        default_factory=dict
    )  # size: pools, used, free
    arenas: int = 0  # allocated now (each ARENA bytes, resident once touched)
    arena_bytes: int = 0
    arenas_total: int = 0  # allocated since start
    arenas_reclaimed: int = 0
    unused_pools: int = 0  # empty pools inside live arenas
    pool_bytes: int = POOL
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def live_mb(self) -> float:
        return sum(size * used for size, (_, used, _) in self.classes.items()) / 1e6

    @property
    def free_in_pools_mb(self) -> float:
        return sum(size * free for size, (_, _, free) in self.classes.items()) / 1e6

    @property
    def pools_mb(self) -> float:
        return sum(p for p, _, _ in self.classes.values()) * self.pool_bytes / 1e6


_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")
_NUM = re.compile(r"^#?\s*(.+?)\s*=\s*([\d,]+)\s*$")


def parse(text: str) -> Pools:
    """A `_debugmallocstats()` dump → Pools (the CPython 3.11 layout; unknown lines ignored)."""
    out = Pools()
    for line in text.splitlines():
        if line.startswith("arena map counts"):  # the radix tree's own bytes follow: not pools
            break
        row = _ROW.match(line)
        if row:
            _, size, pools, used, free = map(int, row.groups())
            out.classes[size] = (pools, used, free)
            continue
        num = _NUM.match(line)
        if not num:
            continue
        name, value = num.group(1), int(num.group(2).replace(",", ""))
        if name == "arenas allocated current":
            out.arenas = value
        elif name == "arenas allocated total":
            out.arenas_total = value
        elif name == "arenas reclaimed":
            out.arenas_reclaimed = value
        elif name.endswith("bytes/arena"):  # "134 arenas * 1048576 bytes/arena"
            out.arena_bytes = value
        elif "unused pools" in name:  # "36 unused pools * 16384 bytes"
            out.unused_pools = int(name.split()[0])
            out.pool_bytes = int(re.findall(r"\* (\d+) bytes", name)[0])
        elif name.startswith("bytes in") or name.startswith("bytes lost") or name == "Total":
            out.totals[name] = value
    return out


def read() -> Pools:
    """This process's pymalloc statistics now (the dump goes to C's stderr: captured by fd)."""
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as f:
        saved = os.dup(2)
        try:
            os.dup2(f.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        f.seek(0)
        return parse(f.read().decode("utf-8", "replace"))


class _Mallinfo2(ctypes.Structure):
    _fields_ = [  # glibc's struct mallinfo2 (malloc.h), every field a size_t
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost",
        )
    ]  # fmt: skip


def glibc_heap() -> dict[str, float] | None:
    """glibc's heap now (`mallinfo2`, every arena), MB: `heap` (sbrk'd and arena heaps),
    `in_use` (allocated blocks: Python's objects over 512 bytes, dict and list tables, buffers,
    and pymalloc's own arenas when they are not mmapped), `free` (free chunks inside the heap:
    what fragmentation keeps, resident unless malloc_trim gave whole pages back), `mmapped`
    (blocks mapped on their own); None without glibc."""
    try:
        libc = ctypes.CDLL(None)
        fn = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    fn.restype = _Mallinfo2
    info = fn()
    return {
        "heap": info.arena / 1e6,
        "in_use": info.uordblks / 1e6,
        "free": info.fordblks / 1e6,
        "mmapped": info.hblkhd / 1e6,
    }


def heap_line(now: dict[str, float] | None, before: dict[str, float] | None = None) -> str:
    if now is None:
        return "glibc: not glibc"
    parts = []
    for key in ("heap", "in_use", "free", "mmapped"):
        change = f" ({now[key] - before[key]:+.1f})" if before else ""
        parts.append(f"{key} {now[key]:.1f}{change}")
    return "glibc heap MB: " + ", ".join(parts)


def duplicates(holders: dict[str, Any]) -> list[str]:
    """For each holder (a mapping or an iterable of strings: memo keys, memo values, the
    document frequencies' terms, …): its strings, and how many of them are objects no holder
    listed before it has, though an equal string is there (a copy interning would share).
    Then all of them: distinct values against distinct objects, and the bytes the copies take."""
    by_value: dict[str, int] = {}  # value → id of the first object seen
    objects: set[int] = set()
    copies_bytes = 0
    lines = []
    for name, held in holders.items():
        strings = [s for s in held if type(s) is str]
        copies = 0
        for s in strings:
            if id(s) in objects:
                continue
            objects.add(id(s))
            first = by_value.setdefault(s, id(s))
            if first != id(s):
                copies += 1
                copies_bytes += sys.getsizeof(s)
        lines.append(f"{name}: {len(strings)} strings, {copies} copies of a string held before")
    lines.append(
        f"all: {len(by_value)} distinct strings in {len(objects)} objects; the copies"
        f" {copies_bytes / 1e6:.1f} MB (sys.getsizeof, without their UTF-8 caches)"
    )
    return lines


def types() -> Counter[str]:
    """GC-tracked objects by type name (containers: dicts, lists, tuples, instances; not str,
    bytes, int or float, which the collector does not track)."""
    return Counter(type(obj).__name__ for obj in gc.get_objects())


def summary(now: Pools, before: Pools | None = None) -> list[str]:
    """Lines: the arena totals, then per size class pools / live / free blocks with the change
    since `before` and the utilisation of its pools (live bytes / pool bytes), largest change
    of pools first."""

    def delta(a: float, b: float | None, fmt: str = "+.1f") -> str:
        return "" if b is None else f" ({a - b:{fmt}})"

    b = before
    lines = [
        f"pymalloc: arenas {now.arenas}{delta(now.arenas, b and b.arenas, '+d')}"
        f" = {now.arena_bytes / 1e6:.1f} MB; allocated since start {now.arenas_total},"
        f" reclaimed {now.arenas_reclaimed}; pools in use {now.pools_mb:.1f} MB"
        f"{delta(now.pools_mb, b and b.pools_mb)}, empty pools in arenas"
        f" {now.unused_pools * now.pool_bytes / 1e6:.1f} MB"
        f"{delta(now.unused_pools * now.pool_bytes / 1e6, b and b.unused_pools * b.pool_bytes / 1e6)};"
        f" live blocks {now.live_mb:.1f} MB{delta(now.live_mb, b and b.live_mb)}, free blocks in"
        f" used pools {now.free_in_pools_mb:.1f} MB"
        f"{delta(now.free_in_pools_mb, b and b.free_in_pools_mb)}"
    ]
    rows = []
    for size, (pools, used, free) in now.classes.items():
        p0, u0, f0 = b.classes.get(size, (0, 0, 0)) if b else (0, 0, 0)
        util = size * used / (pools * now.pool_bytes) if pools else 0.0
        rows.append((pools - p0, size, pools, used, free, used - u0, free - f0, util))
    rows.sort(key=lambda r: -abs(r[0]))
    lines.append("size  pools (+) MB(+)    live blocks (+)      free blocks (+)      utilisation")
    for dp, size, pools, used, free, du, df, util in rows:
        lines.append(
            f"{size:4d} {pools:6d} ({dp:+6d}) {dp * now.pool_bytes / 1e6:+6.1f}"
            f" {used:9d} ({du:+8d}) {free:9d} ({df:+8d}) {100 * util:5.1f}%"
        )
    return lines


def type_lines(now: Counter[str], before: Counter[str] | None, top: int = 15) -> list[str]:
    """The `top` GC-tracked types by change of count since `before` (by count without it)."""
    if before is None:
        ranked = now.most_common(top)
        return [f"{n:>10} {name}" for name, n in ranked]
    change = Counter({k: now[k] - before.get(k, 0) for k in set(now) | set(before)})
    ranked = sorted(change.items(), key=lambda kv: -abs(kv[1]))[:top]
    return [f"{now[name]:>10} ({d:+9d}) {name}" for name, d in ranked]


if __name__ == "__main__":
    print(heap_line(glibc_heap()))
    print("\n".join(summary(read())))
    print("\n".join(type_lines(types(), None)))
