"""Burst detection on the real broker: raw articles in, a trend.v1 record on `<prefix>.trends`
out (keyed by its id). The detector is tuned through the settings so that a few dozen
articles suffice: 15-minute and 1-hour windows, no stream warm-up, one hour of key history."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from streams.validation import schema_errors
from tests.integration.conftest import Env, Worker, assign_from_beginning, new_env, read_topic

pytestmark = pytest.mark.integration

LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def word(n: int) -> str:
    """A made-up word per number: articles that share none of them are different stories."""
    out = ""
    for _ in range(4):
        n, r = divmod(n, len(LETTERS))
        out += LETTERS[r]
    return out


def article(n: int, published: datetime) -> bytes:
    words = [word(1000 * n + i) for i in range(25)]
    return orjson.dumps(
        {
            "schema_version": 1,
            "id": f"trend-{n}",
            "source": "outlet-one",
            "title": "بغداد: " + " ".join(words[:5]),
            "body": "بغداد - قالت مصادر في العاصمة العراقية بغداد اليوم إن "
            + " ".join(words)
            + ".",
            "published_at": published.isoformat(),
        }
    )


@dataclass
class TrendEnv(Env):
    def environ(self) -> dict[str, str]:
        return {
            **super().environ(),
            "RASID_TRENDS_WINDOWS_MINUTES": "[15, 60]",
            "RASID_TRENDS_WARMUP_HOURS": "0",
            "RASID_TRENDS_WARMUP_EVENTS": "0",
            "RASID_TRENDS_KEY_WARMUP_HOURS": "1",
        }


async def test_a_burst_of_new_stories_makes_a_trend_record(env: Env, tmp_path: Path) -> None:
    own = new_env(env.bootstrap, tmp_path, name="trends")
    trends_env = TrendEnv(own.bootstrap, own.prefix, own.web_port, own.data_dir)
    worker = Worker(trends_env, tmp_path / "worker.log")
    worker.start()
    try:
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start = hour - timedelta(hours=10)
        baseline = [article(n, start + timedelta(hours=2 * n)) for n in range(4)]
        burst = [article(100 + n, hour - timedelta(minutes=50 - n)) for n in range(12)]
        # one key: one raw partition, so the articles reach the story stage in this order
        await trends_env.produce(baseline + burst, key=b"trends")
        topic = f"{own.prefix}.trends"
        records = await read_topic(trends_env.bootstrap, topic, expect=1, timeout=120)
        keys = await _keys(trends_env.bootstrap, topic, len(records))
    finally:
        worker.stop()
    assert records, worker.tail_log()
    assert sorted(keys) == sorted(r["id"] for r in records)  # keyed by trend id
    for record in records:
        assert schema_errors("trend", record) == []
    iraq = [r for r in records if "IQ" in r["regions"]]
    assert iraq, records
    assert all(r["new_stories"] >= 3 for r in iraq)
    assert {s["story_id"] for r in iraq for s in r["top_stories"]}
    assert len({r["id"] for r in records}) == len(records)  # one record per key and level


async def _keys(bootstrap: str, topic: str, expect: int) -> list[str]:
    """The Kafka keys of a topic's messages (read_topic's `key` would clash with a record's)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await assign_from_beginning(consumer, topic)
        keys: list[str] = []
        deadline = time.monotonic() + 30
        while len(keys) < expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            keys += [r.key.decode() for recs in batch.values() for r in recs if r.key]
        return keys
    finally:
        await consumer.stop()
