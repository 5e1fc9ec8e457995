"""streams.worker.batches: a batch's sends are all acknowledged before its events are, transient
failures (broker away) are retried instead of dead-lettering or dropping, and a message the
broker refuses for good is handed back to be dead-lettered."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, MessageSizeTooLargeError

from streams.worker import batches as delivery
from streams.worker.batches import Outgoing, Step, deliver, run_batch


class FlakyTopic:
    """A topic whose sends fail `failures` times (at send or at ack), then succeed."""

    def __init__(self, log: list[str], failures: int = 0, refuse: bytes | None = None) -> None:
        self.log = log
        self.failures = failures
        self.refuse = refuse
        self.delivered: list[bytes] = []

    async def send(self, *, key: bytes, value: bytes) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if value == self.refuse:
            fut.set_exception(MessageSizeTooLargeError())
        elif self.failures > 0:
            self.failures -= 1
            if self.failures % 2:
                raise KafkaTimeoutError()  # e.g. no metadata: the broker is down
            fut.set_exception(KafkaConnectionError())
        else:
            self.delivered.append(value)
            self.log.append(f"delivered {value.decode()}")
            fut.set_result(None)
        return fut


class FakeStream:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def ack(self, event: Any) -> bool:
        self.log.append(f"ack {event}")
        return True


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "BACKOFF_FIRST", 0.001)
    monkeypatch.setattr(delivery, "BACKOFF_MAX", 0.002)


async def test_transient_failures_are_retried_until_delivered() -> None:
    log: list[str] = []
    topic = FlakyTopic(log, failures=5)
    msgs = [Outgoing(topic, b"k", f"m{i}".encode()) for i in range(3)]
    assert await deliver(msgs) == []
    assert sorted(topic.delivered) == [b"m0", b"m1", b"m2"]


async def test_permanent_failure_is_returned_not_retried() -> None:
    log: list[str] = []
    topic = FlakyTopic(log, refuse=b"huge")
    msgs = [Outgoing(topic, b"k", b"ok"), Outgoing(topic, b"k", b"huge")]
    failed = await deliver(msgs)
    assert [m.value for m in failed] == [b"huge"]
    assert isinstance(failed[0].error, MessageSizeTooLargeError)
    assert topic.delivered == [b"ok"]


async def test_events_are_acked_only_after_every_send_of_the_batch() -> None:
    log: list[str] = []
    out = FlakyTopic(log, failures=3)
    letters = FlakyTopic(log)

    def handle(event: str) -> Step:
        return Step("ok", [Outgoing(out, b"k", event.encode())])

    def refused(event: str, exc: BaseException) -> Step:
        return Step("dead", [Outgoing(letters, b"k", f"dl-{event}".encode())])

    outcomes = await run_batch(FakeStream(log), ["e1", "e2", "e3"], handle, refused, "parse")
    assert outcomes == ["ok", "ok", "ok"]
    first_ack = log.index("ack e1")
    assert all(line.startswith("delivered") for line in log[:first_ack])
    assert len(log[:first_ack]) == 3
    assert log[first_ack:] == ["ack e1", "ack e2", "ack e3"]


async def test_refused_output_dead_letters_its_input_and_the_rest_goes_on() -> None:
    log: list[str] = []
    out = FlakyTopic(log, refuse=b"e2")
    letters = FlakyTopic(log)

    def handle(event: str) -> Step:
        return Step("ok", [Outgoing(out, b"k", event.encode())])

    def refused(event: str, exc: BaseException) -> Step:
        assert isinstance(exc, MessageSizeTooLargeError)
        return Step("too_large", [Outgoing(letters, b"k", f"dl-{event}".encode())])

    outcomes = await run_batch(FakeStream(log), ["e1", "e2", "e3"], handle, refused, "parse")
    assert outcomes == ["ok", "too_large", "ok"]
    assert letters.delivered == [b"dl-e2"]
    assert log[-3:] == ["ack e1", "ack e2", "ack e3"]


async def test_cancelled_batch_acks_nothing() -> None:
    """A worker stopped mid-batch leaves the batch unacknowledged: it is read again."""
    log: list[str] = []

    class Hanging:
        async def send(self, *, key: bytes, value: bytes) -> asyncio.Future[None]:
            return asyncio.get_running_loop().create_future()  # never acknowledged

    def handle(event: str) -> Step:
        return Step("ok", [Outgoing(Hanging(), b"k", b"v")])

    task = asyncio.create_task(
        run_batch(FakeStream(log), ["e1", "e2"], handle, lambda e, x: Step("x"), "parse")
    )
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not [line for line in log if line.startswith("ack")]
