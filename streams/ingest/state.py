"""The dedup state in Kafka: a compacted topic every ingest process reads from the start at
startup and keeps following, so state survives restarts and is shared between processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import NewTopic

from streams.errors import SchemaViolation
from streams.ingest.dedup import DedupState, record_errors
from streams.kafka.admin import create_missing
from streams.kafka.partitions import wait_for_partitions
from streams.settings import Settings

log = logging.getLogger(__name__)


async def ensure_state_topic(settings: Settings) -> bool:
    """Create the compacted state topic if missing; True if this call created it."""
    config = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1"}
    if settings.ingest_state_retention_days > 0:
        # compact,delete: the latest record per key, and nothing older than the retention
        # (a URL not seen for months will not come back through a feed).
        config["cleanup.policy"] = "compact,delete"
        config["retention.ms"] = str(int(settings.ingest_state_retention_days * 86_400_000))
    topic = NewTopic(
        settings.topic_ingest_state,
        settings.topic_partitions,
        settings.topic_replication,
        topic_configs=config,
    )
    return bool(await create_missing(settings, [topic]))


class KafkaState:
    """DedupState kept in step with the state topic."""

    def __init__(self, settings: Settings, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.topic = settings.topic_ingest_state
        self.producer = producer
        self.state = DedupState(revision_window=settings.ingest_revision_window_hours * 3600.0)
        self.records_loaded = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._follow: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 120.0) -> None:
        """Read the state topic to its current end, then follow it in the background."""
        await ensure_state_topic(self.settings)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False
        )
        await consumer.start()
        self._consumer = consumer
        deadline = time.monotonic() + timeout
        tps = await wait_for_partitions(consumer, self.topic, timeout=timeout)
        if not tps:
            raise TimeoutError(f"state topic {self.topic} has no partitions")
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        while [tp for tp in tps if await consumer.position(tp) < end[tp]]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"state topic {self.topic} not read in {timeout}s")
            await self._poll(consumer, 1000)
        log.info("ingest state loaded", extra={"records": self.records_loaded})
        self._follow = asyncio.create_task(self._follow_loop(consumer))

    async def _poll(self, consumer: AIOKafkaConsumer, timeout_ms: int) -> None:
        batch = await consumer.getmany(timeout_ms=timeout_ms, max_records=5000)
        for records in batch.values():
            for record in records:
                if record.key is None:
                    continue
                self.state.apply(record.key.decode("utf-8", "replace"), record.value)
                self.records_loaded += 1

    async def _follow_loop(self, consumer: AIOKafkaConsumer) -> None:
        # Other ingest processes' writes (and our own, which are already applied).
        while True:
            try:
                await self._poll(consumer, 1000)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading the ingest state topic failed; retrying")
                await asyncio.sleep(5.0)

    async def put(self, records: Sequence[tuple[str, bytes | None]]) -> None:
        """Write records (applied locally at once, so this process never waits for its own
        echo); a None value is a tombstone."""
        for key, value in records:
            errors = record_errors(value) if value is not None else []
            if errors:  # our own bug, never the input's: refuse to write it
                raise SchemaViolation(f"ingest-state {key}: {errors[0]}")
            self.state.apply(key, value)
        futures = [
            await self.producer.send(self.topic, value, key=key.encode()) for key, value in records
        ]
        for future in futures:
            await future

    async def stop(self) -> None:
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow
        if self._consumer is not None:
            await self._consumer.stop()
