#!/usr/bin/env python3
"""A worker's start with a long alert history behind it (issue 20, item 4), on a real broker.

Usage:
    .venv/bin/python bench/emitted_history.py [--bootstrap HOST:PORT] [--ids N] [--days D]

Before issue 20 the forwarded-hit ids were one table record each, never expired: 200k → 31.6 s
to ready and +92 MB, 1M → 131.7 s and +308 MB. Now they are 8-byte hashes in one record per
partition and hour, kept RASID_ALERT_DEDUP_DAYS.

For each configuration the bench writes the history into the worker's `emitted-ids` changelog
the way the worker writes it (streams/worker/emitted.py: same keys, same encoding, record times
at their hour; N random ids spread evenly over D days and 3 partitions), starts a worker and
prints: seconds from the process start to /readyz 200, to the first output of a probe article
(which includes rebuilding the id set), the ids it holds, and its RSS then. Faust's compaction
of the changelog is not waited for: the worker reads the whole history back. It asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from recovery import Worker, first_output, rss_mb  # noqa: E402

from streams.kafka.names import CHANGELOG  # noqa: E402
from streams.worker.emitted import encode, shard_key  # noqa: E402

PARTITIONS = 3


async def write_history(bootstrap: str, app_id: str, ids: int, days: int) -> int:
    """The changelog as a worker that forwarded `ids` hits over `days` days leaves it."""
    topic = f"{app_id}-emitted-ids-changelog"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        configs = {"cleanup.policy": "compact", **CHANGELOG}
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1, topic_configs=configs)])
    finally:
        await admin.close()
    if not ids:
        return 0
    now_hour = int(time.time() // 3600)
    hours = list(range(now_hour - days * 24 + 1, now_hour + 1))
    per_shard = max(1, ids // (len(hours) * PARTITIONS))
    rng = random.Random(20)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_request_size=4_000_000
    )
    await producer.start()
    written = 0
    try:
        for hour in hours:
            for partition in range(PARTITIONS):
                hashes = [rng.getrandbits(64) for _ in range(per_shard)]
                await producer.send(
                    topic,
                    encode(hashes),
                    key=orjson.dumps(shard_key(partition, hour, 0)),
                    partition=partition,
                    timestamp_ms=hour * 3_600_000,
                )
                written += per_shard
        await producer.flush()
    finally:
        await producer.stop()
    return written


def reloaded_ids(log: Path) -> str:
    lines = [
        ln for ln in log.read_text(errors="replace").splitlines() if "emitted ids reloaded" in ln
    ]
    if not lines:
        return "?"
    doc = orjson.loads(lines[-1])
    return f"{doc.get('ids')} ids in {doc.get('seconds')} s"


async def measure(bootstrap: str, ids: int, days: int, horizon: float, tmp: Path) -> str:
    worker = Worker(
        bootstrap, {"RASID_ALERT_DEDUP_DAYS": str(horizon), "RASID_LOG_LEVEL": "INFO"}, tmp
    )
    worker.cli("topics")
    written = await write_history(bootstrap, worker.prefix, ids, days)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        started = time.monotonic()
        worker.start()
        worker.wait_ready(timeout=300)
        ready = time.monotonic() - started
        first = await first_output(worker, producer, "probe", since=started)
        assert worker.proc is not None
        rss = rss_mb(worker.proc.pid)
    finally:
        await producer.stop()
        worker.stop()
    return (
        f"{written:>9,} ids over {days:>3} d, horizon {horizon:>5g} d: ready {ready:5.1f} s, "
        f"first output {first:5.1f} s, RSS {rss:6.1f} MB, reload: {reloaded_ids(worker.log)}"
    )


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="rasid-history-") as tmp:
        for ids, horizon in ((0, 30.0), (args.ids, 30.0), (args.ids, float(args.days))):
            print(await measure(args.bootstrap, ids, args.days, horizon, Path(tmp)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:19492")
    parser.add_argument("--ids", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=100)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
