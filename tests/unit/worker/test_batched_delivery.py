"""streams.worker.batches.deliver with a running aiokafka producer behind the topics: a call's
messages of a topic go out as one batch per partition (more when one fills), on the partition
the producer's partitioner gives each key, in order; a batch refused for good is sent again
one message at a time (only the message at fault fails); transient failures are retried
without sending a submitted batch twice."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    ProducerClosed,
    RecordTooLargeError,
)

from streams.worker import batches as delivery
from streams.worker.batches import Outgoing, deliver


class Builder:
    """aiokafka's BatchBuilder, as far as deliver uses it: holds up to `room` records."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.records: list[tuple[bytes, bytes]] = []
        self.closed = False

    def append(self, *, timestamp: None, key: bytes, value: bytes) -> object | None:
        assert timestamp is None  # the producer's clock, as send() does it
        if self.closed or (self.records and len(self.records) >= self.room):
            return None
        self.records.append((key, value))
        return object()

    def close(self) -> None:
        self.closed = True


class Producer:
    """Stands in for AIOKafkaProducer: partition = first byte of the key % 3. `outcomes`: per
    submitted batch in order, what its ack is (None: acknowledged) or what submitting raises
    ("raise", exc)."""

    _max_request_size = 10_000

    def __init__(self, room: int = 100, outcomes: list[Any] | None = None) -> None:
        self.room = room
        self.outcomes = list(outcomes or [])
        self.batches: list[tuple[str, int, list[tuple[bytes, bytes]]]] = []  # acknowledged
        self.submitted = 0

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def _partition(self, topic: str, partition: None, *_: Any) -> int:
        key = _[2]
        return key[0] % 3

    def create_batch(self) -> Builder:
        return Builder(self.room)

    async def send_batch(self, builder: Builder, topic: str, *, partition: int) -> Any:
        assert builder.closed  # nothing else can join it
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, tuple):
            raise outcome[1]
        self.submitted += 1
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if outcome is None:
            self.batches.append((topic, partition, builder.records))
            fut.set_result(None)
        else:
            fut.set_exception(outcome)
        return fut


class Topic:
    """A faust topic with `producer` behind it; `send` is the one-by-one path."""

    def __init__(self, name: str, producer: Producer, refuse: bytes | None = None) -> None:
        self.name = name
        self.producer = producer
        self.refuse = refuse
        self.singles: list[bytes] = []

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, *, key: bytes, value: bytes) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if value == self.refuse:
            fut.set_exception(RecordTooLargeError())
        else:
            self.singles.append(value)
            fut.set_result(None)
        return fut


@pytest.fixture(autouse=True)
def producers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "BACKOFF_FIRST", 0.001)
    monkeypatch.setattr(delivery, "BACKOFF_MAX", 0.002)
    monkeypatch.setattr(delivery, "_kafka_producer", lambda topic: getattr(topic, "producer", None))


def _msgs(topic: Topic, keys: bytes) -> list[Outgoing]:
    return [Outgoing(topic, bytes([k]), f"v{i}".encode()) for i, k in enumerate(keys)]


@pytest.mark.parametrize(
    ("keys", "room", "expected"),
    [
        # (partition, values) per batch, in the order they were submitted
        (b"\x00\x01\x02\x03", 100, [(0, [b"v0", b"v3"]), (1, [b"v1"]), (2, [b"v2"])]),
        (b"\x00\x03\x06\x09\x01", 2, [(0, [b"v0", b"v1"]), (0, [b"v2", b"v3"]), (1, [b"v4"])]),
        (b"\x00", 1, [(0, [b"v0"])]),
    ],
)
async def test_messages_go_in_one_batch_per_partition_in_order(
    keys: bytes, room: int, expected: list[tuple[int, list[bytes]]]
) -> None:
    producer = Producer(room)
    topic = Topic("alerts", producer)
    assert await deliver(_msgs(topic, keys)) == []
    assert [(p, [v for _, v in records]) for _, p, records in producer.batches] == expected
    assert topic.singles == []


