"""Webhook subscriptions to trends (issue 19): subscription versions 1 and 2, which kinds and
trends a subscription is offered, progress per partition of each topic (webhook-progress v1 for
the alerts topic, v2 for the trends topic), invalid trend records, and a signed trend POST to a
real local receiver (and its dead letter when refused)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiohttp import web
from prometheus_client import REGISTRY

from streams.settings import Settings
from streams.validation import decode_valid, schema_errors
from streams.webhooks.policy import delivery_id, verify
from streams.webhooks.service import Dispatcher, SubscriptionQueue, new_session
from tests.unit.api.test_trends import trend_record

ALERTS, TRENDS = "rasid.alerts", "rasid.trends"
SUB_V1, SUB_T, SUB_B = "111111111111", "222222222222", "333333333333"
SECRET = "s" * 32


@dataclass
class Record:
    key: bytes | None
    value: bytes | None


def subscription(sub_id: str, version: int = 2, **over: Any) -> dict[str, Any]:
    """A record as `rasid subscriptions add` writes it (version 2), or as the previous release
    did (version 1: no kinds, no trend filters)."""
    record: dict[str, Any] = {
        "schema_version": version,
        "id": sub_id,
        "name": None,
        "url": "http://127.0.0.1:9/hook",
        "secret": SECRET,
        "filters": {"regions": [], "topics": [], "rules": [], "min_severity": None},
        "throttle_seconds": 0,
        "quiet_hours": None,
        "digest_minutes": 0,
        "created_at": "2026-12-03T06:00:00+00:00",
    }
    if version == 2:
        record["kinds"] = ["alerts"]
        record["trend_filters"] = {"regions": [], "topics": [], "rules": [], "min_level": None}
    record.update(over)
    return record


def alert_value(n: int) -> bytes:
    return orjson.dumps({"id": f"alert-{n}", "revision": 1, "severity": "high", "rule": "r"})


def trend_value(n: int, **kw: Any) -> bytes:
    return orjson.dumps(trend_record(n, **kw))


def dispatcher(*records: dict[str, Any]) -> Dispatcher:
    d = Dispatcher(Settings(kafka_bootstrap="127.0.0.1:1"))
    for record in records:  # not started: offers only queue, nothing is posted
        d.subscriptions[record["id"]] = SubscriptionQueue(record, d)
    return d


def queued(d: Dispatcher, sub_id: str) -> list[str]:
    """What a subscription has queued: alert ids and trend keys, in queue order."""
    heap = sorted(d.subscriptions[sub_id].heap)
    return [
        p["alert"]["id"] if p["type"] == "alert" else f"trend {p['trend']['key']}"
        for p in (x.payload for x in heap)
    ]


# ---------------------------------------------------------------- subscription versions
@pytest.mark.parametrize(
    ("record", "kinds"),
    [
        (subscription(SUB_V1, version=1), {"alerts"}),
        (subscription(SUB_T, kinds=["trends"]), {"trends"}),
        (subscription(SUB_B, kinds=["alerts", "trends"]), {"alerts", "trends"}),
    ],
)
def test_both_subscription_versions_decode(record: dict[str, Any], kinds: set[str]) -> None:
    doc = decode_valid(
        "subscription", orjson.dumps(record), "subscription", older={1: "subscription-v1"}
    )
    assert set(SubscriptionQueue(doc, dispatcher()).kinds) == kinds


@pytest.mark.parametrize(
    "record",
    [
        subscription(SUB_T, kinds=[]),  # nothing to deliver
        subscription(SUB_T, kinds=["alerts", "gossip"]),
        subscription(SUB_T, kinds=["trends", "trends"]),
        {k: v for k, v in subscription(SUB_T).items() if k != "kinds"},  # v2 needs kinds
        subscription(SUB_T, trend_filters={"min_level": "apocalyptic"}),
        subscription(SUB_V1, version=1, kinds=["trends"]),  # v1 has no kinds
        subscription(SUB_T, version=3),
    ],
)
def test_invalid_subscriptions_are_refused(record: dict[str, Any]) -> None:
    errors = schema_errors("subscription", record)
    if record.get("schema_version") == 1:
        errors = schema_errors("subscription-v1", record)
    assert errors


async def test_the_dispatcher_reads_v1_and_v2_subscriptions_and_ignores_invalid_ones() -> None:
    d = dispatcher()
    try:
        for record in (
            subscription(SUB_V1, version=1),
            subscription(SUB_T, kinds=["trends"]),
            subscription(SUB_B, kinds=["bogus"]),
        ):
            d.on_subscription(Record(record["id"].encode(), orjson.dumps(record)))
        assert sorted(d.subscriptions) == [SUB_V1, SUB_T]  # the invalid one is not started
        assert d.subscriptions[SUB_V1].kinds == {"alerts"}
        assert d.subscriptions[SUB_T].kinds == {"trends"}
        assert SUB_B not in d.removed  # ignored, not removed: its progress is kept
    finally:
        for queue in d.subscriptions.values():
            await queue.stop()


# ---------------------------------------------------------------- what is offered
async def test_each_subscription_gets_the_kinds_and_trends_it_asked_for() -> None:
    d = dispatcher(
        subscription(SUB_V1, version=1),
        subscription(
            SUB_T,
            kinds=["trends"],
            trend_filters={"regions": ["IQ"], "min_level": "high"},
        ),
        subscription(SUB_B, kinds=["alerts", "trends"]),
    )
    d.on_alert(0, 0, alert_value(0))
    d.on_trend(0, 0, trend_value(1, key="IQ|security", level="elevated"))  # below SUB_T's level
    d.on_trend(0, 1, trend_value(2, key="IQ|*", level="high"))
    d.on_trend(1, 0, trend_value(3, key="SY|*", level="extreme"))  # not SUB_T's region
    d.on_alert(0, 1, alert_value(1))
    assert queued(d, SUB_V1) == ["alert-0", "alert-1"]  # version 1: alerts only
    assert queued(d, SUB_T) == ["trend IQ|*"]
    assert queued(d, SUB_B) == [
        "alert-0", "trend IQ|security", "trend IQ|*", "trend SY|*", "alert-1",
    ]  # fmt: skip
    payload = next(x.payload for x in d.subscriptions[SUB_T].heap)
    trend = trend_record(2, key="IQ|*", level="high")
    assert payload == {
        "type": "trend",
        "subscription_id": SUB_T,
        "delivery_id": delivery_id(SUB_T, f"trend:{trend['id']}", 1),
        "trend": trend,
    }


def test_quiet_hours_hold_trends_except_extreme_ones() -> None:
    now = datetime.now(UTC)
    window = f"{(now - timedelta(hours=1)):%H:%M}-{(now + timedelta(hours=2)):%H:%M}"
    record = subscription(
        SUB_T, kinds=["trends"], quiet_hours={"window": window, "utc_offset": "+00:00"}
    )
    d = dispatcher(record)
    d.on_trend(0, 0, trend_value(1, level="high"))
    d.on_trend(0, 1, trend_value(2, level="extreme"))
    held = {x.payload["trend"]["level"]: x.not_before for x in d.subscriptions[SUB_T].heap}
    assert held["extreme"] == 0.0  # at once
    assert held["high"] > time.time() + 3600  # when the window ends


def test_an_invalid_trend_record_is_skipped_counted_and_passed() -> None:
    def skipped() -> float:
        labels = {"reader": "webhooks"}
        return REGISTRY.get_sample_value("rasid_trend_records_invalid_total", labels) or 0.0

    before = skipped()
    d = dispatcher(subscription(SUB_T, kinds=["trends"]))
    d.on_trend(0, 0, b'{"schema_version": 1, "id": "nope"}')
    d.on_trend(0, 1, trend_value(1))
    assert skipped() == before + 1
    assert queued(d, SUB_T) == ["trend IQ|security"]
    queue = d.subscriptions[SUB_T]
    queue.finished(queue._pop())
    assert d.commit_points() == {(TRENDS, 0): 2}  # the bad record holds nothing back


# ---------------------------------------------------------------- progress per topic
def restart(written: list[tuple[bytes, bytes | None]], *records: dict[str, Any]) -> Dispatcher:
    """A new process: it reads rasid.webhooks.progress back (what the old one wrote)."""
    after = dispatcher(*records)
    for key, value in written:
        after.on_progress(Record(key, value))
    return after


async def test_progress_is_kept_per_partition_of_each_topic() -> None:
    subs = (subscription(SUB_V1, version=1), subscription(SUB_T, kinds=["trends"]))
    before = dispatcher(*subs)
    for offset in range(3):
        before.on_alert(0, offset, alert_value(offset))
        before.on_trend(0, offset, trend_value(offset))
    v1, t = before.subscriptions[SUB_V1], before.subscriptions[SUB_T]
    while v1.heap:  # the alerts receiver took everything …
        v1.finished(v1._pop())
    t.finished(t._pop())  # … the trends receiver only the first trend
    written = before.progress_records()
    records = {k: orjson.loads(v) for k, v in written if v is not None}
    offsets = {k.decode(): r["offset"] for k, r in records.items()}
    assert offsets == {
        f"{SUB_V1}/0": 3,  # the alerts topic: keyed and written as before (version 1)
        f"{SUB_V1}/{TRENDS}/0": 3,  # trends it does not want pass at once
        f"{SUB_T}/0": 3,
        f"{SUB_T}/{TRENDS}/0": 1,  # the trends receiver holds back its own progress
    }
    for key, doc in records.items():
        if TRENDS in key.decode():
            assert doc["schema_version"] == 2 and doc["topic"] == TRENDS
            assert schema_errors("webhook-progress", doc) == []
        else:
            assert doc["schema_version"] == 1
            assert schema_errors("webhook-progress-v1", doc) == []
    assert before.commit_points() == {(ALERTS, 0): 3, (TRENDS, 0): 1}

    after = restart(written, *subs)
    assert after.durable == {
        (SUB_V1, (ALERTS, 0)): 3,
        (SUB_V1, (TRENDS, 0)): 3,
        (SUB_T, (ALERTS, 0)): 3,
        (SUB_T, (TRENDS, 0)): 1,
    }
    for offset in range(1, 4):  # re-read from the group's offset, then a new trend
        after.on_trend(0, offset, trend_value(offset))
    for offset in range(1, 4):  # the alerts, re-read too (say another subscription lagged)
        after.on_alert(0, offset, alert_value(offset))
    assert queued(after, SUB_T) == ["trend IQ|security"] * 3  # trends 1, 2 again, and 3
    assert [x.payload["trend"]["id"] for x in sorted(after.subscriptions[SUB_T].heap)] == [
        trend_record(n)["id"] for n in (1, 2, 3)
    ]
    assert queued(after, SUB_V1) == ["alert-3"]  # nothing re-sent to the alerts receiver
    assert after.progress(after.subscriptions[SUB_T], (TRENDS, 0)) == 1

    after.subscriptions.pop(SUB_T)
    after.removed.add(SUB_T)
    tombstones = sorted(k for k, v in after.progress_records() if v is None)
    assert tombstones == [f"{SUB_T}/0".encode(), f"{SUB_T}/{TRENDS}/0".encode()]
    for key in tombstones:
        after.on_progress(Record(key, None))
    assert not [k for k in after.durable if k[0] == SUB_T]


# ---------------------------------------------------------------- delivery
@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    """/ok answers 204, /refuse 400; → (base URL, requests received)."""
    got: list[tuple[str, dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        got.append((request.path, dict(request.headers), await request.read()))
        return web.Response(status=204 if request.path == "/ok" else 400)

    app = web.Application()
    app.router.add_post("/{name}", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", got
    await runner.cleanup()


class Producer:
    """Stands in for the Kafka producer: the dead letters sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], bytes]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes) -> None:
        self.sent.append((topic, orjson.loads(value), key))


