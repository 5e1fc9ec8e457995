"""wait_for_partitions: refreshes metadata until the topic shows partitions, or gives up."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import TopicPartition

from streams.kafka.partitions import wait_for_partitions


class FakeConsumer:
    """Metadata that shows the topic's partitions only after `appear_after` refreshes."""

    def __init__(self, partitions: set[int], appear_after: int) -> None:
        self.partitions, self.appear_after, self.refreshes = partitions, appear_after, 0
        consumer = self

        class Client:
            async def force_metadata_update(self) -> None:
                consumer.refreshes += 1

        self._client: Any = Client()

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions if self.refreshes >= self.appear_after else None


@pytest.mark.parametrize(
    ("partitions", "appear_after", "timeout", "expected", "refreshes"),
    [
        ({2, 0, 1}, 1, 5.0, [0, 1, 2], 1),  # there at once: sorted
        ({0}, 3, 5.0, [0], 3),  # created a moment ago: waits for it
        ({0}, 1000, 0.0, [], 1),  # never there: one look, then []
        ({0}, 1000, 0.05, [], None),  # never there within the timeout: []
    ],
)
async def test_wait_for_partitions(
    partitions: set[int],
    appear_after: int,
    timeout: float,
    expected: list[int],
    refreshes: int | None,
) -> None:
    consumer = FakeConsumer(partitions, appear_after)
    got = await wait_for_partitions(consumer, "t", timeout=timeout, poll=0.01)
    assert got == [TopicPartition("t", p) for p in expected]
    if refreshes is not None:
        assert consumer.refreshes == refreshes
