"""Trends for subscribers (issue 19): the API's bounded buffer of recent trend records read from
`<prefix>.trends` (schema trend.v2, written by the worker's trend stage), and the trend filter
that `GET /trends`, the stream's `event: trend` and webhook subscriptions share.

A trend record is never revised (the detector sends one record per level per episode, with a
deterministic id), so the buffer keeps each id once; a record read again (the worker's
at-least-once delivery, a replay) replaces its earlier copy and is not streamed twice.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from streams import metrics
from streams.api.feed import tail
from streams.errors import BadInput
from streams.filters import in_range, scope_params
from streams.trends.detector import LEVELS
from streams.validation import decode_valid

log = logging.getLogger("rasid.api")

TREND_BUFFER = 2000  # records kept (ANT: ~110 records in eight months)
TREND_BUFFER_BYTES = 16 * 2**20  # ... and at most this much JSON
TREND_MAX_BYTES = 256 * 2**10  # a larger record is skipped unread (real ones are ~2-10 KB)
LEVEL_RANK = {level: i for i, level in enumerate(LEVELS)}


@dataclass(frozen=True, slots=True)
class TrendEntry:
    """One trend record, where it sits in Kafka, and its JSON (sent as is)."""

    partition: int
    offset: int
    timestamp: int  # ms, the broker record's timestamp
    trend: dict[str, Any]
    data: str

    @property
    def cursor(self) -> tuple[int, int, int]:
        return (self.timestamp, self.partition, self.offset)


def trend_entry(record: Any) -> TrendEntry | None:
    """A valid trend.v2 record of the topic, or None (invalid JSON, schema violation, too big)."""
    value = record.value or b""
    if len(value) > TREND_MAX_BYTES:
        return None
    try:
        trend = decode_valid("trend", value, "trend record")
    except BadInput:
        return None
    return TrendEntry(
        record.partition, record.offset, int(record.timestamp), trend, orjson.dumps(trend).decode()
    )


@dataclass(frozen=True)
class TrendFilter:
    """What a subscriber asked for. Empty sets mean "any". `regions` match a trend's region
    (a group such as GULF) or one of its member regions; `topics` its topic; `rules` a rule
    trend's rule; `min_level` is a minimum (elevated < high < extreme); `since`/`until` bound
    `detected_at` (event time), both inclusive."""

    regions: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    min_level: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> TrendFilter:
        """From query parameters or a subscription's `trend_filters`; ValueError names a bad
        one (without quoting its value)."""
        level = params.get("level") or params.get("min_level") or None
        if level is not None and level not in LEVEL_RANK:
            raise ValueError(f"level must be one of {', '.join(LEVELS)}")
        return cls(min_level=level, **scope_params(params))

    def matches(self, trend: Mapping[str, Any]) -> bool:
        if self.regions and not self.regions & {*trend.get("regions", ()), trend.get("region")}:
            return False
        if self.topics and not self.topics & {*trend.get("topics", ()), trend.get("topic")}:
            return False
        if self.rules and trend.get("rule") not in self.rules:
            return False
        if (
            self.min_level
            and LEVEL_RANK.get(trend.get("level", ""), -1) < LEVEL_RANK[self.min_level]
        ):
            return False
        return in_range(trend.get("detected_at"), self.since, self.until)


class TrendFeed:
    """Recent trend records (bounded in count and bytes), newest first for `GET /trends`, and
    handed to the live streams through `fan_out` (the alert feed's stream queues)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        size: int = TREND_BUFFER,
        max_bytes: int = TREND_BUFFER_BYTES,
        fan_out: Callable[[TrendEntry], None] | None = None,
    ) -> None:
        self.bootstrap, self.topic, self.size, self.max_bytes = bootstrap, topic, size, max_bytes
        self.fan_out = fan_out
        self.buffer: deque[TrendEntry] = deque()
        self.bytes = 0
        self.by_id: dict[str, TrendEntry] = {}
        self.newest: list[tuple[tuple[int, int, int], str]] = []  # sorted (cursor, id)
        self.position: dict[int, int] = {}  # partition → next offset
        self.skipped = 0  # invalid records (also rasid_trend_records_invalid_total)
        self.ready = asyncio.Event()  # the ends seen at startup were reached

    def _start(self, partition: int, begin: int, end: int) -> int:
        if partition in self.position:  # a restarted reader goes on where it was
            return max(begin, self.position[partition])
        at = max(begin, end - self.size)
        self.position[partition] = at
        return at

    def add(self, record: Any) -> None:
        self.position[record.partition] = record.offset + 1
        entry = trend_entry(record)
        if entry is None:
            self.skipped += 1
            metrics.TREND_RECORDS_INVALID.labels(reader="api").inc()
            # no content in the log: the record's partition and offset find it
            log.warning(
                "invalid trend record skipped",
                extra={"topic": self.topic, "partition": record.partition, "offset": record.offset},
            )
            return
        trend_id = entry.trend["id"]
        previous = self.by_id.get(trend_id)
        while self.buffer and (
            len(self.buffer) >= self.size or self.bytes + len(entry.data) > self.max_bytes
        ):
            self._evict()
        self.buffer.append(entry)
        self.bytes += len(entry.data)
        if previous is not None:
            self._unlist(previous)
        self.by_id[trend_id] = entry
        bisect.insort(self.newest, (entry.cursor, trend_id))
        if previous is None and self.fan_out is not None:
            self.fan_out(entry)

    def _evict(self) -> None:
        old = self.buffer.popleft()
        self.bytes -= len(old.data)
        if self.by_id.get(old.trend["id"]) is old:
            self._unlist(old)
            del self.by_id[old.trend["id"]]

    def _unlist(self, entry: TrendEntry) -> None:
        item = (entry.cursor, entry.trend["id"])
        i = bisect.bisect_left(self.newest, item)
        if i < len(self.newest) and self.newest[i] == item:
            del self.newest[i]

    async def run(self) -> None:
        await tail(self.bootstrap, self.topic, self.add, start=self._start, ready=self.ready)

    def page(
        self, before: tuple[int, int, int] | None, limit: int, allow: Callable[[TrendEntry], bool]
    ) -> tuple[list[TrendEntry], bool]:
        """Up to `limit` records older than the cursor `before` that `allow` passes, newest
        first, and whether there are more."""
        end = len(self.newest) if before is None else bisect.bisect_left(self.newest, (before,))
        page: list[TrendEntry] = []
        for i in range(end - 1, -1, -1):
            entry = self.by_id[self.newest[i][1]]
            if allow(entry):
                if len(page) == limit:
                    return page, True
                page.append(entry)
        return page, False
