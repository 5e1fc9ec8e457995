"""Issue 16, item 5: what one key may cost the API. /alerts is answered from an index of the
newest revisions (same answers as a scan of the whole buffer), a resume is served by bisection
and read back from Kafka in bounded chunks, and a key over its request rate or stream count
gets 429 with Retry-After."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from streams.api import feed as feed_module
from streams.api.access import ApiKey, hash_token, new_token
from streams.api.feed import READBACK_CHUNK, AlertFeed, Entry
from streams.api.limits import KeyLimits
from streams.api.server import FEED, KEYS, build_app
from streams.settings import Settings
from tests.unit.api.test_feed import record


def revision(partition: int, offset: int, alert: int, ts: int) -> Any:
    body = {"id": f"alert-{alert}", "status": "updated", "severity": ("high", "medium")[alert % 2]}
    return SimpleNamespace(
        partition=partition, offset=offset, timestamp=ts, value=orjson.dumps(body), key=None
    )


def reference_page(
    feed: AlertFeed, before: tuple[int, int, int] | None, limit: int, allow: Any
) -> tuple[list[Entry], bool]:
    """What /alerts answered before issue 16: a scan and sort of the whole buffer."""
    last: dict[str, Entry] = {}
    for entry in feed.buffer:
        last[entry.alert["id"]] = entry
    ordered = sorted(last.values(), key=lambda e: e.cursor, reverse=True)
    page: list[Entry] = []
    for entry in ordered:
        if before is not None and entry.cursor >= before:
            continue
        if not allow(entry):
            continue
        if len(page) == limit:
            return page, True
        page.append(entry)
    return page, False


@pytest.mark.parametrize("seed", range(8))
def test_pages_match_a_scan_of_the_whole_buffer(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice([5, 50, 400])
    feed = AlertFeed("unused:9092", "rasid.alerts", size)
    offsets = {p: 0 for p in range(3)}
    for p in offsets:
        feed._start(p, 0, 0)
    ts = 1_700_000_000_000
    for _ in range(rng.randint(1, 3 * size)):
        alert = rng.randint(0, size)  # revisions of the same alert, evictions of old ones
        partition = alert % 3  # an alert's revisions share a partition (keyed by id)
        ts += rng.randint(0, 3)  # equal timestamps too
        feed.add(revision(partition, offsets[partition], alert, ts))
        offsets[partition] += 1
    filters = [lambda e: True, lambda e: e.alert["severity"] == "high", lambda e: False]
    for allow in filters:
        for limit in (1, 3, 50):
            before = None
            for _ in range(100):  # follow next_cursor to the end
                got = feed.page(before, limit, allow)
                assert got == reference_page(feed, before, limit, allow)
                page, more = got
                if not more:
                    break
                before = page[-1].cursor


async def test_a_resume_within_the_buffer_is_served_by_bisection() -> None:
    feed = AlertFeed("unused:9092", "rasid.alerts", 100)
    for p in range(3):
        feed._start(p, 0, 0)
    for o in range(300):
        feed.add(record(o % 3, o // 3))  # the buffer now holds offsets 67..99 of each
    position = {0: 80, 1: 67, 2: 99}
    got = [e async for e in feed.backlog(position)]
    expected = [e for e in feed.buffer if e.offset >= position[e.partition]]
    assert sorted(e.cursor for e in got) == sorted(e.cursor for e in expected)
    assert [e.cursor for e in got] == sorted(e.cursor for e in got)  # merged in time order


async def test_a_forged_resume_reads_back_in_bounded_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`Last-Event-ID: 1.` on a long topic: at most one buffer per partition is read back,
    never more than a chunk at a time, and the buffer's part follows without a gap even if the
    buffer moved on during the read-back."""
    size = 2 * READBACK_CHUNK
    feed = AlertFeed("unused:9092", "rasid.alerts", size)
    feed._start(0, 0, 10 * size)  # a topic of 10 buffers: the buffer starts at 9 * size
    for o in range(9 * size, 10 * size):
        feed.add(record(0, o))
    reads: list[tuple[int, int]] = []
    chunks: list[int] = []

    async def read_range(
        bootstrap: str, topic: str, partition: int, start: int, stop: int
    ) -> AsyncIterator[list[Any]]:
        reads.append((start, stop))
        for at in range(start, stop, READBACK_CHUNK):
            batch = [record(partition, o) for o in range(at, min(stop, at + READBACK_CHUNK))]
            chunks.append(len(batch))
            yield batch
        if len(reads) == 1:  # meanwhile 10 new alerts pushed 10 out of the buffer
            for o in range(10 * size, 10 * size + 10):
                feed.add(record(0, o))

    monkeypatch.setattr(feed_module, "read_range", read_range)
    got = [e.offset async for e in feed.backlog({0: 1})]
    assert reads == [(8 * size, 9 * size), (9 * size, 9 * size + 10)]
    assert max(chunks) <= READBACK_CHUNK
    assert got == list(range(8 * size, 10 * size + 10))  # no gap, no repeat


