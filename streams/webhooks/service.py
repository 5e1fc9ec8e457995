"""`rasid webhooks`: deliver alerts and trends to the webhook subscriptions
(docs/subscribers.md).

One consumer group (`<app id>-webhooks`) reads `rasid.alerts` and `rasid.trends` (a
subscription of `kinds` alerts, trends or both; version 1 subscriptions get alerts only); scale
out with partitions and processes. Every subscription has its own ordered queue and one POST in flight, so a slow or
dead receiver delays only itself; within it, the revisions of one alert go in order (a retried
or held revision holds back the later ones of the same alert, not other alerts). Per delivery:

- POST JSON with `X-Rasid-Signature: t=<unix>,v1=<HMAC-SHA256("t." + body, secret)>` and
  `X-Rasid-Delivery: <id>` (the same on every retry: the receiver's idempotency key);
- a 2xx is success; a timeout, a 5xx or a 429 is retried after an exponential backoff with
  full jitter, and after `RASID_WEBHOOK_MAX_ATTEMPTS` such failures the delivery goes to
  `rasid.deliveries.deadletter` with the payload and the last error; any other 4xx goes there
  at once (the receiver refused it for good);
- a receiver that cannot be reached at all (connection refused, DNS, network down) is DOWN:
  its queue waits and retries (backoff capped at RASID_WEBHOOK_BACKOFF_MAX_SECONDS) without
  spending attempts, so a receiver that is down for an hour gets everything, in order, once,
  when it comes back; down for longer than RASID_WEBHOOK_DOWN_LIMIT_SECONDS, the subscription
  is PAUSED: its queue and every alert for it go to the dead letters (nothing piles up, nothing
  is lost), a `ping` is posted every backoff cap, and its first 2xx resumes deliveries.

Progress is kept per subscription: for each subscription and partition of `rasid.alerts` and
of `rasid.trends`, the offset before which everything is delivered or dead-lettered for it,
written to the compacted `rasid.webhooks.progress` (webhook-progress v1 for the alerts topic,
v2, which names its topic, for the trends topic) before the group's offsets, which are
committed up to the oldest of them. After a restart each subscription is offered only the alerts from its own offset on, so
one receiver's backlog is re-sent to that receiver alone (at-least-once: receivers drop
repeats by X-Rasid-Delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import ipaddress
import itertools
import logging
import signal
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams import health, metrics
from streams.alerts import upgrade as upgrade_alert
from streams.api.feed import supervise, tail
from streams.api.http import Runner, json_errors
from streams.api.trends import TREND_MAX_BYTES, TrendFilter
from streams.errors import BadInput
from streams.filters import AlertFilter
from streams.kafka import names as topics
from streams.settings import Settings, _parse_utc_offset
from streams.validation import check_outgoing, decode_valid
from streams.webhooks.policy import (
    QuietHours,
    Throttle,
    address_allowed,
    backoff,
    delivery_id,
    hold_until,
    retryable,
    sign,
    url_problem,
)

log = logging.getLogger("rasid.webhooks")
_seq = itertools.count()

# Where a record sits: (topic, partition). Progress, pending deliveries and the group's
# offsets are kept per slot, so the alerts and the trends topics never mix their offsets.
Slot = tuple[str, int]


class ForbiddenTarget(OSError):
    """A receiver's host resolved to an address deliveries may not reach."""


class CheckedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then refuses the host if ANY of its addresses
    is not allowed (policy.address_allowed). aiohttp connects to exactly the addresses returned
    here, so the connection is pinned to checked addresses: a second lookup (DNS rebinding)
    cannot swap in another one."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.inner = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(result["host"].split("%", 1)[0])
            if not address_allowed(address, allow_private=self.allow_private):
                raise ForbiddenTarget(f"{host} resolves to a forbidden address")
        return results

    async def close(self) -> None:
        await self.inner.close()


