"""The live rule store folds and compiles off the event loop: a large pack arriving does not
hold the agents, /metrics or the consumer's heartbeats for seconds."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
from aiokafka import TopicPartition

from streams.rules import RuleSet
from streams.rules.messages import RuleState, build_message
from streams.settings import Settings
from streams.times import utcnow
from streams.worker.live_rules import LiveRules, RuleReader


def rule_records(n: int) -> list[tuple[bytes | None, bytes | None]]:
    now = utcnow()
    out: list[tuple[bytes | None, bytes | None]] = []
    for i in range(n):
        rule = {"id": f"r-{i}", "version": 1, "title": f"rule {i}", "severity": "low"}
        rule["match"] = f"كلمة{i} خاصة{i}"
        out.append((rule["id"].encode(), orjson.dumps(build_message(rule, {}, version=1, now=now))))
    return out


async def _ticks_during(work: Any) -> int:
    """How often another coroutine ran while `work` was awaited."""
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    try:
        await work
    finally:
        stop.set()
        await task
    return ticks - before


class _Consumer:
    """What `RuleReader.poll` uses of an AIOKafkaConsumer: one fetch of these records."""

    def __init__(self, records: list[tuple[bytes | None, bytes | None]]) -> None:
        self.records = records

    async def getmany(self, *partitions: Any, timeout_ms: int) -> dict[Any, list[Any]]:
        got, self.records = self.records, []
        return {
            partitions[0]: [
                SimpleNamespace(key=k, value=v, headers=(), timestamp=0) for k, v in got
            ]
        }


async def test_folding_a_large_fetch_lets_the_loop_run() -> None:
    reader = RuleReader(Settings())
    reader.consumer = _Consumer(rule_records(2000))  # type: ignore[assignment]
    reader.partitions = [TopicPartition("rasid.rules", 0)]
    ticks = await _ticks_during(reader.poll())
    assert ticks > 0  # the loop ran while 2,000 rule messages were checked and parsed
    assert len(reader.state.specs) == 2000
    assert await reader.poll() is False  # nothing more: nothing changed


async def test_compiling_happens_off_the_loop_and_the_swap_is_one_store() -> None:
    state = RuleState()
    for key, value in rule_records(2000):
        state.apply(key, value)
    swapped: list[RuleSet] = []
    live = LiveRules(Settings(), lambda ruleset, _state: swapped.append(ruleset))
    ticks = await _ticks_during(live._swap(state))
    assert ticks > 0  # the loop ran while the 2,000 rules compiled
    (ruleset,) = swapped
    assert len(ruleset) == 2000


class _Topic:
    """A fake consumer of one partition: each fetch brings the next batch (None: a fetch that
    finds nothing new yet); `high` is the broker's end, as a fetch response reports it."""

    def __init__(self, batches: list[list[tuple[bytes | None, bytes | None]] | None]) -> None:
        self.batches = batches
        self.pos = 0
        self.high = sum(len(b) for b in batches if b)  # everything is on the broker already
        self.fetches = 0

    async def getmany(self, *partitions: Any, timeout_ms: int) -> dict[Any, list[Any]]:
        self.fetches += 1
        got = self.batches.pop(0) if self.batches else None
        if not got:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        self.pos += len(got)
        return {
            partitions[0]: [
                SimpleNamespace(key=k, value=v, headers=(), timestamp=0) for k, v in got
            ]
        }

    def highwater(self, tp: TopicPartition) -> int:
        return self.high

    async def position(self, tp: TopicPartition) -> int:
        return self.pos


def _reader(topic: _Topic) -> RuleReader:
    reader = RuleReader(Settings())
    reader.consumer = topic  # type: ignore[assignment]
    reader.partitions = [TopicPartition("rasid.rules", 0)]
    return reader


async def test_catch_up_reads_a_pack_arriving_over_several_fetches_before_compiling() -> None:
    records = rule_records(30)
    # the pack comes in pieces; one fetch in the middle finds nothing yet, but the end the
    # broker reported is not reached, so reading goes on
    topic = _Topic([records[:10], records[10:20], None, records[20:]])
    reader = _reader(topic)
    assert await reader.poll() is True  # the first piece: what `follow` wakes up on
    assert await reader.catch_up(settle_ms=1) is True
    assert len(reader.state.specs) == 30
    assert topic.fetches == 5  # the four, then one that found nothing at the end: done


async def test_catch_up_stops_at_the_end_after_one_quiet_fetch() -> None:
    topic = _Topic([rule_records(5)])
    reader = _reader(topic)
    await reader.poll()
    assert await reader.catch_up(settle_ms=1) is False  # nothing more came: nothing changed
    assert topic.fetches == 2


async def swaps_while_following(reader: RuleReader) -> list[RuleSet]:
    """The rule sets `LiveRules.follow` swaps in from `reader`: until the first, and 0.3 s
    more (a second compile would have come by then)."""
    swapped: list[RuleSet] = []
    live = LiveRules(Settings(), lambda ruleset, _state: swapped.append(ruleset))
    live.reader = reader
    follower = asyncio.create_task(live.follow())
    try:
        for _ in range(500):
            if swapped:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
    finally:
        follower.cancel()
    return swapped


