"""A memo at its cap keeps the hash table of one full memo however often it turns over, and
the compaction changes nothing it holds (issue 13; docs/performance.md "Memory: round
thirteen"): CPython keeps deleted slots until the table is full and then resizes for three
times the entries left, so before it a memo that had turned over a few times held a table
twice the size a copy of it needs (3.8 against 1.9 MB at 60,000 entries)."""

from __future__ import annotations

import sys
from itertools import islice
from typing import Any

import pytest

from streams.text.memo import Memo, WordMemo


class _Reference:
    """The eviction without the compaction: when full, the first half of the cap stays and
    the older half of the rest goes (dicts keep insertion order)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.held: dict[Any, Any] = {}

    def remember(self, key: Any, value: Any) -> None:
        held = self.held
        if len(held) >= self.cap:
            kept = self.cap // 2
            for old in list(islice(held, kept, kept + ((len(held) - kept) // 2 or 1))):
                del held[old]
        held[key] = value


def _full_table(cap: int) -> int:
    """Bytes of a dict that was filled with `cap` entries one by one, never deleted from."""
    d: dict[int, int] = {}
    for i in range(cap):
        d[i] = i
    return sys.getsizeof(d)


@pytest.mark.parametrize(
    ("cap", "inserted"),
    [
        (60_000, 60_001),  # the first turnover
        (60_000, 200_000),  # many: the table had doubled by the third
        (64_000, 150_000),  # story terms
        (40_000, 130_000),  # topic forms
        (1_000, 10_000),
        (7, 100),
    ],
)
def test_a_memo_keeps_the_table_of_one_full_memo(cap: int, inserted: int) -> None:
    memo: Memo[int, int] = Memo(cap)
    bound = _full_table(cap) + 64  # the subclass's instance adds a few bytes
    for i in range(inserted):
        memo.remember(i, -i)
        assert len(memo) <= cap
        if i % 997 == 0:
            assert sys.getsizeof(memo) <= bound, i
    assert sys.getsizeof(memo) <= bound


@pytest.mark.parametrize(
    ("cap", "keys"),
    [
        (5, [f"w{i}" for i in range(40)]),
        (8, [f"w{i % 13}" for i in range(60)]),  # words that come back after being dropped
        (1_000, [f"w{i}" for i in range(5_000)]),
        (1_000, [f"w{(i * 7) % 1_500}" for i in range(6_000)]),
    ],
)
def test_the_compaction_changes_no_entry_and_no_order(cap: int, keys: list[str]) -> None:
    memo: WordMemo[int] = WordMemo(cap)
    reference = _Reference(cap)
    for key in keys:
        if memo.get(key) is None:  # a miss, as the matchers call it
            memo.remember(key, len(key))
        if key not in reference.held:
            reference.remember(key, len(key))
        assert list(memo.items()) == list(reference.held.items())
