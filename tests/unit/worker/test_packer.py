"""streams.worker.batches.Packer and run_batch with packed items: the items of a batch travel
in as few messages as the bounds allow, in order, and a packed message refused for good
dead-letters exactly the events it carried."""

from __future__ import annotations

import orjson
import pytest
from aiokafka.errors import MessageSizeTooLargeError

from streams.worker.batches import Outgoing, Packer, Step, run_batch
from tests.unit.worker.test_delivery import FakeStream, FlakyTopic

HEAD, TAIL = b'{"schema_version":4,"candidates":[', b"]}"


def _items(sizes: list[int]) -> list[tuple[int, tuple[bytes, bytes]]]:
    """Items of the given encoded sizes (≥ 10 bytes): JSON strings padded with «x»."""
    return [
        (i, (f"k{i}".encode(), orjson.dumps(f"{i}:".ljust(n - 2, "x"))))
        for i, n in enumerate(sizes)
    ]


@pytest.mark.parametrize(
    ("sizes", "max_items", "max_bytes", "groups"),
    [
        ([], 10, 1000, []),
        ([100] * 3, 10, 1000, [[0, 1, 2]]),  # one batch, one message
        ([100] * 5, 2, 1000, [[0, 1], [2, 3], [4]]),  # count bound
        ([300] * 4, 10, 700, [[0, 1], [2, 3]]),  # byte bound: 2 × 301 ≤ 700 < 3 × 301
        ([100, 5000, 100], 10, 1000, [[0], [1], [2]]),  # an item larger than the bound: alone
        ([100] * 3, 1, 1000, [[0], [1], [2]]),
    ],
)
def test_packer_bounds_count_and_bytes_and_keeps_order(
    sizes: list[int], max_items: int, max_bytes: int, groups: list[list[int]]
) -> None:
    items = _items(sizes)
    packed = Packer("topic", HEAD, TAIL, max_items, max_bytes).pack(items)
    assert [carried for _, carried in packed] == groups
    for message, carried in packed:
        decoded = orjson.loads(message.value)  # valid JSON: head + items joined + tail
        assert decoded == {
            "schema_version": 4,
            "candidates": [orjson.loads(items[i][1][1]) for i in carried],
        }
        assert message.key == items[carried[0]][1][0]
        if len(carried) > 1:
            assert len(message.value) <= max_bytes + len(HEAD) + len(TAIL)


async def test_packed_items_are_delivered_with_the_batch_before_any_ack() -> None:
    log: list[str] = []
    out, shared = FlakyTopic(log, failures=3), FlakyTopic(log, failures=2)

    def handle(event: str) -> Step:
        return Step(
            "ok", [Outgoing(out, b"k", event.encode())], None, (b"k", f'"{event}"'.encode())
        )

    packer = Packer(shared, b"[", b"]", max_items=10, max_bytes=1000)
    outcomes = await run_batch(
        FakeStream(log), ["e1", "e2", "e3"], handle, lambda e, x: Step("x"), "articles", packer
    )
    assert outcomes == ["ok", "ok", "ok"]
    assert shared.delivered == [b'["e1","e2","e3"]']  # one message for the batch
    first_ack = log.index("ack e1")
    assert len(log[:first_ack]) == 4 and all(
        line.startswith("delivered") for line in log[:first_ack]
    )


async def test_a_packed_message_refused_for_good_dead_letters_the_events_it_carried() -> None:
    """Item bytes over the bound go alone: only the event whose item is refused is lost to
    the broker, and it becomes a dead letter; the rest of the batch goes on."""
    log: list[str] = []
    out, letters = FlakyTopic(log), FlakyTopic(log)
    huge = b'"' + b"x" * 2000 + b'"'
    shared = FlakyTopic(log, refuse=b"[" + huge + b"]")

    def handle(event: str) -> Step:
        item = huge if event == "e2" else f'"{event}"'.encode()
        return Step("ok", [Outgoing(out, b"k", event.encode())], None, (b"k", item))

    def refused(event: str, exc: BaseException) -> Step:
        assert isinstance(exc, MessageSizeTooLargeError)
        return Step("too_large", [Outgoing(letters, b"k", f"dl-{event}".encode())])

    packer = Packer(shared, b"[", b"]", max_items=10, max_bytes=1000)
    outcomes = await run_batch(
        FakeStream(log), ["e1", "e2", "e3"], handle, refused, "articles", packer
    )
    assert outcomes == ["ok", "too_large", "ok"]
    assert letters.delivered == [b"dl-e2"]
    assert shared.delivered == [b'["e1"]', b'["e3"]']
    assert log[-3:] == ["ack e1", "ack e2", "ack e3"]
