"""The API's alert feed without a broker: records are fed to AlertFeed.add by hand, streams are
its queues."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson

from streams.api.feed import STREAM_QUEUE, AlertFeed, Entry


def record(partition: int, offset: int, **alert: Any) -> Any:
    body = {"id": f"a-{partition}-{offset}", "status": "new", **alert}
    return SimpleNamespace(
        partition=partition,
        offset=offset,
        timestamp=1_700_000_000_000 + offset,
        value=orjson.dumps(body),
        key=None,
    )


def feed_of(partitions: int = 1, size: int = 10 * STREAM_QUEUE) -> AlertFeed:
    feed = AlertFeed("unused:9092", "rasid.alerts", size)
    for p in range(partitions):
        feed._start(p, 0, 0)  # an empty topic: the buffer serves everything from offset 0
    return feed


def drain(queue: asyncio.Queue[Entry | None]) -> tuple[list[Entry], bool]:
    """What a stream sends from its queue: the entries, and whether it was told to end."""
    out: list[Entry] = []
    while not queue.empty():
        item = queue.get_nowait()
        if item is None:
            return out, True
        out.append(item)
    return out, False


async def test_a_cut_stream_resumes_with_no_gap_and_no_repeat() -> None:
    feed = feed_of()
    queue = feed.subscribe()
    total = STREAM_QUEUE + 50  # the client reads nothing meanwhile: its queue overflows
    for offset in range(total):
        feed.add(record(0, offset))
    delivered, ended = drain(queue)
    assert ended  # too slow: disconnected …
    assert queue not in feed.queues  # … and no longer fed
    offsets = [e.offset for e in delivered]
    assert offsets == list(range(len(offsets)))  # what it got has no hole
    # It resumes with the id of the last event it received: the next offset of partition 0.
    resumed = await feed.since({0: offsets[-1] + 1})
    got = offsets + [e.offset for e in resumed]
    assert got == list(range(total))  # no gap, no repeat
    feed.unsubscribe(queue)


async def test_a_cut_stream_on_several_partitions_loses_nothing() -> None:
    feed = feed_of(partitions=3)
    queue = feed.subscribe()
    sent = [(o % 3, o // 3) for o in range(STREAM_QUEUE + 10)]
    for p, o in sent:
        feed.add(record(p, o))
    delivered, ended = drain(queue)
    assert ended
    position = {p: 0 for p in range(3)}
    for e in delivered:
        assert e.offset == position[e.partition]  # in order, nothing skipped
        position[e.partition] = e.offset + 1
    resumed = await feed.since(position)
    assert sorted((e.partition, e.offset) for e in delivered + resumed) == sorted(sent)
    feed.unsubscribe(queue)


async def test_streams_within_the_bound_are_not_cut() -> None:
    feed = feed_of()
    queue = feed.subscribe()
    for offset in range(STREAM_QUEUE):
        feed.add(record(0, offset))
    delivered, ended = drain(queue)
    assert not ended and len(delivered) == STREAM_QUEUE and queue in feed.queues
    feed.unsubscribe(queue)
