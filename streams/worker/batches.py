"""Delivering a batch's output to Kafka: every send issued at once, every ack awaited together.

The agents take input events in batches (`stream.noack_take`) and acknowledge them only after
`deliver` returned, i.e. after the broker acknowledged every message the batch produced. Faust
commits only acknowledged offsets, so a worker that dies at any point re-reads whatever it had
not delivered yet (at-least-once; see docs/guarantees.md).

Failures are split in two:

- transient ones (broker down or restarting, leader moved, timeouts) are retried with backoff
  until they succeed: the worker stalls while the broker is away and resumes when it is back,
  instead of dead-lettering good articles or acknowledging events it never delivered;
- permanent ones that belong to one message (too large for the broker, a value the client
  refuses) are returned to the caller, which dead-letters that message.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    MessageSizeTooLargeError,
    ProducerClosed,
    RecordTooLargeError,
)
from faust.streams import _current_event

from streams import metrics
from streams.errors import BadInput, DeadLetterReason, Stage
from streams.times import utcnow
from streams.worker.pipeline import dead_letter

log = logging.getLogger("rasid.worker")

# Errors that retrying the same message cannot fix.
PERMANENT: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    CorruptRecordException,
    TypeError,
    ValueError,
)
BACKOFF_FIRST, BACKOFF_MAX = 0.2, 5.0


class BrokerWatch:
    """How long the broker has been unreachable: since the first failed contact (a send, an
    ack, a metadata probe) with no successful one after it; 0 while it answers.

    /readyz turns 503 past RASID_BROKER_UNREADY_AFTER_SECONDS (streams/worker/web.py)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.failing_since: float | None = None

    def failed(self) -> None:
        if self.failing_since is None:
            self.failing_since = self.clock()

    def reached(self) -> None:
        self.failing_since = None

    def unreachable_for(self) -> float:
        return 0.0 if self.failing_since is None else self.clock() - self.failing_since


BROKER = BrokerWatch()  # one producer per process: one watch


@dataclass(slots=True)
class Outgoing:
    """One message to send; `error` is set when it failed for good."""

    topic: Any  # a faust Topic
    key: bytes
    value: bytes
    error: BaseException | None = None


async def _issue(msg: Outgoing) -> asyncio.Future[Any]:
    """Hand the message to the producer; the returned future resolves on the broker's ack."""
    fut: asyncio.Future[Any] = await msg.topic.send(key=msg.key, value=msg.value)
    return fut


# Sends through faust's Topic.send cost 65-140 µs of CPU a message (its FutureMessage,
# sensors, producer wrapper), aiokafka's own send ~17 µs, a record appended to a batch that
# aiokafka sends whole ~15 µs (bench/send_cost.py). With 10,000 rules the story stage sends
# ~5 alerts per article, so a call's messages of a topic go out as one batch per partition:
# the same records (key, value, no headers, the producer's timestamp), on the partition
# aiokafka's partitioner gives each key, as the producer would have sent them one by one.
HEADROOM = 1024  # bytes: a message larger than the producer's request size less this goes
# alone through Topic.send (so that the producer refuses it as before)


def _kafka_producer(topic: Any) -> Any:
    """The started aiokafka producer behind a faust topic; None for anything else (a test's
    stand-in topic, a producer not started yet): such messages go one by one (`_issue`)."""
    app = getattr(topic, "app", None)
    faust_producer = getattr(app, "_producer", None)
    producer = getattr(faust_producer, "_producer", None)
    return producer if isinstance(producer, AIOKafkaProducer) else None


Issued = list[tuple[list[Outgoing], "asyncio.Future[Any]"]]


async def _issue_batches(
    producer: Any, topic: Any, messages: list[Outgoing], issued: Issued
) -> None:
    """Append `messages` (all of `topic`) to batches, one per partition (more when one fills),
    and submit them; each submitted batch with its messages goes to `issued`. Raises what the
    producer raises; messages not in `issued` then were not submitted. faust's sensors see
    each message as its Topic.send would have shown it (`faust_producer_send_latency` …)."""
    name = topic.get_topic_name()
    await producer.partitions_for(name)  # its metadata, as send() waits for it
    builders: dict[int, tuple[Any, list[Outgoing]]] = {}
    full: list[tuple[int, Any, list[Outgoing]]] = []
    for msg in messages:
        partition = producer._partition(name, None, None, None, msg.key, msg.value)
        builder, held = builders.get(partition) or (None, [])
        if builder is None or builder.append(timestamp=None, key=msg.key, value=msg.value) is None:
            if builder is not None:
                full.append((partition, builder, held))
            builder, held = producer.create_batch(), []
            builder.append(timestamp=None, key=msg.key, value=msg.value)  # a first one fits
            builders[partition] = builder, held
        held.append(msg)
    full += [(partition, builder, held) for partition, (builder, held) in builders.items()]
    app = getattr(topic, "app", None)
    sensors: Any = getattr(app, "sensors", None)
    sender = getattr(app, "_producer", None)
    for partition, builder, held in full:
        builder.close()  # nothing else is added to it by the producer's send()
        states = [
            sensors.on_send_initiated(sender, name, None, len(m.key), len(m.value))
            for m in (held if sensors is not None else ())
        ]
        fut = await producer.send_batch(builder, name, partition=partition)
        if sensors is not None:
            fut.add_done_callback(functools.partial(_sensed, sensors, sender, states))
        issued.append((held, fut))


