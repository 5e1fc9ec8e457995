"""streams/worker/shutdown.py: the drain waits for fetched messages to be processed, with a bound."""

from __future__ import annotations

import asyncio
from typing import Any

from streams.worker.shutdown import drain


class FakeConsumer:
    def __init__(self, unacked: set[str]) -> None:
        self.unacked = unacked
        self.paused: set[str] = set()

    def assignment(self) -> set[str]:
        return {"raw-0", "enriched-0"}

    def pause_partitions(self, tps: set[str]) -> None:
        self.paused |= tps


class FakeApp:
    def __init__(self, unacked: set[str], queued: list[int]) -> None:
        self.consumer = FakeConsumer(unacked)
        self.flow_control = type("FC", (), {"_queues": [asyncio.Queue() for _ in queued]})()
        for queue, n in zip(self.flow_control._queues, queued, strict=True):
            for i in range(n):
                queue.put_nowait(i)
        self.fetcher_stopped = False

    async def _stop_fetcher(self) -> None:
        self.fetcher_stopped = True


async def test_drain_returns_once_nothing_is_buffered_or_in_flight() -> None:
    app = FakeApp(unacked={"m1"}, queued=[2, 0])

    async def agents_finish() -> None:
        await asyncio.sleep(0.1)
        app.flow_control._queues[0].get_nowait()
        app.flow_control._queues[0].get_nowait()
        await asyncio.sleep(0.1)
        app.consumer.unacked.clear()

    worker: Any = asyncio.ensure_future(agents_finish())
    assert await drain(app, timeout=5, poll=0.02) is True
    assert worker.done(), "drain returned while messages were still buffered or in flight"
    assert app.consumer.paused == app.consumer.assignment()
    assert app.fetcher_stopped


async def test_drain_gives_up_after_its_timeout() -> None:
    app = FakeApp(unacked={"stuck"}, queued=[0])
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await drain(app, timeout=0.3, poll=0.02) is False
    assert 0.3 <= loop.time() - started < 2
