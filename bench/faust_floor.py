#!/usr/bin/env python3
"""The floor under the worker: what faust and Kafka alone cost per article on this machine.

Usage:
    .venv/bin/python bench/faust_floor.py [--bootstrap HOST:PORT] [--limit N] [DATA]

Runs the worker's wiring with no Rasid core: a faust app, configured like `streams/worker/app.py`
(producer batches, acks=all, faust's Prometheus monitor unless `--no-monitor`), with two agents
built like `streams/worker/agents.py` (`noack_take` batches, `delivery.run_batch`: every output acked
by the broker before the batch is acknowledged):

    raw → hop 1 (forwards each message unchanged) → mid → hop 2 (sends nothing)

(`--hops 1`: hop 1 alone, sending nothing.) That is the shape of the real pipeline (parse agent → enriched topic → match agent) with the
parsing, classification and matching taken out. N real ANT messages are published at once;
printed: articles/s from the first send until hop 2 has processed all N, and the worker's
main-thread CPU per article. The worker can never be faster than this; the gap between this
and `bench/pipeline.py` is the cost of Rasid's own code. It prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from aiokafka.admin import NewTopic  # noqa: E402
from pipeline import (  # noqa: E402
    corpus_missing,
    corpus_parser,
    free_port,
    make_producer,
    messages,
    read_articles,
)

from streams.kafka.admin import create_missing  # noqa: E402
from streams.settings import Settings  # noqa: E402


def serve(args: argparse.Namespace) -> None:
    """The worker side (a subprocess): two agents; prints the time hop 2 finished N messages."""
    import faust
    from faust import Worker
    from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
    from prometheus_client import REGISTRY

    from streams.logs import setup_logging
    from streams.worker import faust_fixes
    from streams.worker.batches import Outgoing, Step, run_batch

    faust_fixes.install()
    app = faust.App(
        args.prefix,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        datadir=args.datadir,
        autodiscover=False,
        web_port=free_port(),
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_batch_size=1_048_576,
        producer_linger_ms=5,
        topic_partitions=args.partitions,
    )
    if args.monitor:
        app.monitor = PrometheusMonitor(metrics=FaustMetrics.create(REGISTRY, "faust"))
    kw: dict[str, Any] = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
        "partitions": args.partitions,
    }
    raw, mid = app.topic(f"{args.prefix}.raw", **kw), app.topic(f"{args.prefix}.mid", **kw)
    done = {"n": 0}

    def forward(event: Any) -> Step:
        return Step("forwarded", [Outgoing(mid, event.message.key, event.message.value)])

    def drop(event: Any) -> Step:
        return Step("dropped")

    def refused(event: Any, exc: BaseException) -> Step:
        raise exc

    def count(events: list[Any]) -> None:
        done["n"] += len(events)
        if done["n"] >= args.expect:
            print(f"FLOOR finished {time.time():.6f} {time.thread_time():.6f}", flush=True)
            done["n"] = -(10**12)  # report once

    @app.agent(raw, name="hop1", concurrency=1)
    async def hop1(stream: Any) -> Any:
        async for events in stream.noack_take(args.batch, within=0.005):
            await run_batch(stream, events, forward if args.hops == 2 else drop, refused, "parse")
            if args.hops == 1:
                count(events)
            yield None

    @app.agent(mid, name="hop2", concurrency=1)
    async def hop2(stream: Any) -> Any:
        async for events in stream.noack_take(args.batch, within=0.005):
            await run_batch(stream, events, drop, refused, "match")
            count(events)
            yield None

    async def ready() -> None:
        print(f"FLOOR ready {time.thread_time():.6f}", flush=True)

    app.task(ready)

    setup_logging("WARNING")  # as the worker runs (streams/cli.py): no debug records built
    worker = Worker(
        app, loglevel="warning", quiet=True, override_logging=False, redirect_stdouts=False
    )
    worker.execute_from_commandline()


def _report(proc: subprocess.Popen[str], what: str) -> str:
    """The worker's next line starting with `what` (faust prints its banner to stdout too)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if f"FLOOR {what} " in line:
            return line.split(f"FLOOR {what} ", 1)[1]
    raise SystemExit(f"the worker exited before reporting {what!r}")


async def run(args: argparse.Namespace) -> float:
    """Print the floor and return it (articles/s)."""
    articles = read_articles(args.data, args.limit)
    prefix = f"rasid-floor-{uuid.uuid4().hex[:8]}"
    names = [f"{prefix}.raw", f"{prefix}.mid"]
    settings = Settings(kafka_bootstrap=args.bootstrap)
    await create_missing(settings, [NewTopic(n, args.partitions, 1) for n in names])
    with tempfile.TemporaryDirectory(prefix="rasid-floor-") as tmp:
        cmd = [
            sys.executable, __file__, "--serve", "--prefix", prefix, "--datadir", tmp,
            "--bootstrap", args.bootstrap, "--expect", str(args.limit),
            "--partitions", str(args.partitions), "--batch", str(args.batch), "--hops", str(args.hops),
            *(["--no-monitor"] if not args.monitor else []),
        ]  # fmt: skip
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT
        )
        try:
            line = _report(proc, "ready")
            await asyncio.sleep(3)  # partitions assigned
            cpu0 = float(line.split()[0])
            producer = await make_producer(args.bootstrap)
            try:
                started = time.time()
                for key, value in messages(articles, "floor", args.limit):
                    await producer.send(f"{prefix}.raw", value, key=key.encode())
                await producer.flush()
            finally:
                await producer.stop()
            line = await asyncio.to_thread(_report, proc, "finished")
            finished, cpu = line.split()[:2]
            secs = float(finished) - started
            per = (float(cpu) - cpu0) / args.limit * 1000
            monitor = "with" if args.monitor else "without"
            print(
                f"faust floor ({monitor} faust's Prometheus monitor, batches of {args.batch}): "
                f"{args.limit / secs:8.1f} articles/s through {args.hops} hop(s); "
                f"worker main thread {per:.2f} ms CPU per article"
            )
            return args.limit / secs
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def main() -> int:
    parser = corpus_parser(__doc__)
    parser.add_argument("--limit", type=int, default=5000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch", type=int, default=20, help="like RASID_BATCH_MAX_MESSAGES")
    parser.add_argument("--hops", type=int, choices=(1, 2), default=2)
    parser.add_argument("--no-monitor", dest="monitor", action="store_false")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--datadir", help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return 0
    if corpus_missing(args.data):
        return 0
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