def _sensed(sensors: Any, sender: Any, states: list[Any], fut: asyncio.Future[Any]) -> None:
    """A batch's ack (or failure) to faust's sensors, once per message."""
    if fut.cancelled():
        return
    exc = fut.exception()
    for state in states:
        if exc is None:
            sensors.on_send_completed(sender, state, fut.result())
        else:
            sensors.on_send_error(sender, exc, state)


async def deliver(messages: Sequence[Outgoing]) -> list[Outgoing]:
    """Send every message and wait for all acks; return the messages that failed for good.

    Retries transient failures until they succeed (it never gives up on those: the caller's
    input offsets stay uncommitted meanwhile). Cancellation propagates. The messages of a
    topic with a started aiokafka producer behind it go out in batches (`_issue_batches`); a
    batch refused for good is sent again one message at a time, so that only the message at
    fault fails.
    """
    pending = list(messages)
    failed: list[Outgoing] = []
    alone: set[int] = set()  # ids of messages of a batch refused for good: sent one by one
    delay = BACKOFF_FIRST
    while pending:
        retry: list[Outgoing] = []
        transient = False  # a transient failure this round: back off before the next
        issued: Issued = []
        topics: dict[int, tuple[Any, Any, list[Outgoing]]] = {}
        single: list[Outgoing] = []
        for msg in pending:
            producer = None if id(msg) in alone else _kafka_producer(msg.topic)
            if producer is None or len(msg.key) + len(msg.value) > (
                producer._max_request_size - HEADROOM
            ):
                single.append(msg)
            else:
                topics.setdefault(id(msg.topic), (msg.topic, producer, []))[2].append(msg)
        for topic, producer, batched in topics.values():
            before = len(issued)
            try:
                await _issue_batches(producer, topic, batched, issued)
            except ProducerClosed:
                raise  # shutting down: the events stay unacknowledged, so they are re-read
            except Exception as exc:
                submitted = {id(m) for held, _ in issued[before:] for m in held}
                rest = [m for m in batched if id(m) not in submitted]
                if isinstance(exc, PERMANENT):  # which message? each goes again on its own
                    alone.update(id(m) for m in rest)
                else:
                    _note_retry(exc)
                    transient = True
                retry.extend(rest)
        batches = len(issued)  # issued[:batches] are batches, the rest single messages
        for msg in single:
            try:
                issued.append(([msg], await _issue(msg)))
            except ProducerClosed:
                raise
            except PERMANENT as exc:
                msg.error = exc
                failed.append(msg)
            except Exception as exc:
                _note_retry(exc)
                transient = True
                retry.append(msg)
        results = await asyncio.gather(*(f for _, f in issued), return_exceptions=True)
        for i, ((held, _), result) in enumerate(zip(issued, results, strict=True)):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, ProducerClosed):
                raise result
            if isinstance(result, PERMANENT) and i >= batches:
                held[0].error = result
                failed.append(held[0])
            elif isinstance(result, PERMANENT):  # which message? each goes again on its own
                alone.update(id(m) for m in held)
                retry.extend(held)
            elif isinstance(result, BaseException):
                _note_retry(result)
                transient = True
                retry.extend(held)
        if issued and len(retry) < len(pending):
            BROKER.reached()  # at least one send was acknowledged
        pending = retry
        if transient:
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)
    return failed


@dataclass(slots=True)
class Step:
    """What one input message turned into: its outcome, the messages to send, and what to do
    once they are all acknowledged (metrics, the dedup table, logs). `item`: its part of a
    message shared with the batch's other events (key, encoded value), packed by a `Packer`."""

    outcome: str
    out: list[Outgoing] = field(default_factory=list)
    done: Callable[[], None] | None = None
    item: tuple[bytes, bytes] | None = None


