"""The stories the story stage works on: all of them in memory, the ones worth keeping in the
changelog-backed table too.

Most stories are one article that no other outlet reports (ANT: ~21,000 stories for 31,500
articles). Writing each of them to the table's changelog, one message per article, cost the
worker more than the clustering itself (bench/pipeline.py: faust's producer buffer filled and
held the streams back; docs/subscribers.md). So a story reaches the table once it has two
articles, or as soon as it has an alert (`keep`): an alert must keep finding its story after a
restart, or the next report would open a second alert. What a restart loses is the one-article
stories without an alert: a later report of one of those opens a story of its own, as if the
first article had come before the window.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from streams.stories.cluster import compact


class StoryStore(MutableMapping[str, Any]):
    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table  # faust Table (default None), or a dict in tests
        self.live: dict[str, Any] = {}
        self.kept: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        value = self.live.get(key)
        if value is None:
            value = self.table.get(key)
            if value is None:
                return default
            # restored from the changelog: its centroids made compact, in place (the table's
            # own object, whose JSON does not change: no write)
            self.live[key] = compact(value)
        return value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self.live[key] = value
        if value["size"] >= 2 or key in self.kept:
            self.table[key] = value

    def keep(self, key: str) -> None:
        """The story has an alert: keep it in the table from now on."""
        if key not in self.kept:
            self.kept.add(key)
            value = self.get(key)
            if value is not None and value["size"] < 2:
                self.table[key] = value

    def __delitem__(self, key: str) -> None:
        found = self.live.pop(key, None) is not None
        self.kept.discard(key)
        if self.table.get(key) is not None:
            del self.table[key]
            found = True
        if not found:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield from list(self.live)
        yield from [k for k, v in list(self.table.items()) if v is not None and k not in self.live]

    def __len__(self) -> int:
        return len(self.live) + sum(
            1 for k, v in self.table.items() if v is not None and k not in self.live
        )

    def forget_memory(self) -> None:
        """After a partition assignment: the table is the truth again."""
        self.live.clear()
        self.kept.clear()
