"""The forwarded-hit ids across a restart, on the real broker (issue 20, item 4): they are read
back from their changelog, which holds one record per partition and hour (not one per alert)
and is compacted hourly."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.kafka.names import CHANGELOG
from tests.integration.conftest import Env, Worker, assign_from_beginning, new_env, read_topic
from tests.integration.test_stories import COPIES, _raw

pytestmark = pytest.mark.integration


async def _changelog(env: Env, topic: str) -> tuple[list[tuple[bytes, bytes]], dict[str, str]]:
    """The changelog's records (key, value) and its topic configuration."""
    consumer = AIOKafkaConsumer(bootstrap_servers=env.bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[tuple[bytes, bytes]] = []
    try:
        await assign_from_beginning(consumer, topic)
        while batch := await consumer.getmany(timeout_ms=2000):
            records += [(r.key, r.value) for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=env.bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        config = {entry[0]: entry[1] for entry in response.resources[0][4]}
    finally:
        await admin.close()
    return records, config


async def test_a_restarted_worker_still_knows_what_it_forwarded(env: Env, tmp_path: Path) -> None:
    own = new_env(env.bootstrap, tmp_path, name="emitted")
    own.rasid("topics")
    # The story changelog as an earlier release left it: faust's compaction, weekly segments.
    admin = AIOKafkaAdminClient(bootstrap_servers=own.bootstrap)
    await admin.start()
    try:
        old = f"{own.prefix}-stories-changelog"
        await admin.create_topics(
            [NewTopic(old, 1, 1, topic_configs={"cleanup.policy": "compact"})]
        )
    finally:
        await admin.close()
    candidates = f"{own.topics['alerts']}.stories"
    worker = Worker(own, tmp_path / "worker.log")
    worker.start()
    try:
        await own.produce([_raw(*COPIES[0])], key=b"story-a1")
        first = await read_topic(own.bootstrap, candidates, expect=1, timeout=90)
        worker.stop()  # SIGTERM; the next start reads the ids back from the changelog
        worker.start()
        await own.produce([_raw(*COPIES[0])], key=b"story-a1")  # re-published
        both = await read_topic(own.bootstrap, candidates, expect=2, timeout=90)
    finally:
        worker.stop()
    # one story-candidate message (v4) per batch of raw articles: here one candidate each
    first, both = ([c for m in got for c in m["candidates"]] for got in (first, both))
    assert [c["article_id"] for c in both] == ["story-a1", "story-a1"]
    assert first[0]["hits"], "the sample copy trips the red-line rule"
    # After the restart, its hits were known to be forwarded already: none go again.
    assert both[1]["hits"] == []
    records, config = await _changelog(own, f"{own.prefix}-emitted-ids-changelog")
    shards = {orjson.loads(k) for k, v in records if v is not None}
    assert len(shards) == 1  # one partition, one hour: one record however many ids
    _, old_config = await _changelog(own, old)  # re-configured by the worker's start
    for each in (config, old_config):
        for key, value in CHANGELOG.items():
            assert each[key] == value, (key, each[key])
        assert each["cleanup.policy"] == "compact"
