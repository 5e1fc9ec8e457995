#!/usr/bin/env python3
"""CPU per message sent, three ways, on a real broker: faust's `Topic.send` (what the worker
used for every output message before round thirteen), aiokafka's `send`, and records appended
to one aiokafka batch per partition (`create_batch`/`send_batch`: what
`streams.worker.batches.deliver` does now). Each round sends `--messages` messages of
`--bytes` bytes (the story stage's alerts for one story message: ~20 articles x 5.3 alerts at
10,000 rules) and waits for all their acks, `--rounds` times.

Usage:
    .venv/bin/python bench/send_cost.py [--bootstrap HOST:PORT] [--messages N] [--bytes N]
        [--rounds N] [--repeats N]

The topic (`rasid-send-cost`, 6 partitions) is created if missing. faust's Prometheus
sensors are installed as the worker installs them. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import faust
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faust.sensors.prometheus import PrometheusMonitor

from streams.worker.app import _faust_metrics
from streams.worker.batches import Outgoing, deliver

TOPIC = "rasid-send-cost"


async def ensure_topic(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, 6, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def main_async(args: argparse.Namespace) -> None:
    await ensure_topic(args.bootstrap)
    app = faust.App(
        "rasid-send-cost",
        broker=f"kafka://{args.bootstrap}",
        producer_acks=-1,
        producer_max_batch_size=1_048_576,  # as the worker's (streams/worker/app.py)
        producer_linger=0.0,
    )
    app.monitor = PrometheusMonitor(metrics=_faust_metrics())
    topic = app.topic(TOPIC, key_type=bytes, value_type=bytes, key_serializer="raw",
                      value_serializer="raw")  # fmt: skip
    await app.producer.start()
    kafka: Any = app.producer._producer  # type: ignore[attr-defined]
    half = max(1, args.bytes // 2)
    msgs = [(os.urandom(16).hex().encode(), os.urandom(half).hex().encode())]
    msgs += [(os.urandom(16).hex().encode(), msgs[0][1]) for _ in range(args.messages - 1)]
    total = args.messages * args.rounds

    async def faust_send() -> None:
        futs = [await topic.send(key=k, value=v) for k, v in msgs]
        await asyncio.gather(*futs)

    async def aiokafka_send() -> None:
        futs = [await kafka.send(TOPIC, v, key=k) for k, v in msgs]
        await asyncio.gather(*futs)

    async def batched() -> None:
        assert await deliver([Outgoing(topic, k, v) for k, v in msgs]) == []

    ways = (("faust Topic.send", faust_send), ("aiokafka send", aiokafka_send),
            ("batches (deliver)", batched))  # fmt: skip
    try:
        for repeat in range(args.repeats):
            for name, way in ways:
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(args.rounds):
                    await way()
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                print(
                    f"repeat {repeat + 1}, {name:18}: {cpu / total * 1e6:6.1f} µs CPU per "
                    f"message ({total} messages of {args.bytes} bytes, {wall:.2f} s)",
                    flush=True,
                )
    finally:
        await app.producer.stop()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--messages", type=int, default=106, help="messages per round")
    parser.add_argument("--bytes", type=int, default=1400, help="bytes per message value")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
