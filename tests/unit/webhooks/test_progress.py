"""Issue 16, item 7: progress per subscription (one receiver's trouble stays its own), and a
receiver down past its limit is dead-lettered and paused, then resumed by a ping
(streams/webhooks/service.py)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from streams.settings import Settings
from streams.validation import schema_errors
from streams.webhooks.service import Delivery, Dispatcher, Offsets, SubscriptionQueue

SUB_A, SUB_B = "aaaaaaaaaaaa", "bbbbbbbbbbbb"


@dataclass
class Record:
    key: bytes | None
    value: bytes | None


def alert_value(n: int) -> bytes:
    return orjson.dumps({"id": f"alert-{n}", "revision": 1, "severity": "high", "rule": "r"})


def dispatcher(*subs: str) -> Dispatcher:
    d = Dispatcher(Settings(kafka_bootstrap="127.0.0.1:1"))
    for sub in subs:  # not started: offers only queue, nothing is posted
        d.subscriptions[sub] = SubscriptionQueue({"id": sub, "filters": {}}, d)
    return d


def deliver_all(queue: SubscriptionQueue) -> None:
    """The receiver took everything queued."""
    while queue.heap:
        queue.finished(queue._pop())


def restart(before: Dispatcher, *subs: str) -> Dispatcher:
    """A new process: it reads rasid.webhooks.progress back (what `before` wrote)."""
    after = dispatcher(*subs)
    for key, value in before.progress_records():
        after.on_progress(Record(key, value))
    return after


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([], {}),
        ([(0, 5, 0)], {0: 6}),  # nothing pending: the next offset
        ([(0, 5, 1), (0, 6, 0)], {0: 5}),  # the oldest pending one
        ([(0, 5, 1), (0, 6, 2), (1, 3, 0)], {0: 5, 1: 4}),
    ],
)
def test_offsets_point(records: list[tuple[int, int, int]], expected: dict[int, int]) -> None:
    offsets = Offsets()
    for partition, offset, deliveries in records:
        offsets.consumed_record(partition, offset, deliveries)
    assert {p: offsets.point(p, -1) for p in expected} == expected


async def test_a_down_receiver_holds_back_only_its_own_progress() -> None:
    d = dispatcher(SUB_A, SUB_B)
    for offset in range(10):
        d.on_alert(0, offset, alert_value(offset))
    deliver_all(d.subscriptions[SUB_A])  # A's receiver took everything; B's is down
    assert d.progress(d.subscriptions[SUB_A], d.slot(0)) == 10
    assert d.progress(d.subscriptions[SUB_B], d.slot(0)) == 0
    assert d.commit_points() == {("rasid.alerts", 0): 0}  # the group waits for B …
    records = {k: orjson.loads(v) for k, v in d.progress_records() if v is not None}
    assert {k: r["offset"] for k, r in records.items()} == {
        f"{SUB_A}/0".encode(): 10,
        f"{SUB_B}/0".encode(): 0,
    }
    for record in records.values():  # the alerts topic's progress: version 1, as before
        assert schema_errors("webhook-progress-v1", record) == []
    assert d.progress_records() == []  # nothing changed since: nothing written


async def test_after_a_restart_only_the_late_subscription_gets_the_re_read_alerts() -> None:
    before = dispatcher(SUB_A, SUB_B)
    for offset in range(10):
        before.on_alert(0, offset, alert_value(offset))
    deliver_all(before.subscriptions[SUB_A])
    b = before.subscriptions[SUB_B]
    for _ in range(4):  # B got the first four before the restart
        b.finished(b._pop())
    after = restart(before, SUB_A, SUB_B)
    start = before.commit_points()[before.slot(0)]
    assert start == 4
    for offset in range(start, 12):  # re-read from the group's offset, then two new ones
        after.on_alert(0, offset, alert_value(offset))
    offered_a = [d.payload["alert"]["id"] for d in after.subscriptions[SUB_A].heap]
    offered_b = sorted(d.payload["alert"]["id"] for d in after.subscriptions[SUB_B].heap)
    assert offered_a == ["alert-10", "alert-11"]  # nothing re-sent to A
    assert offered_b == sorted(f"alert-{n}" for n in range(4, 12))
    # A's recorded progress never moves back while the re-read passes below it
    assert after.progress(after.subscriptions[SUB_A], after.slot(0)) == 10


async def test_a_removed_subscription_gets_its_progress_deleted() -> None:
    d = dispatcher(SUB_A)
    d.on_alert(0, 0, alert_value(0))
    d.on_alert(1, 0, alert_value(1))
    assert len(d.progress_records()) == 2
    d.subscriptions.pop(SUB_A)
    d.removed.add(SUB_A)
    tombstones = d.progress_records()
    assert sorted(tombstones) == [(f"{SUB_A}/0".encode(), None), (f"{SUB_A}/1".encode(), None)]


class DownReceiver:
    """Stands in for the dispatcher: the receiver is unreachable until `up` is set."""

    def __init__(self) -> None:
        self.settings = Settings(
            kafka_bootstrap="127.0.0.1:1",
            webhook_down_limit_seconds=0.3,
            webhook_backoff_max_seconds=0.05,
        )
        self.up = False
        self.posts: list[str] = []
        self.letters: list[tuple[str, str]] = []

    async def post(self, record: dict[str, Any], payload: dict[str, Any]) -> tuple[int | None, str]:
        self.posts.append(payload["type"])
        if not self.up:
            return None, "unreachable: connection refused"
        return 204, "HTTP 204"

    async def dead_letter(
        self, record: dict[str, Any], delivery: Delivery, status: int | None, error: str
    ) -> None:
        self.letters.append((delivery.payload["alert"]["id"], error))


def paused_gauge() -> float:
    return REGISTRY.get_sample_value("rasid_webhook_subscriptions_paused") or 0.0


async def _until(cond: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


async def test_a_receiver_down_past_its_limit_is_dead_lettered_paused_and_resumed() -> None:
    receiver = DownReceiver()
    queue = SubscriptionQueue({"id": SUB_A, "filters": {}}, receiver)  # type: ignore[arg-type]
    gauge = paused_gauge()
    for n in range(3):
        queue.offer(orjson.loads(alert_value(n)), (0, n))
        queue.offsets.consumed_record(0, n, 1)
    queue.start()
    try:
        await _until(lambda: queue.paused)
        await _until(lambda: len(receiver.letters) == 3)
        assert paused_gauge() == gauge + 1
        assert [a for a, _ in receiver.letters] == ["alert-0", "alert-1", "alert-2"]
        assert all(e.startswith("paused: receiver unreachable since") for _, e in receiver.letters)
        assert queue.offsets.point(0, -1) == 3  # nothing held back by the paused receiver
        queue.offer(orjson.loads(alert_value(3)), (0, 3))  # while paused: dead-lettered too
        await _until(lambda: len(receiver.letters) == 4)
        await _until(lambda: "ping" in receiver.posts)
        receiver.up = True
        await _until(lambda: not queue.paused)
        assert paused_gauge() == gauge
        queue.offer(orjson.loads(alert_value(4)), (0, 4))  # resumed: delivered again
        await _until(lambda: receiver.posts[-1] == "alert" and not queue.heap)
        assert len(receiver.letters) == 4
    finally:
        await queue.stop()


async def test_a_short_outage_is_not_paused() -> None:
    receiver = DownReceiver()
    receiver.settings = Settings(
        kafka_bootstrap="127.0.0.1:1",
        webhook_down_limit_seconds=60,
        webhook_backoff_max_seconds=0.05,
    )
    queue = SubscriptionQueue({"id": SUB_A, "filters": {}}, receiver)  # type: ignore[arg-type]
    queue.offer(orjson.loads(alert_value(0)), (0, 0))
    queue.start()
    try:
        await _until(lambda: queue.down)
        await asyncio.sleep(0.3)
        assert not queue.paused and receiver.letters == []
        receiver.up = True
        await _until(lambda: not queue.heap)
        assert receiver.letters == [] and not queue.down
    finally:
        await queue.stop()
