"""Kafka readers of the API process: the alert feed (a bounded buffer of recent alert messages,
fanned out to every live stream) and the API key store (the compacted keys topic, whole).

The buffer is indexed so that no request costs time proportional to it: `/alerts` walks the
newest revisions from its cursor (`page`), and a resuming stream finds its position in each
partition by bisection (`backlog`). What a resume needs from before the buffer is read back
from Kafka in chunks, a few read-backs at a time, and streamed as it comes: a request never
holds more than one chunk (issue 16: ten forged resumes took the API from 94 MB to 733 MB).
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams import metrics
from streams.alerts import upgrade as upgrade_alert
from streams.api.access import ApiKey
from streams.kafka.partitions import wait_for_partitions

log = logging.getLogger("rasid.api")

STREAM_QUEUE = 1000  # events a slow stream client may lag behind before it is disconnected
ALERTS_ONLY = frozenset({"alert"})  # what a stream gets unless it asks for trends too
READBACK_CHUNK = 500  # records a read-back from Kafka holds at a time
READBACKS = 2  # read-backs from Kafka running at once (the others wait their turn)


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


# A live stream's queue: alert entries, trend entries (streams/api/trends.py TrendEntry) for
# the streams that asked for them, None to end it.
StreamQueue = asyncio.Queue[Any]


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
) -> AsyncIterator[list[Any]]:
    """Records [start, stop) of one partition, in chunks of at most READBACK_CHUNK: a stream
    resuming from before the buffer."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=262_144,  # what one fetch may buffer
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, start)
        while (await consumer.position(tp)) < stop:
            batch = await consumer.getmany(tp, timeout_ms=2000, max_records=READBACK_CHUNK)
            if not batch:
                break
            yield [r for r in batch.get(tp, []) if r.offset < stop]
    finally:
        await consumer.stop()


def entry_of(record: Any) -> Entry | None:
    try:
        alert = orjson.loads(record.value or b"")
    except orjson.JSONDecodeError:
        return None
    if not isinstance(alert, dict) or "id" not in alert:
        return None
    alert = upgrade_alert(alert)  # the previous release's version 2 is served as version 3
    return Entry(
        record.partition, record.offset, int(record.timestamp), alert, orjson.dumps(alert).decode()
    )


class AlertFeed:
    """Recent alert messages in consumption order, the position reached in every partition,
    and the live stream queues."""

    def __init__(self, bootstrap: str, topic: str, size: int) -> None:
        self.bootstrap, self.topic, self.size = bootstrap, topic, size
        self.buffer: deque[Entry] = deque(maxlen=size)
        # The same entries per partition, in offset order (a resume bisects them) …
        self.parts: dict[int, deque[Entry]] = {}
        # … and the newest revision of each alert, with (cursor, alert id) kept sorted: /alerts
        # walks it from its cursor and stops at its limit.
        self.newest_of: dict[str, Entry] = {}
        self.newest: list[tuple[tuple[int, int, int], str]] = []
        self.readbacks = asyncio.Semaphore(READBACKS)
        self.position: dict[int, int] = {}  # partition → next offset
        self.first: dict[int, int] = {}  # partition → first offset the buffer can still serve
        self.queues: set[StreamQueue] = set()
        self.owners: dict[StreamQueue, str] = {}  # stream → its key's id
        self.kinds: dict[StreamQueue, frozenset[str]] = {}  # stream → "alert", "trend"
        self.revoked: set[StreamQueue] = set()  # streams to end at once
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
            self.parts[old.partition].popleft()  # consumption order keeps offset order
            if self.newest_of.get(old.alert["id"]) is old:
                self._unlist(old)
                del self.newest_of[old.alert["id"]]
        self.buffer.append(entry)
        self.parts.setdefault(entry.partition, deque()).append(entry)
        previous = self.newest_of.get(entry.alert["id"])
        if previous is not None:
            self._unlist(previous)
        self.newest_of[entry.alert["id"]] = entry
        bisect.insort(self.newest, (entry.cursor, entry.alert["id"]))
        self.fan_out(entry, "alert")

    def fan_out(self, entry: Any, kind: str) -> None:
        """Hand an entry (an alert's, or a trend's: streams/api/trends.py) to every live stream
        that asked for its kind."""
        for queue in list(self.queues):
            if kind not in self.kinds.get(queue, ALERTS_ONLY):
                continue
            if queue.qsize() >= STREAM_QUEUE:
                # Too slow: its stream ends after the last entry it already holds (none is
                # dropped, so the id of its last event is exact) and it resumes from there
                # with Last-Event-ID. The queue itself is unbounded; this is its bound.
                self.queues.discard(queue)
                queue.put_nowait(None)
            else:
                queue.put_nowait(entry)

    def _unlist(self, entry: Entry) -> None:
        item = (entry.cursor, entry.alert["id"])
        i = bisect.bisect_left(self.newest, item)
        if i < len(self.newest) and self.newest[i] == item:
            del self.newest[i]

    async def run(self) -> None:
        await tail(self.bootstrap, self.topic, self.add, start=self._start, ready=self.ready)

    def subscribe(self, key_id: str = "", kinds: frozenset[str] = ALERTS_ONLY) -> StreamQueue:
        queue: StreamQueue = asyncio.Queue()  # bounded by fan_out()
        self.queues.add(queue)
        self.owners[queue] = key_id
        self.kinds[queue] = kinds
        metrics.API_STREAMS.inc()
        return queue

    def unsubscribe(self, queue: StreamQueue) -> None:
        self.queues.discard(queue)
        self.owners.pop(queue, None)
        self.kinds.pop(queue, None)
        self.revoked.discard(queue)
        metrics.API_STREAMS.dec()

    def is_revoked(self, queue: StreamQueue) -> bool:
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

    async def backlog(self, position: dict[int, int]) -> AsyncIterator[Entry]:
        """Every message after `position`: first what the buffer no longer (or not yet) holds,
        read back from Kafka partition by partition, in chunks; then the buffer's part, merged
        across partitions in time order."""
        at = dict(position)
        for partition in sorted(self.first):
            # At most one buffer's worth per partition is read back: a very old (or forged)
            # position must not make one client read the whole topic.
            at[partition] = max(at.get(partition, 0), self.first[partition] - self.size)
            # re-checked after each read: the buffer may have moved on meanwhile
            while at[partition] < (stop := self.first[partition]):
                async with self.readbacks:
                    chunks = read_range(self.bootstrap, self.topic, partition, at[partition], stop)
                    async for records in chunks:
                        for entry in map(entry_of, records):
                            if entry is not None:
                                yield entry
                at[partition] = stop
        slices = []
        for partition, entries in self.parts.items():
            start = bisect.bisect_left(entries, at.get(partition, 0), key=_offset)
            slices.append(list(itertools.islice(entries, start, None)))  # a snapshot: add() goes on
        for entry in heapq.merge(*slices, key=_cursor):
            yield entry

    def page(
        self, before: tuple[int, int, int] | None, limit: int, allow: Callable[[Entry], bool]
    ) -> tuple[list[Entry], bool]:
        """Up to `limit` newest revisions older than the cursor `before` that `allow` passes,
        newest first, and whether there are more."""
        end = len(self.newest) if before is None else bisect.bisect_left(self.newest, (before,))
        page: list[Entry] = []
        for i in range(end - 1, -1, -1):
            entry = self.newest_of[self.newest[i][1]]
            if allow(entry):
                if len(page) == limit:
                    return page, True
                page.append(entry)
        return page, False


def _offset(entry: Entry) -> int:
    return entry.offset


def _cursor(entry: Entry) -> tuple[int, int, int]:
    return entry.cursor


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
