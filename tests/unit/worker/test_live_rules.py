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


def _records(n: int) -> list[tuple[bytes | None, bytes | None]]:
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
        return {partitions[0]: [SimpleNamespace(key=k, value=v) for k, v in got]}


async def test_folding_a_large_fetch_lets_the_loop_run() -> None:
    reader = RuleReader(Settings())
    reader.consumer = _Consumer(_records(2000))  # type: ignore[assignment]
    reader.partitions = [TopicPartition("rasid.rules", 0)]
    ticks = await _ticks_during(reader.poll())
    assert ticks > 0  # the loop ran while 2,000 rule messages were checked and parsed
    assert len(reader.state.specs) == 2000
    assert await reader.poll() is False  # nothing more: nothing changed


async def test_compiling_happens_off_the_loop_and_the_swap_is_one_store() -> None:
    state = RuleState()
    for key, value in _records(2000):
        state.apply(key, value)
    swapped: list[RuleSet] = []
    live = LiveRules(Settings(), lambda ruleset, _state: swapped.append(ruleset))
    ticks = await _ticks_during(live._swap(state))
    assert ticks > 0  # the loop ran while the 2,000 rules compiled
    (ruleset,) = swapped
    assert len(ruleset) == 2000
