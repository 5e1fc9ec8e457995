"""A push's records say how many it has (`push_header`): a worker reading a push that is still
arriving compiles only once its last record is in (never a part of the pack, however far
apart its batches come), compiles right after that last record (no settle), and reads records
without the header (an older push's) as it always did."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition

from streams.rules import RuleSet
from streams.rules.messages import (
    PUSH_HEADER,
    push_header,
    read_push_header,
)
from streams.settings import Settings
from streams.worker import live_rules
from streams.worker.live_rules import LiveRules, RuleReader
from tests.unit.worker.test_live_rules import rule_records, swaps_while_following  # shared

Record = tuple[bytes | None, bytes | None]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([push_header("ab12", 0, 3)], ("ab12", 0, 3)),
        ([push_header("ab12", 2, 3)], ("ab12", 2, 3)),
        ([("other", b"x"), (PUSH_HEADER, b"p 1 2")], ("p", 1, 2)),
        (None, None),  # an older push: no header
        ([], None),
        ([("other", b"p 1 2")], None),
        ([(PUSH_HEADER, b"p 3 3")], None),  # past the end
        ([(PUSH_HEADER, b"p -1 3")], None),
        ([(PUSH_HEADER, b" 0 3")], None),  # no push id
        ([(PUSH_HEADER, b"p 0")], None),
        ([(PUSH_HEADER, b"p 0 3 4")], None),
        ([(PUSH_HEADER, b"p x 3")], None),
        ([(PUSH_HEADER, "p 0 3".encode("utf-16"))], None),  # not ASCII
        ([(PUSH_HEADER, None)], None),
    ],
)
def test_push_header_reads_back_and_anything_else_is_no_push(
    headers: Any, expected: tuple[str, int, int] | None
) -> None:
    assert read_push_header(headers) == expected


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]] = []

    async def send(self, topic: str, value: bytes | None, *, key: bytes, headers: Any) -> Any:
        self.sent.append((topic, value, key, headers))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_publish_numbers_a_push_and_leaves_keys_and_values_as_they_were() -> None:
    """Keys and values are what they were without the header: a worker that reads only
    those (one that predates the header) folds the same state."""
    producer = _Producer()
    records = [(k.decode(), v) for k, v in rule_records(3)] + [("gone", None)]
    await live_rules.publish(Settings(), records, producer=producer)
    await live_rules.publish(Settings(), records[:1], producer=producer)
    assert [(key.decode(), value) for _, value, key, _ in producer.sent] == records + records[:1]
    marks = [read_push_header(headers) for *_, headers in producer.sent]
    assert all(mark is not None for mark in marks)
    first, second = {m[0] for m in marks[:4] if m}, {m[0] for m in marks[4:] if m}
    assert len(first) == 1 and len(second) == 1 and first != second  # one id per push
    assert [m[1:] for m in marks if m] == [(0, 4), (1, 4), (2, 4), (3, 4), (0, 1)]


class _Arriving:
    """A fake consumer of one partition whose records reach the broker over time: each fetch
    brings the next batch (None: nothing new yet); the high watermark is what has arrived so
    far, as on a broker while a push is still being written."""

    def __init__(self, batches: list[list[Record] | None], push: str | None = "p") -> None:
        self.batches = batches
        total = sum(len(b) for b in batches if b)
        self.pos = self.high = 0
        self.fetches = 0
        self.push, self.total, self.written = push, total, time.time() * 1000

    async def getmany(self, *partitions: Any, timeout_ms: int) -> dict[Any, list[Any]]:
        self.fetches += 1
        got = self.batches.pop(0) if self.batches else None
        if not got:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        out = []
        for key, value in got:
            headers = [push_header(self.push, self.pos, self.total)] if self.push else []
            out.append(
                SimpleNamespace(key=key, value=value, headers=headers, timestamp=self.written)
            )
            self.pos += 1
        self.high = self.pos
        return {partitions[0]: out}

    def highwater(self, tp: TopicPartition) -> int:
        return self.high

    async def position(self, tp: TopicPartition) -> int:
        return self.pos

    async def end_offsets(self, partitions: Any) -> dict[Any, int]:
        return {tp: self.high for tp in partitions}


def _reader(topic: _Arriving) -> RuleReader:
    reader = RuleReader(Settings())
    reader.consumer = topic  # type: ignore[assignment]
    reader.partitions = [TopicPartition("rasid.rules", 0)]
    return reader


QUIET = None  # a fetch that finds nothing yet


@pytest.mark.parametrize(
    ("push", "batches", "rules", "fetches"),
    [
        # a numbered push whose batches come further apart than the settle: read whole
        ("p", [[0, 10], QUIET, QUIET, [10, 20], QUIET, [20, 30]], 30, 6),
        # its last record in the first fetch: no settling fetch at all
        ("p", [[0, 30]], 30, 1),
        ("p", [[0, 10], [10, 30]], 30, 2),
        # an older push (no header): settles as before, and so stops at the first quiet fetch
        (None, [[0, 10], QUIET, QUIET, [10, 20], QUIET, [20, 30]], 10, 2),
        (None, [[0, 30]], 30, 2),
    ],
)
async def test_catch_up_reads_a_numbered_push_whole_and_stops_at_its_last_record(
    push: str | None, batches: list[list[int] | None], rules: int, fetches: int
) -> None:
    records = rule_records(30)
    topic = _Arriving([records[b[0] : b[1]] if b else None for b in batches], push)
    reader = _reader(topic)
    assert await reader.poll() is True
    await reader.catch_up(settle_ms=1)
    assert len(reader.state.specs) == rules
    assert topic.fetches == fetches


async def test_a_push_that_stops_halfway_is_compiled_after_the_gap(
    monkeypatch: Any, caplog: Any
) -> None:
    monkeypatch.setattr(live_rules, "PUSH_GAP_S", 0.2)
    records = rule_records(30)
    topic = _Arriving([records[:10], *([QUIET] * 1000)])
    topic.total = 30  # its last 20 records never come
    reader = _reader(topic)
    started = time.monotonic()  # (before the record comes: the gap counts from it)
    await reader.poll()
    await reader.catch_up(settle_ms=20)
    assert 0.2 <= time.monotonic() - started < 5.0  # bounded: waited the gap, not forever
    assert len(reader.state.specs) == 10
    assert "did not arrive whole" in caplog.text


async def test_following_a_slow_push_swaps_the_whole_pack_once() -> None:
    """The guarantee: the pipeline never gets a part of a push (articles matched by half a
    pack), even when the push's batches come further apart than the settle time."""
    records = rule_records(40)
    gaps = [QUIET] * 3  # 3 quiet fetches of SETTLE_MS: 600 ms between batches
    topic = _Arriving([QUIET, records[:20], *gaps, records[20:]])
    swapped = await swaps_while_following(_reader(topic))
    assert [len(r) for r in swapped] == [40]


