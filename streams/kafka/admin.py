"""Topic creation and small admin helpers over aiokafka (used by the worker and the CLI)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from streams.settings import Settings


async def started_admin(bootstrap: str, *, attempts: int, **config: Any) -> AIOKafkaAdminClient:
    """An admin client connected to the broker, tried `attempts` times a second apart (a process
    started together with its broker waits for it); KafkaConnectionError after the last try."""
    for attempt in range(1, attempts + 1):
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **config)
        try:
            await admin.start()
            return admin
        except KafkaConnectionError:
            await admin.close()
            if attempt == attempts:
                raise
        await asyncio.sleep(1.0)
    raise ValueError(f"attempts must be at least 1, got {attempts}")


async def create_missing(
    settings: Settings,
    topics: list[NewTopic],
    *,
    attempts: int = 30,
    leader_timeout: float = 30.0,
) -> list[str]:
    """Create those of `topics` that do not exist yet, and wait until their partitions have
    leaders; return the names created.

    Retries the connection for a while so a process started together with its broker waits
    for it instead of failing.
    """
    admin = await started_admin(settings.kafka_bootstrap, attempts=attempts)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            # Another process may create a topic between our list and create.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
            await _until_led(admin, [t.name for t in missing], timeout=leader_timeout)
        return [t.name for t in missing]
    finally:
        await admin.close()


def leaderless(described: list[dict[str, Any]]) -> list[str]:
    """Topics (from describe_topics) that are unknown yet or have a partition with no leader."""
    return [
        str(d.get("topic"))
        for d in described
        if d.get("error_code") or not d.get("partitions")
        or any(p.get("leader", -1) < 0 for p in d["partitions"])
    ]  # fmt: skip


async def _until_led(admin: AIOKafkaAdminClient, names: list[str], *, timeout: float) -> None:
    """Wait until every partition of the new topics has a leader: a producer that sends to a
    partition whose leader is still being elected can be told "not leader" and keep the send
    pending for its whole request timeout. Gives up quietly after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while names and loop.time() < deadline:
        names = leaderless(await admin.describe_topics(names))
        if names:
            await asyncio.sleep(0.2)


async def ensure_topics(settings: Settings, *, attempts: int = 30) -> list[str]:
    """Create the pipeline topics that do not exist yet (with the trends topic the worker
    writes: its readers, rasid api and rasid webhooks, call this too); return the names
    created."""
    from streams.kafka.names import trends  # names imports this module

    wanted = [
        NewTopic(name, settings.topic_partitions, settings.topic_replication)
        for name in (*settings.topics, trends(settings))
    ]
    return await create_missing(settings, wanted, attempts=attempts)


async def update_changelog_configs(settings: Settings, *, attempts: int = 30) -> list[str]:
    """Give the worker's existing table changelogs the segment settings they are created with
    now (names.CHANGELOG): faust sets a topic's configuration only when it creates it, so the
    changelogs of an earlier release kept Kafka's weekly segments. Returns the names altered."""
    from streams.kafka.names import CHANGELOG, changelogs

    admin = await started_admin(settings.kafka_bootstrap, attempts=attempts)
    try:
        existing = set(await admin.list_topics())
        names = [n for n in changelogs(settings) if n in existing]
        if names:
            # AlterConfigs replaces a topic's overrides: cleanup.policy is restated with them.
            wanted = {"cleanup.policy": "compact", **CHANGELOG}
            await admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, n, wanted) for n in names]
            )
        return names
    finally:
        await admin.close()