@dataclass(order=True)
class Delivery:
    not_before: float
    seq: int
    id: str = field(compare=False)
    payload: dict[str, Any] = field(compare=False)
    offsets: list[tuple[Slot, int]] = field(compare=False)  # records it completes
    attempts: int = field(default=0, compare=False)
    alert: str | None = field(default=None, compare=False)  # the alert id (None: a digest)


class Offsets:
    """One subscription's progress: per slot (topic, partition), the oldest offset with a
    delivery still pending for it, else the next offset to consume."""

    def __init__(self) -> None:
        self.pending: dict[Slot, dict[int, int]] = {}  # slot → offset → open deliveries
        self.consumed: dict[Slot, int] = {}  # slot → next offset

    def consumed_record(self, slot: Slot, offset: int, deliveries: int) -> None:
        self.consumed[slot] = offset + 1
        if deliveries:
            self.pending.setdefault(slot, {})[offset] = deliveries

    def done(self, slot: Slot, offset: int) -> None:
        open_ = self.pending.get(slot, {})
        if offset in open_:
            open_[offset] -= 1
            if open_[offset] <= 0:
                del open_[offset]

    def point(self, slot: Slot, default: int) -> int:
        open_ = self.pending.get(slot)
        return min(open_) if open_ else self.consumed.get(slot, default)


