"""Kafka readers of the API process: the alert feed (a bounded buffer of recent alert messages,
fanned out to every live stream) and the API key store (the compacted keys topic, whole)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import metrics
from streams.api.access import ApiKey
from streams.kafka.partitions import wait_for_partitions

log = logging.getLogger("rasid.api")

STREAM_QUEUE = 1000  # events a slow stream client may lag behind before it is disconnected


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of the alerts topic, where it sits in Kafka, and its JSON (sent as is)."""

    partition: int
    offset: int
    timestamp: int  # ms, the broker record's timestamp
    alert: dict[str, Any]
    data: str

    @property
    def cursor(self) -> tuple[int, int, int]:
        return (self.timestamp, self.partition, self.offset)


async def tail(
    bootstrap: str,
    topic: str,
    on_record: Callable[[Any], None],
    *,
    start: Callable[[int, int, int], int] | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Read every partition of `topic` (no consumer group), from `start(partition, begin, end)`
    (default: the beginning) for ever; set `ready` once the ends seen at startup are reached."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await wait_for_partitions(consumer, topic, timeout=60.0)
        if not tps:
            raise RuntimeError(f"topic {topic} does not exist")
        consumer.assign(tps)
        begins = await consumer.beginning_offsets(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            at = start(tp.partition, begins[tp], ends[tp]) if start else begins[tp]
            consumer.seek(tp, at)
        pending = {tp for tp in tps if ends[tp] > (await consumer.position(tp))}
        if not pending and ready:
            ready.set()
        while True:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    try:
                        on_record(record)
                    except Exception:  # one bad record must not stop the reader
                        log.warning("bad record in %s", topic, exc_info=True)
            if pending:
                pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
                if not pending and ready:
                    ready.set()
    finally:
        await consumer.stop()


async def read_range(
    bootstrap: str, topic: str, partition: int, start: int, stop: int
) -> list[Any]:
    """Records [start, stop) of one partition: a stream resuming from before the buffer."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: list[Any] = []
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        while (await consumer.position(tp)) < stop:
            batch = await consumer.getmany(tp, timeout_ms=2000)
            if not batch:
                break
            out.extend(r for r in batch.get(tp, []) if r.offset < stop)
    finally:
        await consumer.stop()
    return out


def entry_of(record: Any) -> Entry | None:
    try:
        alert = orjson.loads(record.value or b"")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(alert, dict) or "id" not in alert:
        return None
    return Entry(
        record.partition, record.offset, int(record.timestamp), alert, orjson.dumps(alert).decode()
    )


class AlertFeed:
    """Recent alert messages in consumption order, the position reached in every partition,
    and the live stream queues."""

    def __init__(self, bootstrap: str, topic: str, size: int) -> None:
        self.bootstrap, self.topic, self.size = bootstrap, topic, size
        self.buffer: deque[Entry] = deque(maxlen=size)
        self.position: dict[int, int] = {}  # partition → next offset
        self.first: dict[int, int] = {}  # partition → first offset the buffer can still serve
        self.queues: set[asyncio.Queue[Entry | None]] = set()
        self.owners: dict[asyncio.Queue[Entry | None], str] = {}  # stream → its key's id
        self.revoked: set[asyncio.Queue[Entry | None]] = set()  # streams to end at once
        self.ready = asyncio.Event()

    def _start(self, partition: int, begin: int, end: int) -> int:
        if partition in self.position:  # a restarted reader goes on where it was
            return max(begin, self.position[partition])
        at = max(begin, end - self.size)
        self.position[partition] = self.first[partition] = at
        return at

    def add(self, record: Any) -> None:
        self.position[record.partition] = record.offset + 1
        entry = entry_of(record)
        if entry is None:
            return
        if len(self.buffer) == self.buffer.maxlen:
            old = self.buffer[0]
            self.first[old.partition] = max(self.first.get(old.partition, 0), old.offset + 1)
        self.buffer.append(entry)
        for queue in list(self.queues):
            if queue.qsize() >= STREAM_QUEUE:
                # Too slow: its stream ends after the last entry it already holds (none is
                # dropped, so the id of its last event is exact) and it resumes from there
                # with Last-Event-ID. The queue itself is unbounded; this is its bound.
                self.queues.discard(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait(entry)

    async def run(self) -> None:
        await tail(self.bootstrap, self.topic, self.add, start=self._start, ready=self.ready)

    def subscribe(self, key_id: str = "") -> asyncio.Queue[Entry | None]:
        queue: asyncio.Queue[Entry | None] = asyncio.Queue()  # bounded by add()
        self.queues.add(queue)
        self.owners[queue] = key_id
        metrics.API_STREAMS.inc()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Entry | None]) -> None:
        self.queues.discard(queue)
        self.owners.pop(queue, None)
        self.revoked.discard(queue)
        metrics.API_STREAMS.dec()

    def is_revoked(self, queue: asyncio.Queue[Entry | None]) -> bool:
        return queue in self.revoked

    def revoke(self, key_id: str) -> int:
        """End every stream of a revoked (or changed) key now: what its queues hold is
        dropped, not sent, and a stream still sending its backlog stops (is_revoked)."""
        cut = [q for q, owner in self.owners.items() if owner == key_id]
        for queue in cut:
            self.queues.discard(queue)
            self.revoked.add(queue)
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(None)
        if cut:
            log.info(
                "streams of a revoked key closed", extra={"key_id": key_id, "streams": len(cut)}
            )
        return len(cut)

    def close_streams(self) -> None:
        for queue in list(self.queues):
            self.queues.discard(queue)
            queue.put_nowait(None)

    async def since(self, position: dict[int, int]) -> list[Entry]:
        """Every message after `position`, in consumption order: from Kafka for the part the
        buffer no longer (or not yet) holds, then from the buffer."""
        older: list[Entry] = []
        for partition, first in self.first.items():
            # At most one buffer's worth per partition is read back: a very old (or forged)
            # position must not make one client read the whole topic.
            start = max(position.get(partition, 0), first - self.size)
            if start < first:
                records = await read_range(self.bootstrap, self.topic, partition, start, first)
                older.extend(e for e in map(entry_of, records) if e is not None)
        older.sort(key=lambda e: e.cursor)
        return older + [e for e in self.buffer if e.offset >= position.get(e.partition, 0)]

    def latest(self) -> list[Entry]:
        """The last revision of every alert in the buffer, newest first."""
        last: dict[str, Entry] = {}
        for entry in self.buffer:
            last[entry.alert["id"]] = entry
        return sorted(last.values(), key=lambda e: e.cursor, reverse=True)


class KeyStore:
    """Every API key (the compacted keys topic read whole, then followed: new and revoked keys
    apply within a second)."""

    def __init__(
        self, bootstrap: str, topic: str, on_revoke: Callable[[str], object] | None = None
    ) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.keys: dict[str, ApiKey] = {}
        self.ready = asyncio.Event()
        self.on_revoke = on_revoke  # called with the id of a key revoked or changed

    def add(self, record: Any) -> None:
        key_id = (record.key or b"").decode()
        old = self.keys.get(key_id)
        if record.value is None:  # tombstone: revoked
            self.keys.pop(key_id, None)
        else:
            self.keys[key_id] = ApiKey.from_record(orjson.loads(record.value))
        if old is not None and self.keys.get(key_id) != old and self.on_revoke is not None:
            # Revoked, or re-scoped: its open streams end (a re-scoped key reconnects with
            # its new scope).
            self.on_revoke(key_id)

    async def run(self) -> None:
        await tail(self.bootstrap, self.topic, self.add, ready=self.ready)


async def supervise(name: str, run: Callable[[], Awaitable[None]]) -> None:
    """Keep a reader running: restart it after a failure (broker restart, …)."""
    while True:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("%s reader failed; restarting", name, exc_info=True)
            await asyncio.sleep(2.0)


def filtered(entries: Iterable[Entry], allow: Callable[[dict[str, Any]], bool]) -> list[Entry]:
    return [e for e in entries if allow(e.alert)]