@dataclass(frozen=True, slots=True)
class Packer:
    """Packs the items of a batch's steps into as few messages as the bounds allow: a JSON
    object `head` + items joined by "," + `tail` (e.g. the story candidates of a batch, one
    message instead of one per article: faust's produce/consume/ack cost is paid per message).
    A message holds at most `max_items` items and, unless one item alone is larger, at most
    `max_bytes` bytes; its key is its first item's."""

    topic: Any  # a faust Topic
    head: bytes
    tail: bytes
    max_items: int
    max_bytes: int

    def pack(
        self, items: Sequence[tuple[int, tuple[bytes, bytes]]]
    ) -> list[tuple[Outgoing, list[int]]]:
        """(step index, item) in order → [(message, indexes of the steps it carries)]."""
        packed: list[tuple[Outgoing, list[int]]] = []
        group: list[tuple[int, tuple[bytes, bytes]]] = []
        size = 0

        def close() -> None:
            value = self.head + b",".join(v for _, (_, v) in group) + self.tail
            packed.append((Outgoing(self.topic, group[0][1][0], value), [i for i, _ in group]))

        for index, item in items:
            extra = len(item[1]) + 1
            if group and (len(group) >= self.max_items or size + extra > self.max_bytes):
                close()
                group, size = [], 0
            group.append((index, item))
            size += extra
        if group:
            close()
        return packed


def dead_letter_step(
    topic: Any,
    event: Any,
    stage: Stage,
    reason: DeadLetterReason,
    detail: str,
    *,
    value: bytes | None = None,
) -> Step:
    """The input event as a dead letter on `topic` (a faust Topic), counted once delivered.
    `value`: the bytes to keep instead of the event's (one item of a batch message)."""
    msg = event.message
    letter = dead_letter(
        reason=reason,
        detail=detail,
        stage=stage.value,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=msg.key,
        value=msg.value if value is None else value,
        now=utcnow(),
    )

    def done() -> None:
        metrics.DEADLETTERS.labels(reason=reason.value).inc()
        metrics.STAGE_ERRORS.labels(stage=stage.value).inc()
        log.warning(
            "dead letter",
            extra={
                "reason": reason.value,
                "detail": detail[:200],
                "topic": msg.topic,
                "partition": msg.partition,
                "offset": msg.offset,
            },
        )

    return Step(reason.value, [Outgoing(topic, msg.key or b"", orjson.dumps(letter))], done)


def failure_step(
    topic: Any,
    event: Any,
    stage: Stage,
    exc: Exception,
    *,
    value: bytes | None = None,
    where: str = "",
) -> Step:
    """Dead-letter the event whose processing failed: bad input with its own reason, anything
    else (a bug) as processing_error, logged with its traceback. `value` and `where` (e.g.
    "candidate 3 of 20: "): one failed item of a batch message, dead-lettered on its own."""
    if isinstance(exc, BadInput):
        reason, detail = exc.reason, exc.detail
    else:
        log.exception("processing error in %s", stage.value)
        reason, detail = DeadLetterReason.PROCESSING_ERROR, repr(exc)
    return dead_letter_step(topic, event, stage, reason, where + detail, value=value)


async def run_batch(
    stream: Any,
    events: Sequence[Any],
    handle: Callable[[Any], Step],
    refused: Callable[[Any, BaseException], Step],
    stage: str,
    packer: Packer | None = None,
) -> list[str]:
    """Process a batch of events, deliver everything it produced, then acknowledge the events.

    `handle` must not raise (it dead-letters its own failures). `refused` turns an event whose
    output the broker refused for good (e.g. too large) into a dead letter; a packed message
    refused for good takes every event it carries with it (one item too large for the broker
    is packed alone, see `Packer`). Nothing is acknowledged before every send of the batch is
    acknowledged by the broker, so a crash at any point leaves the batch's offsets uncommitted.
    """
    metrics.BATCH_SIZE.labels(stage=stage).observe(len(events))
    steps: list[Step] = []
    for event in events:
        steps.append(handle(event))
        await asyncio.sleep(0)  # CPU-bound loop: let heartbeats and fetches run in between
    packed: list[tuple[Outgoing, list[int]]] = []
    if packer is not None:
        packed = packer.pack([(i, s.item) for i, s in enumerate(steps) if s.item is not None])
    failed = await deliver([o for s in steps for o in s.out] + [o for o, _ in packed])
    if failed:
        errors = {id(o): o.error for o in failed}
        shared = {i: errors[id(o)] for o, carried in packed if id(o) in errors for i in carried}
        letters: list[Outgoing] = []
        for i, step in enumerate(steps):
            error = next((errors[id(o)] for o in step.out if id(o) in errors), shared.get(i))
            if error is not None:
                steps[i] = refused(events[i], error)
                letters.extend(steps[i].out)
        for lost in await deliver(letters):
            log.error("dead letter refused by the broker", extra={"error": repr(lost.error)})
    for event, step in zip(events, steps, strict=True):
        if step.done is not None:
            # Table writes (the emitted-alert ids) go to the changelog partition of the event
            # they came from: faust finds it through the current event.
            token = _current_event.set(weakref.ref(event))
            try:
                step.done()
            finally:
                _current_event.reset(token)
    for event in events:
        await stream.ack(event)
    return [s.outcome for s in steps]


def _note_retry(exc: BaseException) -> None:
    BROKER.failed()
    metrics.DELIVERY_RETRIES.inc()
    log.warning("send failed, retrying", extra={"error": repr(exc)[:300]})