@pytest.mark.parametrize(
    ("written_ago", "rules"),
    [
        (0.0, 30),  # a push being written as the worker starts: the first load waits for it
        (60.0, 10),  # a push that died a minute ago (or records compacted away): no wait
    ],
)
async def test_a_start_inside_a_push_loads_the_whole_push(
    monkeypatch: Any, written_ago: float, rules: int
) -> None:
    records = rule_records(30)
    topic = _Arriving([records[:10], QUIET, QUIET, records[10:]])
    topic.total, topic.written = 30, (time.time() - written_ago) * 1000
    topic.high = 10  # on the broker when the worker starts: the first 10
    reader = _reader(topic)

    async def start() -> None:
        pass

    monkeypatch.setattr(reader, "start", start)
    monkeypatch.setattr(live_rules, "RuleReader", lambda settings: reader)
    swapped: list[RuleSet] = []
    live = LiveRules(Settings(), lambda ruleset, _state: swapped.append(ruleset))
    await live.load()  # the end offsets fall after the first 10 records
    assert [len(r) for r in swapped] == [rules]


async def test_records_with_headers_fold_as_without() -> None:
    """What a push's records carry in headers changes nothing in the fold: a full pack read
    with and without them gives the same rule set."""
    records = rule_records(20)
    with_headers, without = _reader(_Arriving([records])), _reader(_Arriving([records], None))
    for reader in (with_headers, without):
        await reader.poll()
    a, b = with_headers.state, without.state
    assert a.fingerprint() == b.fingerprint() and a.messages == b.messages
    assert len(a.specs) == 20 and a.specs == b.specs