async def test_a_trend_is_posted_signed_and_a_refused_one_dead_lettered(
    receiver: tuple[str, list[tuple[str, dict[str, str], bytes]]],
) -> None:
    base, got = receiver
    d = Dispatcher(Settings(kafka_bootstrap="127.0.0.1:1", webhook_allow_private=True))
    d.session = new_session(d.settings)
    producer = Producer()
    d.producer = producer  # type: ignore[assignment]
    for sub_id, path in ((SUB_T, "/ok"), (SUB_B, "/refuse")):
        record = subscription(sub_id, kinds=["trends"], url=base + path)
        d.on_subscription(Record(sub_id.encode(), orjson.dumps(record)))
    try:
        d.on_trend(0, 0, trend_value(7, key="IQ|*", level="high"))
        deadline = time.monotonic() + 5
        while len(got) < 2 or not producer.sent:
            assert time.monotonic() < deadline, (got, producer.sent)
            await asyncio.sleep(0.02)
    finally:
        for queue in d.subscriptions.values():
            await queue.stop()
        await d.session.close()
    path, headers, body = next(r for r in got if r[0] == "/ok")
    payload = orjson.loads(body)
    assert payload["type"] == "trend" and payload["trend"] == trend_record(
        7, key="IQ|*", level="high"
    )
    assert verify(SECRET, body, headers["X-Rasid-Signature"], time.time())
    assert not verify("x" * 32, body, headers["X-Rasid-Signature"], time.time())
    assert headers["X-Rasid-Delivery"] == payload["delivery_id"]
    topic, letter, key = producer.sent[0]
    assert topic == "rasid.deliveries.deadletter" and key == SUB_B.encode()
    assert letter["last_status"] == 400 and letter["last_error"] == "HTTP 400"
    assert letter["payload"]["type"] == "trend" and letter["payload"]["subscription_id"] == SUB_B
    assert schema_errors("delivery-deadletter", letter) == []
    assert d.commit_points() == {(TRENDS, 0): 1}  # delivered to one, dead-lettered for the other
