"""Topic creation and small admin helpers over aiokafka (used by the worker and the CLI)."""

from __future__ import annotations

import asyncio
import contextlib

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from streams.settings import Settings


async def create_missing(
    settings: Settings, topics: list[NewTopic], *, attempts: int = 30
) -> list[str]:
    """Create those of `topics` that do not exist yet; return the names created.

    Retries the connection for a while so a process started together with its broker waits
    for it instead of failing.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    for attempt in range(attempts):
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1.0)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            # Another process may create a topic between our list and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()


async def ensure_topics(settings: Settings, *, attempts: int = 30) -> list[str]:
    """Create the pipeline topics that do not exist yet; return the names created."""
    wanted = [
        NewTopic(name, settings.topic_partitions, settings.topic_replication)
        for name in settings.topics
    ]
    return await create_missing(settings, wanted, attempts=attempts)
