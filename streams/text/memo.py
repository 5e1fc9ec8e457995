"""A bounded word → result memo for the matchers' per-word work (stems, phrase starts).

News vocabulary is Zipfian: a few thousand words make most of every article, so remembering
what a word can start turns the matchers' per-word work into one dict lookup. Hostile or
merely long-running input brings new words forever, so the memo is bounded. When full, the
first half of the cap stays (the words remembered first: most of them the feed's common words,
which come first under Zipf's law) and the older half of the rest goes (dicts keep insertion
order), so new words turn over while the common ones are not computed again. Dropping the
oldest half instead, the common words were computed again after every overflow: with caps
below a feed's vocabulary (docs/performance.md, "Memory: round eleven") that doubled the
misses per article on a corpus seen before.
`Memo` is the same for other keys (the topic model's forms, by their UTF-8 bytes).
"""

from __future__ import annotations

from collections.abc import Hashable
from itertools import islice
from sys import intern
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_CAP = 100_000
UNSEEN: Any = object()  # a `get` default: the memo has not seen the word


class Memo(dict[K, V], Generic[K, V]):
    """A dict (so `get` stays a C call in hot loops) that stays under `cap` entries."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        super().__init__()
        self.cap = cap

    def remember(self, key: K, value: V) -> V:
        if len(self) >= self.cap:
            kept = self.cap // 2  # the first remembered, kept
            turnover = len(self) - kept
            for old in list(islice(self, kept, kept + (turnover // 2 or 1))):
                del self[old]
            self._compact()
        self[key] = value
        return value

    def _compact(self) -> None:
        """Rebuild the hash table for what the memo holds, same entries in the same order.
        CPython keeps a deleted entry's slot until the table is full, then resizes for three
        times the entries left: after its first turnovers a memo at its cap had a table twice
        the size a copy of it needs (1.9 MB more at 60,000 entries; docs/performance.md,
        "Memory: round thirteen"). Rebuilt once per turnover (a quarter of the cap's misses),
        the deleted slots never fill it, so it keeps the table of one full memo."""
        entries = dict(self)  # presized for its entries
        self.clear()
        self.update(entries)  # an empty dict takes a compact dict's table as it is


class WordMemo(Memo[str, V]):
    """A `Memo` of words. A key is interned when remembered (`sys.intern`, on a miss only): a
    worker's word memos (topic model, story terms, phrase starts) then share one string per
    word, where each kept the token of whichever article it first saw the word in (at 10,000
    ANT articles 48,000 copies, ~5 MB with their pools: docs/performance.md, "Memory: round
    ten"). Lookups are unchanged: they hash and compare as before."""

    def remember(self, key: str, value: V) -> V:
        return super().remember(intern(key), value)
