"""Issue 16, item 8: per subscription and alert, deliveries go in revision order, and one
alert's retries hold back only that alert (streams/webhooks/service.py SubscriptionQueue)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from streams.settings import Settings
from streams.webhooks import service
from streams.webhooks.service import Delivery, Offsets, SubscriptionQueue

RETRY_AFTER = 0.3  # seconds: the (patched) backoff after a failed attempt


class Receiver:
    """Stands in for the dispatcher: answers each POST from a script, records the order."""

    def __init__(self, fail_first: set[str]) -> None:
        self.settings = Settings(kafka_bootstrap="127.0.0.1:1")
        self.offsets = Offsets()
        self.fail_first = set(fail_first)
        self.posts: list[tuple[str, int]] = []  # (alert id:revision, status)
        self.finished_ids: list[str] = []

    async def post(self, record: dict[str, Any], payload: dict[str, Any]) -> tuple[int, str]:
        name = f"{payload['alert']['id']}:{payload['alert']['revision']}"
        status = 500 if name in self.fail_first else 204
        self.fail_first.discard(name)
        self.posts.append((name, status))
        return status, f"HTTP {status}"

    def finished(self, delivery: Delivery) -> None:
        self.finished_ids.append(delivery.id)

    async def dead_letter(self, *args: Any) -> None:
        raise AssertionError("nothing is dead-lettered here")


def alert(aid: str, revision: int, severity: str = "high") -> dict[str, Any]:
    return {"id": aid, "revision": revision, "severity": severity, "rule": "r"}


def payload(a: dict[str, Any]) -> dict[str, Any]:
    did = f"{a['id']}-{a['revision']}"
    return {"type": "alert", "subscription_id": "s", "delivery_id": did, "alert": a}


async def deliver(queue: SubscriptionQueue, receiver: Receiver, count: int) -> list[str]:
    queue.start()
    try:
        deadline = time.monotonic() + 5
        while len([p for p in receiver.posts if p[1] < 300]) < count:
            assert time.monotonic() < deadline, receiver.posts
            await asyncio.sleep(0.01)
    finally:
        await queue.stop()
    return [name for name, status in receiver.posts if status < 300]


@pytest.fixture(autouse=True)
def fixed_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "backoff", lambda *a, **k: RETRY_AFTER)


def new_queue(receiver: Receiver) -> SubscriptionQueue:
    return SubscriptionQueue({"id": "s", "filters": {}}, receiver)  # type: ignore[arg-type]


async def test_a_retried_revision_holds_back_the_next_one_of_its_alert_only() -> None:
    receiver = Receiver(fail_first={"A:1"})
    queue = new_queue(receiver)
    for a in (alert("A", 1), alert("A", 2), alert("B", 1)):
        queue.push(payload(a), [], 0.0)
    delivered = await deliver(queue, receiver, 3)
    # B goes while A:1 waits for its retry; A:2 never before A:1
    assert receiver.posts == [("A:1", 500), ("B:1", 204), ("A:1", 204), ("A:2", 204)]
    assert delivered == ["B:1", "A:1", "A:2"]


async def test_a_revision_arriving_during_the_retry_waits_for_it() -> None:
    receiver = Receiver(fail_first={"A:1"})
    queue = new_queue(receiver)
    queue.push(payload(alert("A", 1)), [], 0.0)
    queue.start()
    try:
        while not receiver.posts:
            await asyncio.sleep(0.01)
        queue.push(payload(alert("A", 2)), [], 0.0)  # A:1 failed once and waits
        deadline = time.monotonic() + 5
        while len(receiver.posts) < 3:
            assert time.monotonic() < deadline, receiver.posts
            await asyncio.sleep(0.01)
    finally:
        await queue.stop()
    assert receiver.posts == [("A:1", 500), ("A:1", 204), ("A:2", 204)]


async def test_a_revision_that_may_go_now_takes_a_held_earlier_one_along() -> None:
    """Quiet hours hold revision 1; revision 2 escalated to critical goes at once, and so
    revision 1 goes first rather than after it (or after the quiet hours)."""
    receiver = Receiver(fail_first=set())
    queue = new_queue(receiver)
    queue.push(payload(alert("A", 1)), [], time.time() + 3600)  # held by quiet hours
    queue.push(payload(alert("B", 1)), [], time.time() + 3600)  # another alert: still held
    queue.push(payload(alert("A", 2, "critical")), [], 0.0)
    assert await deliver(queue, receiver, 2) == ["A:1", "A:2"]
    assert [d.alert for d in queue.heap] == ["B"]