class SubscriptionQueue:
    """One subscription: its filters, throttle, quiet hours, digest buffer, and the ordered
    queue of its deliveries with one POST in flight."""

    def __init__(self, record: dict[str, Any], dispatcher: Dispatcher) -> None:
        self.record = record
        self.id: str = record["id"]
        self.d = dispatcher
        self.kinds = frozenset(record.get("kinds", ("alerts",)))  # version 1: alerts only
        self.filter = AlertFilter.from_params(record["filters"])
        self.trend_filter = TrendFilter.from_params(record.get("trend_filters") or {})
        quiet = record.get("quiet_hours")
        self.quiet = (
            QuietHours.parse(quiet["window"], _parse_utc_offset(quiet["utc_offset"]))
            if quiet
            else None
        )
        self.throttle = Throttle(float(record.get("throttle_seconds", 0)))
        self.digest_minutes = int(record.get("digest_minutes", 0))
        self.digest: list[tuple[dict[str, Any], tuple[Slot, int]]] = []
        self.offsets = Offsets()
        self.heap: list[Delivery] = []
        # The newest queued delivery of each alert: the next revision never goes before it.
        self.last_of: dict[str, Delivery] = {}
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.digest_task: asyncio.Task[None] | None = None
        self.down = False
        self.down_since: float | None = None  # first failed contact of the current outage
        self.paused = False  # down past the limit: deliveries dead-lettered, receiver pinged
        self.paused_until = 0.0

    def start(self) -> None:
        self.task = asyncio.create_task(self.run())
        if self.digest_minutes:
            self.digest_task = asyncio.create_task(self.flush_digests())

    async def stop(self) -> None:
        for task in (self.task, self.digest_task):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.paused:
            metrics.WEBHOOK_PAUSED.dec()
            self.paused = False

    def finished(self, delivery: Delivery) -> None:
        for slot, offset in delivery.offsets:
            self.offsets.done(slot, offset)

    def offer(self, alert: dict[str, Any], where: tuple[Slot, int]) -> bool:
        """Queue the alert if this subscription wants it; True if it did."""
        if "alerts" not in self.kinds or not self.filter.matches(alert):
            return False
        if not self.throttle.allow(alert, time.time()):
            metrics.WEBHOOK_DELIVERIES.labels(outcome="throttled").inc()
            return False
        if self.digest_minutes:
            self.digest.append((alert, where))
            return True
        now = datetime.now(UTC)
        until = hold_until(alert, self.quiet, now)
        if until is not None:
            metrics.WEBHOOK_DELIVERIES.labels(outcome="held").inc()
        payload = {
            "type": "alert",
            "subscription_id": self.id,
            "delivery_id": delivery_id(self.id, alert["id"], int(alert.get("revision", 1))),
            "alert": alert,
        }
        self.push(payload, [where], until.timestamp() if until else 0.0)
        return True

    def offer_trend(self, trend: dict[str, Any], where: tuple[Slot, int]) -> bool:
        """Queue the trend record if this subscription wants it; True if it did. A trend goes
        in a POST of its own (never in a digest, never throttled: the detector sends one
        record per level per episode already); quiet hours hold it unless it is extreme."""
        if "trends" not in self.kinds or not self.trend_filter.matches(trend):
            return False
        now = datetime.now(UTC)
        urgent = {"severity": "critical"} if trend.get("level") == "extreme" else {}
        until = hold_until(urgent, self.quiet, now)
        if until is not None:
            metrics.WEBHOOK_DELIVERIES.labels(outcome="held").inc()
        payload = {
            "type": "trend",
            "subscription_id": self.id,
            # trend ids are never revised: one delivery per (subscription, trend)
            "delivery_id": delivery_id(self.id, f"trend:{trend['id']}", 1),
            "trend": trend,
        }
        self.push(payload, [where], until.timestamp() if until else 0.0)
        return True

    def push(self, payload: dict[str, Any], offsets: list[tuple[Slot, int]], at: float) -> None:
        alert = payload["alert"]["id"] if payload["type"] == "alert" else None
        if alert is not None and alert in self.last_of:
            at = self._in_order(alert, at)
        delivery = Delivery(at, next(_seq), payload["delivery_id"], payload, offsets, alert=alert)
        heapq.heappush(self.heap, delivery)
        if alert is not None:
            self.last_of[alert] = delivery
        self.wake.set()

    def _in_order(self, alert: str, at: float) -> float:
        """When a new revision of `alert` may go, given its revisions still queued (the
        queue's sequence number breaks ties, so equal times keep revision order): not before
        one that failed and waits for its retry; one only held by quiet hours is brought
        forward with it instead (a revision that may go now, e.g. an escalation to critical,
        takes the earlier ones along)."""
        same = [d for d in self.heap if d.alert == alert]
        at = max([at, *(d.not_before for d in same if d.attempts)])
        pulled = False
        for d in same:
            if d.not_before > at:
                d.not_before, pulled = at, True
        if pulled:
            heapq.heapify(self.heap)
        return at

    def _pop(self) -> Delivery:
        head = heapq.heappop(self.heap)
        if head.alert is not None and self.last_of.get(head.alert) is head:
            del self.last_of[head.alert]
        return head

    def _postpone(self, head: Delivery, until: float) -> None:
        """Retry `head` at `until`, and hold its alert's later revisions until then too."""
        head.not_before = until
        if head.alert is not None:
            for later in self.heap:
                if later.alert == head.alert and later.not_before < until:
                    later.not_before = until
        heapq.heapify(self.heap)

    async def flush_digests(self) -> None:
        while True:
            await asyncio.sleep(self.digest_minutes * 60.0)
            if not self.digest:
                continue
            batch, self.digest = self.digest, []
            alerts = [a for a, _ in batch]
            first, last = alerts[0], alerts[-1]
            did = delivery_id(self.id, f"digest:{first['id']}:{last['id']}", len(alerts))
            payload = {
                "type": "digest",
                "subscription_id": self.id,
                "delivery_id": did,
                "minutes": self.digest_minutes,
                "alerts": alerts,
            }
            self.push(payload, [w for _, w in batch], 0.0)

    async def run(self) -> None:
        while True:
            if self.paused:
                await self._paused()
                continue
            if not self.heap:
                self.wake.clear()
                await self.wake.wait()
                continue
            head = self.heap[0]
            wait = max(head.not_before, self.paused_until) - time.time()
            if wait > 0:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), wait)
                continue
            status, error = await self.d.post(self.record, head.payload)
            s = self.d.settings
            unreachable = status is None and error.startswith("unreachable")
            if not unreachable:
                self.down, self.down_since = False, None
            if status is not None and 200 <= status < 300:
                self._pop()
                metrics.WEBHOOK_DELIVERIES.labels(outcome="delivered").inc()
                self.finished(head)
                continue
            if status is None and error.startswith("forbidden"):  # never retried
                self._pop()
                await self.d.dead_letter(self.record, head, status, error)
                self.finished(head)
                continue
            if unreachable:  # DOWN: the whole queue waits, in order, spending no attempts
                now = time.time()
                self.down = True
                self.down_since = self.down_since or now
                self.paused_until = now + s.webhook_backoff_max_seconds
                metrics.WEBHOOK_DELIVERIES.labels(outcome="down").inc()
                if now - self.down_since >= s.webhook_down_limit_seconds:
                    self._pause(error)
                continue
            head.attempts += 1
            if retryable(status) and head.attempts < s.webhook_max_attempts:
                delay = backoff(
                    head.attempts,
                    base=s.webhook_backoff_base_seconds,
                    cap=s.webhook_backoff_max_seconds,
                )
                self._postpone(head, time.time() + delay)
                metrics.WEBHOOK_DELIVERIES.labels(outcome="retry").inc()
                continue
            self._pop()
            await self.d.dead_letter(self.record, head, status, error)
            self.finished(head)

    def _pause(self, error: str) -> None:
        self.paused = True
        metrics.WEBHOOK_PAUSED.inc()
        log.warning(
            "subscription paused: receiver down",
            extra={
                "subscription_id": self.id,
                "down_seconds": round(time.time() - (self.down_since or time.time())),
                "error": error[:200],
            },
        )

    async def _paused(self) -> None:
        """Dead-letter whatever is queued (a paused subscription holds nothing back), and ping
        the receiver every backoff cap; its first 2xx resumes deliveries."""
        since = datetime.fromtimestamp(self.down_since or time.time(), UTC).isoformat()
        while self.heap:
            head = self._pop()
            await self.d.dead_letter(
                self.record, head, None, f"paused: receiver unreachable since {since}"
            )
            self.finished(head)
        wait = self.paused_until - time.time()
        if wait > 0:
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)
            return
        ping = {
            "type": "ping",
            "subscription_id": self.id,
            "delivery_id": delivery_id(self.id, "ping", int(time.time())),
        }
        status, _ = await self.d.post(self.record, ping)
        metrics.WEBHOOK_DELIVERIES.labels(outcome="ping").inc()
        if status is not None and 200 <= status < 300:
            self.paused, self.down, self.down_since = False, False, None
            metrics.WEBHOOK_PAUSED.dec()
            log.info("subscription resumed", extra={"subscription_id": self.id})
        else:
            self.paused_until = time.time() + self.d.settings.webhook_backoff_max_seconds


