#!/usr/bin/env python3
"""Large rule packs on the real broker: the worker's cost per article with 10 against 10,000
rules, and how long a live reload of a 10,000-rule pack takes (issue 13).

Usage:
    .venv/bin/python bench/rules_scale.py [--bootstrap HOST:PORT] [--limit N] [--sizes 10,10000]
        [--vocab-articles N] [DATA]

DATA defaults to ../shared/data/ant/ant_multisource.jsonl.gz (skipped cleanly if absent). The
packs are `bench/match.py`'s: real word bigrams and unigrams of ANT articles that are not in
the timed slice, every operator represented; the first rules of the large pack are the small
pack. Printed:

- per pack size: one `rasid worker` (own topics, own rules topic, the pack as its default pack,
  pushed on its first start) runs `bench/pipeline.py`'s throughput run end to end (through the
  story stage): articles/s, worker CPU per article (all threads), the rules it reports loaded,
  and the cost of the large pack against the small one (target: ≤ 2x);
- live reload: on the worker of the smallest pack, idle, the largest pack is pushed the way
  `rasid rules push` does it (validate, read the topic, publish the changed rules); printed:
  the push, and the time from its start until the worker's /metrics report every rule loaded
  (target: ≤ 5 s). Then, while articles are flowing, the large pack again with every rule
  changed (each at version 2): until the worker reports the last rule at its new version.

It prints figures; it asserts nothing. Corpus data is only read.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import match, pipeline
from streams.rules import load_rule_file
from streams.settings import Settings
from streams.worker.live_rules import push_files

LOADED = ("rasid_rules_loaded ",)  # a /metrics line prefix


def write_pack(
    directory: Path, size: int, unigrams: list[str], bigrams: list[str], edition: int = 1
) -> Path:
    doc = match.generate(size, unigrams, bigrams)
    if edition > 1:  # every rule's text changes: a push of the whole pack again
        for rule in doc["rules"]:
            rule["title"] += f" ({edition})"
    path = directory / f"generated-{size}-{edition}.yaml"
    path.write_bytes(orjson.dumps(doc))  # JSON is YAML
    return path


async def reload(
    dep: pipeline.Deployment, pack: Path, line: str, value: int
) -> tuple[float, float]:
    """Push `pack` to the deployment's rules topic; (seconds the push took, seconds from its
    start until the worker's /metrics line starting with `line` reads `value`)."""
    settings = Settings(
        kafka_bootstrap=dep.bootstrap, topic_rules=dep.env["RASID_TOPIC_RULES"]
    )  # fmt: skip
    started = time.perf_counter()
    doc = load_rule_file(pack)
    await push_files(settings, [doc], updated_by="bench")
    pushed = time.perf_counter() - started
    while await loaded(dep, line) != value:
        if time.perf_counter() - started > 120:
            return pushed, float("inf")
        await asyncio.sleep(0.05)
    return pushed, time.perf_counter() - started


async def loaded(dep: pipeline.Deployment, line: str) -> int | None:
    """The value of a /metrics line of the worker; None while its /metrics does not answer (a
    worker that compiles on its event loop does not)."""
    try:
        return await asyncio.to_thread(dep.matched, (line,))
    except OSError:  # URLError, TimeoutError, a refused connection
        return None


async def run(args: argparse.Namespace) -> None:
    data: Path = args.data
    limit: int = args.limit
    sizes = sorted(int(s) for s in args.sizes.split(","))
    articles = pipeline.read_articles(data, limit)
    rest = match.read_articles(data, limit + args.vocab_articles)[limit:]
    unigrams, bigrams = match.vocabulary(rest)
    print(
        f"{len(articles)} ANT articles timed; packs from the vocabulary of {len(rest)} others; "
        f"broker {args.bootstrap}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="rasid-rules-") as tmp:
        packs = {n: write_pack(Path(tmp), n, unigrams, bigrams) for n in sizes}
        cost: dict[int, float] = {}
        for n in sizes:
            dep = pipeline.Deployment(args.bootstrap, 6, pipeline.ROOT)
            dep.env["RASID_RULES_PATH"] = str(packs[n])
            try:
                dep.cli("topics")
                started = time.perf_counter()
                dep.start_workers(1)
                ready = time.perf_counter() - started
                await pipeline.throughput(dep, articles, min(200, limit))  # warm-up
                cpu0 = pipeline.worker_cpu(dep)
                rate, alerts = await pipeline.throughput(dep, articles, limit)
                cost[n] = (pipeline.worker_cpu(dep) - cpu0) / limit * 1000
                loaded = dep.matched(LOADED)
                print(
                    f"{n:>6} rules ({loaded} loaded; worker ready {ready:.1f} s after start): "
                    f"{rate:6.1f} articles/s, worker CPU {cost[n]:.2f} ms per article, "
                    f"{alerts} alerted",
                    flush=True,
                )
                if n == sizes[0] and len(sizes) > 1:
                    big = sizes[-1]
                    pushed, live = await reload(dep, packs[big], LOADED[0], big)
                    print(
                        f"live reload, idle worker, {n} → {big} rules: push {pushed:.2f} s, "
                        f"loaded by the worker {live:.2f} s after the push started",
                        flush=True,
                    )
                    # all of them changed (version 2 each), while articles are flowing: done
                    # when the worker reports the last rule pushed at its new version
                    again = write_pack(Path(tmp), big, unigrams, bigrams, edition=2)
                    flowing = asyncio.create_task(pipeline.throughput(dep, articles, limit))
                    await asyncio.sleep(3)
                    last = f'rasid_rule_version{{rule="gen-{big - 1}"}} '
                    pushed, live = await reload(dep, again, last, 2)
                    await flowing
                    print(
                        f"live reload, articles flowing, {big} rules all changed: push "
                        f"{pushed:.2f} s, loaded {live:.2f} s after the push started",
                        flush=True,
                    )
            finally:
                dep.stop()
        if len(sizes) > 1:
            small, big = sizes[0], sizes[-1]
            print(
                f"cost per article, {big} rules against {small}: "
                f"{cost[big]:.2f} / {cost[small]:.2f} ms = {cost[big] / cost[small]:.2f}x"
            )


def main() -> int:
    parser = pipeline.corpus_parser(__doc__)
    parser.add_argument("--limit", type=int, default=2000, help="articles per throughput run")
    parser.add_argument("--sizes", default="10,10000", help="rule pack sizes")
    parser.add_argument("--vocab-articles", type=int, default=5000)
    args = parser.parse_args()
    if pipeline.corpus_missing(args.data):
        return 0
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