async def test_a_pack_in_several_fetches_is_compiled_and_swapped_once() -> None:
    topic = _Topic([None, *(list(b) for b in _chunks(rule_records(40), 10))])
    swapped = await swaps_while_following(_reader(topic))
    assert [len(r) for r in swapped] == [40]


def _chunks(
    records: list[tuple[bytes | None, bytes | None]], size: int
) -> list[list[tuple[bytes | None, bytes | None]]]:
    return [records[i : i + size] for i in range(0, len(records), size)]


async def test_rule_versions_are_published_for_the_changed_and_removed_rules() -> None:
    from prometheus_client import REGISTRY

    def version(rule_id: str) -> float | None:
        return REGISTRY.get_sample_value("rasid_rule_version", {"rule": rule_id})

    state = RuleState()
    state.apply_all(rule_records(3))
    live = LiveRules(Settings(), lambda _ruleset, _state: None)
    await live._swap(state)
    assert [version(f"r-{i}") for i in range(3)] == [1, 1, 1]
    now = utcnow()
    bumped = {"id": "r-1", "version": 2, "title": "rule 1 again", "severity": "low"}
    bumped["match"] = "كلمة1 خاصة1"
    state.apply_all(
        [(b"r-0", None), (b"r-1", orjson.dumps(build_message(bumped, {}, version=2, now=now)))]
    )
    await live._swap(state)
    assert [version(f"r-{i}") for i in range(3)] == [None, 2, 1]


async def test_a_reload_logs_where_its_time_went(caplog: Any) -> None:
    """The "rules loaded" line says how many records the fetches folded since the last load
    and the time of each step (a reload while articles flow: which step waits)."""
    topic = _Topic([None, *(list(b) for b in _chunks(rule_records(30), 10))])
    live = LiveRules(Settings(), lambda ruleset, _state: None)
    live.reader = _reader(topic)
    caplog.set_level("INFO", logger="rasid.rules")
    follower = asyncio.create_task(live.follow())
    try:
        for _ in range(500):
            if any(r.getMessage() == "rules loaded" for r in caplog.records):
                break
            await asyncio.sleep(0.01)
    finally:
        follower.cancel()
    (loaded,) = [r for r in caplog.records if r.getMessage() == "rules loaded"]
    assert loaded.records == 30  # type: ignore[attr-defined]
    for field in ("catch_up_ms", "fold_ms", "compile_ms", "swap_ms"):
        assert getattr(loaded, field) >= 0
    assert live.reader.took() == {"records": 0, "fold_ms": 0.0}  # counted once


async def test_a_push_reads_the_topic_raw_and_sends_only_the_changed_rules(
    monkeypatch: Any,
) -> None:
    """`push_files` plans from the topic's raw records (`_LiveReader`: nothing parsed while
    reading) and publishes, in one call, the rules whose text changed: an unchanged rule is
    not re-sent, a changed one is at the next version, a deleted one is created anew."""
    from streams.rules import parse_document
    from streams.worker import live_rules

    now = utcnow()

    def rule(rule_id: str, title: str) -> dict[str, Any]:
        return {"id": rule_id, "title": title, "severity": "low", "match": f"كلمة {rule_id}"}

    def value(r: dict[str, Any], version: int) -> bytes:
        return orjson.dumps(build_message(r, {}, version=version, now=now))

    topic: list[tuple[bytes | None, bytes | None]] = [
        (b"same", value(rule("same", "same"), 2)),
        (b"edited", value(rule("edited", "before"), 4)),
        (b"gone", value(rule("gone", "gone"), 3)),
        (b"gone", None),
        (b"untouched", value(rule("untouched", "not in the file"), 1)),
    ]
    reader = live_rules._LiveReader(Settings())
    reader.consumer = _Consumer(topic)  # type: ignore[assignment]
    reader.partitions = [TopicPartition("rasid.rules", 0)]
    assert await reader.poll() is True
    assert reader.state.records == 0 and reader.live.records == len(topic)  # kept raw

    async def read_live(settings: Settings) -> Any:
        return reader.live

    sent: list[list[tuple[str, bytes | None]]] = []

    async def publish(settings: Settings, records: list[tuple[str, bytes | None]]) -> None:
        sent.append(records)

    monkeypatch.setattr(live_rules, "read_live", read_live)
    monkeypatch.setattr(live_rules, "publish", publish)
    written = [rule("same", "same"), rule("edited", "after"), rule("gone", "gone")]
    doc = parse_document({"rules": written}, "f.yaml")
    plan = await live_rules.push_files(Settings(), [doc], updated_by="amal")
    rows = [(c.id, c.action, c.version, c.previous_version) for c in plan]
    assert rows == [
        ("same", "unchanged", 2, 2),
        ("edited", "update", 5, 4),
        ("gone", "create", 1, None),
    ]
    (batch,) = sent  # one publish for the whole push
    assert [key for key, _ in batch] == ["edited", "gone"]
    state = RuleState()  # what the workers fold from what was sent
    assert state.apply_all([(k.encode(), v) for k, v in batch]) is True
    assert state.rejected == {}
    assert {k: m["version"] for k, m in state.messages.items()} == {"edited": 5, "gone": 1}