@pytest.mark.parametrize(
    ("outcomes", "refuse", "failed", "singles", "batched"),
    [
        # a batch refused for good: its messages one by one, only the one at fault fails
        # (the first batch submitted: partition 0's, v0 and v3)
        ([RecordTooLargeError()], b"v3", [b"v3"], [b"v0"], []),
        # transient ack failures: the batch again, once acknowledged, nothing twice
        ([KafkaConnectionError(), KafkaConnectionError()], None, [], [], [b"v0", b"v3"]),
        # submitting fails (no metadata: the broker is away): retried
        ([("raise", KafkaTimeoutError())], None, [], [], [b"v0", b"v3"]),
        # submitting refuses for good (a record the builder cannot take): every message not
        # yet submitted goes one by one, only the one at fault fails (before: the batch was
        # taken for a transient failure and retried, forever for a real permanent one)
        ([("raise", RecordTooLargeError())], b"v3", [b"v3"], [b"v0", b"v1", b"v2"], []),
    ],
)
async def test_failed_batches(
    outcomes: list[Any],
    refuse: bytes | None,
    failed: list[bytes],
    singles: list[bytes],
    batched: list[bytes],
) -> None:
    producer = Producer(outcomes=outcomes)
    topic = Topic("alerts", producer, refuse=refuse)
    lost = await deliver(_msgs(topic, b"\x00\x01\x02\x00"))  # partitions 0, 1, 2, 0
    assert [m.value for m in lost] == failed
    assert all(isinstance(m.error, RecordTooLargeError) for m in lost)
    assert sorted(topic.singles) == singles
    delivered = [v for _, p, records in producer.batches for _, v in records]
    assert sorted(delivered) == sorted({b"v0", b"v1", b"v2", b"v3"} - set(singles) - set(failed))
    if batched:
        assert [v for _, p, records in producer.batches if p == 0 for _, v in records] == batched


async def test_a_message_too_large_for_a_request_goes_alone() -> None:
    producer = Producer()
    topic = Topic("alerts", producer)
    big = Outgoing(topic, b"\x00", b"x" * producer._max_request_size)
    assert await deliver([big, *_msgs(topic, b"\x01")]) == []
    assert topic.singles == [big.value]
    assert [records for _, _, records in producer.batches] == [[(b"\x01", b"v0")]]


async def test_a_closed_producer_stops_delivery() -> None:
    producer = Producer(outcomes=[("raise", ProducerClosed())])
    with pytest.raises(ProducerClosed):
        await deliver(_msgs(Topic("alerts", producer), b"\x00"))


async def test_only_a_started_aiokafka_producer_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the real _kafka_producer
    kafka = AIOKafkaProducer.__new__(AIOKafkaProducer)  # an instance, never connected

    class FaustProducer:
        _producer: Any = None

    class App:
        _producer = FaustProducer()

    class FaustTopic:
        app = App()

    assert delivery._kafka_producer(FaustTopic()) is None  # not started yet
    FaustProducer._producer = kafka
    assert delivery._kafka_producer(FaustTopic()) is kafka
    assert delivery._kafka_producer(object()) is None  # a test's stand-in topic


class Sensors:
    """faust's SensorDelegate, recording what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def on_send_initiated(self, producer: Any, topic: str, message: None, k: int, v: int) -> int:
        self.calls.append(("initiated", (topic, k, v)))
        return len(self.calls)

    def on_send_completed(self, producer: Any, state: int, metadata: Any) -> None:
        self.calls.append(("completed", state))

    def on_send_error(self, producer: Any, exc: BaseException, state: int) -> None:
        self.calls.append(("error", state))


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        # two messages in one batch, then one in another: each message initiated, then done
        ([], ["initiated", "initiated", "initiated", "completed", "completed", "completed"]),
        # the first batch (partition 0: two messages) fails once, and is sent again
        (
            [KafkaConnectionError()],
            ["initiated"] * 3
            + ["error", "error", "completed"]
            + ["initiated"] * 2
            + ["completed"] * 2,
        ),
    ],
)
async def test_faust_sensors_see_every_message(outcomes: list[Any], expected: list[str]) -> None:
    producer = Producer(outcomes=outcomes)
    topic = Topic("alerts", producer)
    sensors = Sensors()
    topic.app = type("App", (), {"sensors": sensors, "_producer": object()})()  # type: ignore[attr-defined]
    assert await deliver(_msgs(topic, b"\x00\x03\x01")) == []
    assert [kind for kind, _ in sensors.calls] == expected
    assert sensors.calls[0] == ("initiated", ("alerts", 1, 2))