@pytest.mark.parametrize(
    ("rate", "burst", "times", "refused"),
    [
        (10.0, 3, [0.0, 0.0, 0.0, 0.0], [None, None, None, 1]),  # the burst, then wait
        (10.0, 3, [0.0, 0.0, 0.0, 0.1], [None, None, None, None]),  # refilled at 10/s
        (0.5, 1, [0.0, 0.0, 1.0, 2.0], [None, 2, 1, None]),  # Retry-After rounds up
    ],
)
def test_request_rate_per_key(
    rate: float, burst: int, times: list[float], refused: list[int | None]
) -> None:
    limits = KeyLimits(rate=rate, burst=burst, streams=1)
    assert [limits.request("k", t) for t in times] == refused
    assert limits.request("another key", times[-1]) is None  # each key its own bucket


def test_open_streams_per_key() -> None:
    limits = KeyLimits(rate=1, burst=1, streams=2)
    assert [limits.open_stream("k") for _ in range(3)] == [True, True, False]
    assert limits.open_stream("other")
    limits.close_stream("k")
    assert limits.open_stream("k")
    limits.close_stream("k")
    limits.close_stream("k")
    assert limits.open == {"other": 1}  # nothing kept for a key with no stream


@pytest.fixture
async def keyed() -> AsyncIterator[tuple[TestClient[Any, Any], str, str]]:
    app = build_app(
        Settings(
            kafka_bootstrap="127.0.0.1:1",
            api_keys_required=True,
            api_key_requests_per_second=0.5,
            api_key_burst=3,
            api_key_streams=1,
            api_heartbeat_seconds=0.2,
        ),
        readers=False,
    )
    feed = app[FEED]
    feed._start(0, 0, 0)
    feed.add(record(0, 0))
    feed.ready.set()
    tokens = []
    for name in ("one", "two"):
        key_id, token = new_token()
        app[KEYS].keys[key_id] = ApiKey(id=key_id, name=name, token_hash=hash_token(token))
        tokens.append(token)
    app[KEYS].ready.set()
    async with TestClient(TestServer(app)) as client:
        yield client, tokens[0], tokens[1]


async def test_a_key_over_its_rate_gets_429_with_retry_after(
    keyed: tuple[TestClient[Any, Any], str, str],
) -> None:
    client, one, two = keyed
    auth = {"Authorization": f"Bearer {one}"}
    statuses = [(await client.get("/alerts", headers=auth)).status for _ in range(3)]
    assert statuses == [200, 200, 200]  # the burst
    refused = await client.get("/alerts", headers=auth)
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert set(await refused.json()) == {"error"}
    other = await client.get("/alerts", headers={"Authorization": f"Bearer {two}"})
    assert other.status == 200  # another key is not affected


async def test_a_key_over_its_stream_count_gets_429(
    keyed: tuple[TestClient[Any, Any], str, str],
) -> None:
    client, one, _ = keyed
    auth = {"Authorization": f"Bearer {one}"}
    first = await client.get("/alerts/stream", headers=auth)
    assert first.status == 200
    second = await client.get("/alerts/stream", headers=auth)
    assert second.status == 429 and second.headers["Retry-After"] == "5"
    first.close()  # the client goes away: its stream slot is given back
    for _ in range(50):
        if not client.app[FEED].queues:
            break
        await asyncio.sleep(0.05)
    third = await client.get("/alerts/stream", headers=auth)
    assert third.status == 200
    third.close()
