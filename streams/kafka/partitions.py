"""Waiting for a topic's partitions to show up in a consumer's metadata, written once.

A topic created a moment ago (or by another process starting alongside) may be missing from
the first metadata answer; every reader that assigns partitions by hand waits here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition


async def wait_for_partitions(
    consumer: Any, topic: str, *, timeout: float, poll: float = 0.5
) -> list[TopicPartition]:
    """The topic's partitions, refreshing metadata until it has some; [] after `timeout`
    seconds without any."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
        if parts or loop.time() >= deadline:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        await asyncio.sleep(poll)
