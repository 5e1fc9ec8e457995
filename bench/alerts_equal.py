#!/usr/bin/env python3
"""The same input through two trees' workers: are the alerts on `rasid.alerts` the same?

Usage:
    .venv/bin/python bench/alerts_equal.py --base TREE --new TREE [--bootstrap HOST:PORT]
        [--limit N] [--rules N] [--vocab-articles N] [DATA]

For each tree, one `rasid worker` (fresh topics, `bench/rules_scale.py`'s generated pack of
`--rules` rules as its default pack) takes the same `--limit` ANT articles (the same ids and
outlets in both runs, all on one raw partition, so the story stage sees them in the same
order); then the whole alerts topic is read back. Compared: per alert id (the key), its
records in order, with the wall-clock fields left out (`ingested_at`, `alerted_at`,
`created_at`, `updated_at`: the article's ingest time); the partition of each key (and that
it is the one aiokafka's default partitioner gives the key); the records' headers. Prints
the counts and the differences (0 expected). It asserts nothing; corpus data is only read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from bench import match, pipeline, rules_scale

CLOCK_FIELDS = ("ingested_at", "alerted_at", "created_at", "updated_at")
TAG = "equal"  # the same article ids and outlets in both runs: the same story and alert ids


def normalised(value: bytes) -> dict[str, Any]:
    alert: dict[str, Any] = orjson.loads(value)
    for name in CLOCK_FIELDS:
        alert.pop(name, None)
    return alert


async def read_topic(bootstrap: str, topic: str) -> list[tuple[int, bytes, bytes, list[Any]]]:
    """Every record of `topic`: (partition, key, value, headers), each partition in order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()  # as rules_scale.changelog_ends
        parts = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: list[tuple[int, bytes, bytes, list[Any]]] = []
        left = sum(ends.values())  # every record to read (a fresh topic: from offset 0)
        while left > 0:
            batch = await consumer.getmany(timeout_ms=2000)
            for tp, records in batch.items():
                out += [(tp.partition, r.key, r.value, list(r.headers)) for r in records]
                left -= len(records)
            if not batch:
                break
        return out
    finally:
        await consumer.stop()


async def run_tree(
    tree: Path, bootstrap: str, pack: Path, articles: list[dict[str, Any]], limit: int
) -> list[tuple[int, bytes, bytes, list[Any]]]:
    dep = pipeline.Deployment(bootstrap, 6, tree)
    dep.env["RASID_RULES_PATH"] = str(pack)
    # no article dead-lettered as too slow on a loaded machine: both runs see every article
    dep.env["RASID_ARTICLE_DEADLINE_SECONDS"] = "60"
    try:
        dep.cli("topics")
        dep.start_workers(1)
        producer = await pipeline.make_producer(bootstrap)
        try:
            futs = [
                await producer.send(dep.topics["raw"], value, key=b"one-partition")
                for _, value in pipeline.messages(articles, TAG, limit)
            ]
            await asyncio.gather(*futs)
        finally:
            await producer.stop()
        deadline = time.monotonic() + max(120.0, limit / 5)
        while time.monotonic() < deadline:
            if await asyncio.to_thread(dep.matched) >= limit:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # the last alerts' acks
        return await read_topic(bootstrap, dep.topics["alerts"])
    finally:
        dep.stop()


def ingest_span(records: list[tuple[int, bytes, bytes, list[Any]]]) -> float:
    """Seconds between the first and the last alerted article's `ingested_at` (the worker's
    clock when it took the article)."""
    times = [
        datetime.fromisoformat(orjson.loads(value)["ingested_at"]).timestamp()
        for _, _, value, _ in records
    ]
    return max(times) - min(times) if times else 0.0


PACE_TOLERANCE = 0.03  # relative difference of the two runs' ingest spans worth a warning


def compare(
    base: list[tuple[int, bytes, bytes, list[Any]]], new: list[tuple[int, bytes, bytes, list[Any]]]
) -> int:
    partitioner = DefaultPartitioner()
    differences = 0
    # Story assignment weighs an article's age against the stories' (the worker stamps
    # `ingested_at`), so two runs at a different pace may group a few articles differently
    # with the same code: say so next to the differences.
    spans = ingest_span(base), ingest_span(new)
    print(f"ingest span of the alerted articles: base {spans[0]:.1f} s, new {spans[1]:.1f} s")
    if max(spans) > 0 and abs(spans[0] - spans[1]) / max(spans) > PACE_TOLERANCE:
        print(
            "  warning: the runs went at a different pace; differences in story grouping may "
            "come from the pace, not the code (run again, or compare a tree with itself)"
        )
    for name, records in (("base", base), ("new", new)):
        parts = sorted({p for p, _, _, _ in records})
        wrong = sum(
            1 for p, key, _, _ in records if p != partitioner(key, list(range(6)), list(range(6)))
        )
        headers = sum(1 for *_, h in records if h)
        print(
            f"{name}: {len(records)} records, {len({k for _, k, _, _ in records})} alert ids, "
            f"partitions {parts}; {wrong} off the default partitioner's, {headers} with headers"
        )
        differences += wrong + headers

    def by_key(
        records: list[tuple[int, bytes, bytes, list[Any]]],
    ) -> dict[bytes, tuple[set[int], list[dict[str, Any]]]]:
        out: dict[bytes, tuple[set[int], list[dict[str, Any]]]] = {}
        for p, key, value, _ in records:
            parts, values = out.setdefault(key, (set(), []))
            parts.add(p)
            values.append(normalised(value))
        return out

    a, b = by_key(base), by_key(new)
    only = set(a) ^ set(b)
    differ = [k for k in set(a) & set(b) if a[k] != b[k]]
    revisions = sum(len(v) for _, v in a.values())
    print(
        f"alert ids only on one side: {len(only)}; ids whose records (content, revisions, "
        f"order, partition) differ: {len(differ)} (of {len(set(a) & set(b))} ids, "
        f"{revisions} records)"
    )
    for key in sorted(differ)[:3]:
        print(f"  e.g. {key.decode()}: base {a[key]!r:.300} / new {b[key]!r:.300}")
    return differences + len(only) + len(differ)


async def main_async(args: argparse.Namespace) -> int:
    articles = pipeline.read_articles(args.data, args.limit)
    rest = match.read_articles(args.data, args.limit + args.vocab_articles)[args.limit :]
    vocab = match.vocabulary(rest)
    with tempfile.TemporaryDirectory(prefix="rasid-equal-") as tmp:
        pack = rules_scale.write_pack(Path(tmp), args.rules, *vocab)
        base = await run_tree(args.base, args.bootstrap, pack, articles, args.limit)
        new = await run_tree(args.new, args.bootstrap, pack, articles, args.limit)
    differences = compare(base, new)
    print(f"differences: {differences}")
    return 0


def main() -> int:
    parser = pipeline.corpus_parser(__doc__)
    parser.add_argument("--base", type=Path, required=True, help="the tree before")
    parser.add_argument("--new", type=Path, required=True, help="the tree after")
    parser.add_argument("--limit", type=int, default=1000, help="articles")
    parser.add_argument("--rules", type=int, default=10000, help="generated rules")
    parser.add_argument("--vocab-articles", type=int, default=5000)
    args = parser.parse_args()
    if pipeline.corpus_missing(args.data):
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