def new_session(settings: Settings) -> aiohttp.ClientSession:
    """The delivery session: checked resolution (CheckedResolver), no environment proxies."""
    connector = aiohttp.TCPConnector(
        resolver=CheckedResolver(settings.webhook_allow_private), limit_per_host=4
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=settings.webhook_timeout_seconds),
        trust_env=False,
    )


class Dispatcher:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.alerts_topic = settings.topic_alerts
        self.trends_topic = topics.trends(settings)
        self.subscriptions: dict[str, SubscriptionQueue] = {}
        self.consumed: dict[Slot, int] = {}  # (topic, partition) → next offset
        # (subscription, slot) → offset, as rasid.webhooks.progress says (read at start, then
        # our own writes come back) and as this process last wrote it
        self.durable: dict[tuple[str, Slot], int] = {}
        self.written: dict[tuple[str, Slot], int] = {}
        self.removed: set[str] = set()  # subscriptions whose progress records to delete
        self.progress_ready = asyncio.Event()
        self.session: aiohttp.ClientSession | None = None
        self.producer: AIOKafkaProducer | None = None
        self.subs_ready = asyncio.Event()
        self.alerts_ready = asyncio.Event()

    def slot(self, partition: int) -> Slot:
        """A partition of the alerts topic (what version 1 progress records and tests name)."""
        return (self.alerts_topic, partition)

    # ---- subscriptions (compacted topic, read whole and followed)
    def on_subscription(self, record: Any) -> None:
        sub_id = (record.key or b"").decode()
        old = self.subscriptions.pop(sub_id, None)
        if old is not None:
            asyncio.get_running_loop().create_task(old.stop())
        if record.value is None:
            self.removed.add(sub_id)
            return
        try:  # version 1 (alerts only) and version 2 (kinds, trend filters)
            doc = decode_valid(
                "subscription", record.value, "subscription", older={1: "subscription-v1"}
            )
        except BadInput:
            # never started: a record that no version of the schema accepts (written by hand)
            log.warning("invalid subscription record ignored", extra={"subscription_id": sub_id})
            return
        self.removed.discard(sub_id)
        queue = SubscriptionQueue(doc, self)
        self.subscriptions[sub_id] = queue
        queue.start()

    # ---- progress (compacted; keyed "<subscription>/<partition>" for the alerts topic,
    # version 1, and "<subscription>/<topic>/<partition>" for any other, version 2)
    def _progress_key(self, sub_id: str, slot: Slot) -> bytes:
        topic, partition = slot
        if topic == self.alerts_topic:
            return f"{sub_id}/{partition}".encode()
        return f"{sub_id}/{topic}/{partition}".encode()

    def on_progress(self, record: Any) -> None:
        if record.value is None:
            parts = (record.key or b"").decode().split("/")
            if len(parts) == 2:
                self.durable.pop((parts[0], self.slot(int(parts[1]))), None)
            elif len(parts) == 3:
                self.durable.pop((parts[0], (parts[1], int(parts[2]))), None)
            return
        doc = decode_valid(
            "webhook-progress",
            record.value,
            "webhook progress record",
            older={1: "webhook-progress-v1"},
        )
        key = (doc["subscription_id"], (doc.get("topic", self.alerts_topic), doc["partition"]))
        self.durable[key] = max(self.durable.get(key, 0), doc["offset"])

    def progress(self, queue: SubscriptionQueue, slot: Slot) -> int:
        """Where `queue` stands on `slot`: never behind what it recorded before (records
        re-read after a restart below that point are skipped for it, not pending)."""
        own = queue.offsets.point(slot, self.consumed[slot])
        return max(own, self.durable.get((queue.id, slot), 0))

    def commit_points(self) -> dict[Slot, int]:
        """The group's offsets: per slot, the oldest progress of any subscription."""
        return {
            slot: min([nxt, *(self.progress(q, slot) for q in self.subscriptions.values())])
            for slot, nxt in self.consumed.items()
        }

    def progress_records(self) -> list[tuple[bytes, bytes | None]]:
        """(key, value) records for what changed since the last write; tombstones for the
        progress of removed subscriptions."""
        out: list[tuple[bytes, bytes | None]] = []
        now = datetime.now(UTC).isoformat()
        for queue in self.subscriptions.values():
            for slot in self.consumed:
                at = self.progress(queue, slot)
                if self.written.get((queue.id, slot)) == at:
                    continue
                self.written[(queue.id, slot)] = at
                topic, partition = slot
                doc: dict[str, Any] = {
                    "schema_version": 1,
                    "subscription_id": queue.id,
                    "partition": partition,
                    "offset": at,
                    "at": now,
                }
                if topic == self.alerts_topic:  # as before: an older release reads it too
                    check_outgoing("webhook-progress-v1", doc)
                else:
                    doc = {**doc, "schema_version": 2, "topic": topic}
                    check_outgoing("webhook-progress", doc)
                out.append((self._progress_key(queue.id, slot), orjson.dumps(doc)))
        for sub_id in self.removed:
            for key in [k for k in {*self.written, *self.durable} if k[0] == sub_id]:
                self.written.pop(key, None)
                out.append((self._progress_key(*key), None))
        self.removed.clear()
        return out

    # ---- alerts and trends
    def on_alert(self, partition: int, offset: int, value: bytes | None) -> None:
        try:
            alert = orjson.loads(value or b"")
        except orjson.JSONDecodeError:
            alert = None
        if isinstance(alert, dict):  # the previous release's version 2 goes out as version 3
            alert = upgrade_alert(alert)
        slot = self.slot(partition)
        self.consumed[slot] = offset + 1
        for queue in list(self.subscriptions.values()):
            # below its recorded progress: delivered or dead-lettered for it before a restart
            fresh = offset >= self.durable.get((queue.id, slot), 0)
            taken = (
                fresh
                and isinstance(alert, dict)
                and "id" in alert
                and queue.offer(alert, (slot, offset))
            )
            queue.offsets.consumed_record(slot, offset, int(taken))

    def on_trend(self, partition: int, offset: int, value: bytes | None) -> None:
        """A record of the trends topic: offered to the subscriptions of kind trends; an
        invalid one is skipped (counted), its offset passed like any other's."""
        trend: dict[str, Any] | None = None
        try:
            if len(value or b"") <= TREND_MAX_BYTES:
                trend = decode_valid("trend", value, "trend record")
        except BadInput:
            pass
        if trend is None:
            metrics.TREND_RECORDS_INVALID.labels(reader="webhooks").inc()
            log.warning(
                "invalid trend record skipped",
                extra={"topic": self.trends_topic, "partition": partition, "offset": offset},
            )
        slot = (self.trends_topic, partition)
        self.consumed[slot] = offset + 1
        for queue in list(self.subscriptions.values()):
            fresh = offset >= self.durable.get((queue.id, slot), 0)
            taken = fresh and trend is not None and queue.offer_trend(trend, (slot, offset))
            queue.offsets.consumed_record(slot, offset, int(taken))

    async def post(self, record: dict[str, Any], payload: dict[str, Any]) -> tuple[int | None, str]:
        assert self.session is not None
        body = orjson.dumps(payload)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Rasid-Webhooks/1",
            # A fresh time on every attempt: a receiver refuses old ones (replays).
            "X-Rasid-Signature": sign(record["secret"], body, int(time.time())),
            "X-Rasid-Delivery": payload["delivery_id"],
        }
        problem = url_problem(record["url"], allow_private=self.settings.webhook_allow_private)
        if problem is not None:  # the subscription predates the check, or was written by hand
            return None, f"forbidden: {problem}"
        started = time.perf_counter()
        try:
            # Never follow a redirect: it would re-post the body and its signature to a URL
            # nobody checked. A 3xx is a refusal (dead letter).
            async with self.session.post(
                record["url"], data=body, headers=headers, allow_redirects=False
            ) as resp:
                await resp.read()
                return resp.status, f"HTTP {resp.status}"
        except TimeoutError:
            return None, "timeout"
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, ForbiddenTarget):
                return None, "forbidden: the receiver's host resolves to a forbidden address"
            return None, f"unreachable: {exc}"
        except aiohttp.ClientError as exc:  # reset mid-request, bad response, …
            return None, f"error: {exc!r}"
        finally:
            metrics.WEBHOOK_SECONDS.observe(time.perf_counter() - started)

    async def dead_letter(
        self, record: dict[str, Any], delivery: Delivery, status: int | None, error: str
    ) -> None:
        assert self.producer is not None
        letter = {
            "schema_version": 1,
            "delivery_id": delivery.id,
            "subscription_id": record["id"],
            "url": record["url"],
            "attempts": max(1, delivery.attempts),
            "last_status": status,
            "last_error": error[:500],
            "payload": delivery.payload,
            "failed_at": datetime.now(UTC).isoformat(),
        }
        check_outgoing("delivery-deadletter", letter)
        await self.producer.send_and_wait(
            topics.deliveries_deadletter(self.settings),
            orjson.dumps(letter),
            key=record["id"].encode(),
        )
        metrics.WEBHOOK_DELIVERIES.labels(outcome="deadletter").inc()
        log.warning(
            "delivery dead-lettered",
            extra={"subscription_id": record["id"], "delivery_id": delivery.id, "error": error},
        )

    async def consume_alerts(self) -> None:
        s = self.settings
        consumer = AIOKafkaConsumer(
            self.alerts_topic,
            self.trends_topic,
            bootstrap_servers=s.kafka_bootstrap,
            group_id=f"{s.app_id}-webhooks",
            enable_auto_commit=False,
            auto_offset_reset="latest",  # a new deployment does not replay history
        )
        await consumer.start()
        try:
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=200)  # joins the group
            for tp in consumer.assignment():  # the position is fixed now (latest / committed)
                await consumer.position(tp)
            self.alerts_ready.set()
            last_commit = time.monotonic()
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                for tp, records in batch.items():
                    take = self.on_alert if tp.topic == self.alerts_topic else self.on_trend
                    for r in records:
                        take(r.partition, r.offset, r.value)
                if time.monotonic() - last_commit >= 1.0:
                    # each subscription's progress first: the group never passes it
                    await self.write_progress()
                    points = self.commit_points()
                    if points:
                        await consumer.commit(
                            {TopicPartition(t, p): o for (t, p), o in points.items()}
                        )
                    last_commit = time.monotonic()
        finally:
            self.alerts_ready.clear()
            await consumer.stop()

    async def write_progress(self) -> None:
        assert self.producer is not None
        records = self.progress_records()
        sends = [
            await self.producer.send(topics.webhook_progress(self.settings), value, key=key)
            for key, value in records
        ]
        await asyncio.gather(*sends)

    async def run(self) -> None:
        s = self.settings
        self.session = new_session(s)
        self.producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all")
        await self.producer.start()
        tasks = [
            asyncio.create_task(
                supervise(
                    "subscriptions",
                    lambda: tail(
                        s.kafka_bootstrap,
                        topics.subscriptions(s),
                        self.on_subscription,
                        ready=self.subs_ready,
                    ),
                )
            ),
            asyncio.create_task(
                supervise(
                    "progress",
                    lambda: tail(
                        s.kafka_bootstrap,
                        topics.webhook_progress(s),
                        self.on_progress,
                        ready=self.progress_ready,
                    ),
                )
            ),
        ]
        try:
            # know the subscriptions and how far each got before taking alerts and trends
            await self.subs_ready.wait()
            await self.progress_ready.wait()
            tasks.append(asyncio.create_task(supervise("alerts", self.consume_alerts)))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            for queue in list(self.subscriptions.values()):
                await queue.stop()
            await self.producer.stop()
            await self.session.close()


