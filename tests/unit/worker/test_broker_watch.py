"""Readiness during a broker outage (issue 20, item 3): /readyz stayed 200 for the whole outage.

The worker now notes every failed and every successful contact with the broker (its sends in
`deliver`, and a metadata probe every few seconds); /readyz turns 503 once the broker has been
unreachable for `RASID_BROKER_UNREADY_AFTER_SECONDS`, and 200 again at the first success."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.protocol.metadata import MetadataRequest

from streams.settings import Settings
from streams.worker import batches
from streams.worker.app import create_app
from streams.worker.batches import BrokerWatch, Outgoing, deliver
from streams.worker.web import ping, ready_checks


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_watch_counts_time_since_the_first_failure_until_a_success() -> None:
    clock = Clock()
    watch = BrokerWatch(clock=clock)
    assert watch.unreachable_for() == 0.0
    watch.failed()
    clock.now += 10
    watch.failed()  # a later failure does not restart the count
    clock.now += 25
    assert watch.unreachable_for() == 35.0
    watch.reached()
    assert watch.unreachable_for() == 0.0


async def test_deliver_reports_failures_and_success_to_the_watch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(batches, "BACKOFF_FIRST", 0.001)
    monkeypatch.setattr(batches, "BACKOFF_MAX", 0.002)
    clock = Clock()
    watch = BrokerWatch(clock=clock)
    monkeypatch.setattr(batches, "BROKER", watch)
    seen: list[float] = []

    class DownThenUp:
        failures = 3

        async def send(self, *, key: bytes, value: bytes) -> asyncio.Future[None]:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self.failures:
                self.failures -= 1
                clock.now += 20
                seen.append(watch.unreachable_for())
                fut.set_exception(KafkaConnectionError())
            else:
                fut.set_result(None)
            return fut

    assert await deliver([Outgoing(DownThenUp(), b"k", b"v")]) == []
    assert seen == [0.0, 20.0, 40.0]  # unreachable since the first failed send
    assert watch.unreachable_for() == 0.0  # delivered: reachable again


async def test_readyz_turns_503_after_the_broker_is_unreachable_for_the_set_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = create_app(Settings(data_dir=tmp_path, web_port=16071, broker_unready_after_seconds=30))
    clock = Clock()
    watch = BrokerWatch(clock=clock)
    monkeypatch.setattr(batches, "BROKER", watch)
    monkeypatch.setattr(type(ctx.app.consumer), "assignment", lambda self: {"tp"})
    checks: dict[str, Any] = ready_checks(ctx)
    assert checks["broker_reachable"] is True
    watch.failed()
    clock.now += 29
    assert ready_checks(ctx)["broker_reachable"] is True
    clock.now += 2
    assert ready_checks(ctx)["broker_reachable"] is False
    watch.reached()
    assert ready_checks(ctx)["broker_reachable"] is True


class Broker:
    def __init__(self, node: int) -> None:
        self.nodeId = node


class FakeClient:
    """The producer's client as `ping` uses it: known brokers, and `send` to one of them."""

    def __init__(self, nodes: list[int], down: set[int]) -> None:
        self.nodes, self.down = nodes, down
        self.sent: list[tuple[int, Any]] = []
        self.cluster = self

    def brokers(self) -> list[Broker]:
        return [Broker(n) for n in self.nodes]

    def get_random_node(self) -> int | None:
        return self.nodes[0] if self.nodes else None

    async def send(self, node: int, request: Any) -> str:
        self.sent.append((node, request))
        if node in self.down:
            raise KafkaConnectionError(f"node {node} down")
        return "answer"


@pytest.mark.parametrize(
    ("nodes", "down", "reached", "asked"),
    [
        ([1], set(), True, [1]),
        ([1, 2], {1}, True, [1, 2]),  # one broker down: the next one answers
        ([1, 2], {1, 2}, False, [1, 2]),
        ([], set(), False, []),  # no broker known yet
    ],
)
async def test_the_probe_asks_each_broker_for_no_topics_until_one_answers(
    nodes: list[int], down: set[int], reached: bool, asked: list[int]
) -> None:
    client = FakeClient(nodes, down)
    if reached:
        await ping(client)
    else:
        with pytest.raises(KafkaError):
            await ping(client)
    assert [node for node, _ in client.sent] == asked
    for _, request in client.sent:
        # brokers only: its cost does not grow with the cluster's topics (None asks for all)
        assert isinstance(request, MetadataRequest) and request._topics == []
