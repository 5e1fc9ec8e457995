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
    resumed = [e async for e in feed.backlog({0: offsets[-1] + 1})]
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
    resumed = [e async for e in feed.backlog(position)]
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


async def test_revoking_a_key_ends_its_streams_and_drops_what_they_hold() -> None:
    feed = feed_of()
    mine, mine_too, other = feed.subscribe("k1"), feed.subscribe("k1"), feed.subscribe("k2")
    for offset in range(5):
        feed.add(record(0, offset))
    assert feed.revoke("k1") == 2
    for queue in (mine, mine_too):
        assert drain(queue) == ([], True)  # nothing more is sent, the stream ends
        assert feed.is_revoked(queue) and queue not in feed.queues
    feed.add(record(0, 5))
    delivered, ended = drain(other)
    assert not ended and [e.offset for e in delivered] == list(range(6))  # others go on
    for queue in (mine, mine_too, other):
        feed.unsubscribe(queue)
    assert not feed.revoked and not feed.owners


def test_the_key_store_reports_revoked_and_changed_keys() -> None:
    from streams.api.access import ApiKey
    from streams.api.feed import KeyStore

    revoked: list[str] = []
    store = KeyStore("unused:9092", "rasid.apikeys", on_revoke=revoked.append)

    def put(key_id: str, value: ApiKey | None) -> None:
        body = orjson.dumps(value.record()) if value else None
        store.add(SimpleNamespace(key=key_id.encode(), value=body))

    put("k1", ApiKey("k1", "desk", "h1"))
    put("k1", ApiKey("k1", "desk", "h1"))  # the same record again (compaction, a re-read)
    assert revoked == []
    put("k1", ApiKey("k1", "desk", "h1", regions=frozenset({"IQ"})))  # re-scoped
    put("k1", None)  # revoked
    put("k9", None)  # unknown: nothing to close
    assert revoked == ["k1", "k1"] and "k1" not in store.keys