def _web(dispatcher: Dispatcher) -> web.Application:
    app = web.Application(middlewares=[json_errors])
    health.add_routes(
        app,
        lambda: {
            "subscriptions_loaded": dispatcher.subs_ready.is_set(),
            "progress_loaded": dispatcher.progress_ready.is_set(),
            "alerts_reader": dispatcher.alerts_ready.is_set(),
        },
        # Counts only: subscription ids are not for whoever can reach the port.
        lambda: {
            "subscriptions": len(dispatcher.subscriptions),
            "down": sum(1 for q in dispatcher.subscriptions.values() if q.down),
            "paused": sum(1 for q in dispatcher.subscriptions.values() if q.paused),
        },
    )
    return app


async def serve(settings: Settings) -> None:
    from streams.kafka.admin import ensure_topics

    await ensure_topics(settings)
    await topics.ensure(settings)
    dispatcher = Dispatcher(settings)
    runner = Runner(_web(dispatcher))
    await runner.setup()
    await web.TCPSite(runner, settings.web_host, settings.webhook_port).start()
    main = asyncio.create_task(dispatcher.run())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        done, _ = await asyncio.wait(
            [main, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
        )
        if main in done:
            main.result()  # a crash: raise it
    finally:
        main.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await main
        await runner.cleanup()
