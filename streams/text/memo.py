"""A bounded word → result memo for the matchers' per-word work (stems, phrase starts).

News vocabulary is Zipfian: a few thousand words make most of every article, so remembering
what a word can start turns the matchers' per-word work into one dict lookup. Hostile or
merely long-running input brings new words forever, so the memo is bounded: when full, the
oldest half goes (dicts keep insertion order), and the common words come back at once.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Generic, TypeVar

V = TypeVar("V")

DEFAULT_CAP = 100_000
UNSEEN: Any = object()  # a `get` default: the memo has not seen the word


class WordMemo(dict[str, V], Generic[V]):
    """A dict (so `get` stays a C call in hot loops) that stays under `cap` entries."""

    def __init__(self, cap: int = DEFAULT_CAP) -> None:
        super().__init__()
        self.cap = cap

    def remember(self, word: str, value: V) -> V:
        if len(self) >= self.cap:
            for old in list(islice(self, len(self) // 2 or 1)):
                del self[old]
        self[word] = value
        return value
