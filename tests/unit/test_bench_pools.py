"""bench/pools.py: the pymalloc statistics and the string copies that state_growth.py --pools
and --dups print (docs/performance.md, "Memory: round ten") are read right."""

from __future__ import annotations

import sys

import pytest

from bench import pools

DUMP = """Small block threshold = 512, in 32 size classes.

class   size   num pools   blocks in use  avail blocks
-----   ----   ---------   -------------  ------------
    0     16           2            1000            18
    5     96          10            1600            90

# arenas allocated total           =                  434
# arenas reclaimed                 =                  300
# arenas highwater mark            =                  134
# arenas allocated current         =                  134
134 arenas * 1048576 bytes/arena   =          140,509,184

# bytes in allocated blocks        =            2,192,720
36 unused pools * 16384 bytes      =              589,824
Total                              =            3,145,728

arena map counts
# arena map mid nodes              =                    1
Total                              =              655,360
"""


def test_a_dump_is_parsed() -> None:
    got = pools.parse(DUMP)
    assert got.classes == {16: (2, 1000, 18), 96: (10, 1600, 90)}
    assert (got.arenas, got.arenas_total, got.arenas_reclaimed) == (134, 434, 300)
    assert got.arena_bytes == 140_509_184
    assert (got.unused_pools, got.pool_bytes) == (36, 16384)
    assert got.totals["Total"] == 3_145_728  # the pools' total, not the arena map's after it
    assert got.live_mb == pytest.approx((16 * 1000 + 96 * 1600) / 1e6)
    assert got.free_in_pools_mb == pytest.approx((16 * 18 + 96 * 90) / 1e6)


def test_this_interpreters_statistics_are_read() -> None:
    got = pools.read()
    assert got.arenas > 0 and got.classes and got.pool_bytes == pools.POOL


def test_summary_gives_the_change_and_the_utilisation() -> None:
    before, now = (
        pools.parse(DUMP),
        pools.parse(DUMP.replace("10            1600", "12            1700")),
    )
    lines = pools.summary(now, before)
    row = next(line for line in lines[2:] if line.split()[0] == "96")
    assert "(    +2)" in row and "(    +100)" in row
    assert row.endswith(f"{100 * 96 * 1700 / (12 * 16384):5.1f}%")


def fresh(text: str) -> str:
    return text.encode().decode()


@pytest.mark.parametrize(
    ("holders", "copies"),
    [
        ({"a": ["كلمة"], "b": ["كلمة"]}, 0),  # one object (a literal): no copy
        ({"a": [fresh("كلمة")], "b": [fresh("كلمة")]}, 1),
        ({"a": [fresh("كلمة"), fresh("كلمة")], "b": []}, 1),
        ({"a": [sys.intern(fresh("نص"))], "b": [sys.intern(fresh("نص"))]}, 0),
    ],
)
def test_copies_of_one_string_are_counted(holders: dict[str, list[str]], copies: int) -> None:
    *each, last = pools.duplicates(holders)
    counted = sum(int(line.split(", ")[1].split()[0]) for line in each)  # "…, N copies of …"
    assert counted == copies
    distinct = len({s for held in holders.values() for s in held})
    objects = len({id(s) for held in holders.values() for s in held})
    assert f"{distinct} distinct strings in {objects} objects" in last
