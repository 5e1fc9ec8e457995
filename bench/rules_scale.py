#!/usr/bin/env python3
"""Large rule packs on the real broker: the worker's cost per article with 10 against 10,000
rules, and how long a live reload of a 10,000-rule pack takes (issue 13).

Usage:
    .venv/bin/python bench/rules_scale.py [--bootstrap HOST:PORT] [--limit N] [--sizes 10,10000]
        [--vocab-articles N] [--no-reload | --reload-only [--repeats N]] [--worker-root TREE]
        [--profile PREFIX [--gil]] [--env NAME=VALUE] [--poll SECONDS] [DATA]

DATA defaults to ../shared/data/ant/ant_multisource.jsonl.gz (skipped cleanly if absent). The
packs are `bench/match.py`'s: real word bigrams and unigrams of ANT articles that are not in
the timed slice, every operator represented; the first rules of the large pack are the small
pack. Printed:

- per pack size: one `rasid worker` (own topics, own rules topic, the pack as its default pack,
  pushed on its first start) runs `bench/pipeline.py`'s throughput run end to end (through the
  story stage): articles/s, worker CPU per article (all threads), the rules it reports loaded,
  and the cost of the large pack against the small one (target: ≤ 2x), and each stage's wall
  time per article over the run (`rasid_stage_seconds`: which stage a change moves). The
  throughput run scrapes the worker's /metrics every 0.2 s while the story stage catches
  up; with a series per rule (rasid_rule_version, rasid_alerts_total) a 10,000-rule
  worker's scrape costs it over 0.1 s of CPU, so the scrapes are counted, one is timed on
  the idle worker afterwards,
  and the cost is printed again without them (a Prometheus scraping every 15 s costs it
  ~1% of a core); `--poll 1` scrapes at most once a second (fewer to subtract; articles/s
  then ends up to a second late). `--profile PREFIX`: py-spy each throughput run into PREFIX-<size>.txt
  (`--gil`: sampling only the thread that holds the GIL, which shares out CPU time);
  `--env NAME=VALUE`: a worker setting (e.g. RASID_TRENDS_ENABLED=false, to see a stage's
  share); `--worker-root`: the tree the workers run (a same-sitting before/after);
  `--changelogs`: the records the worker wrote to each table's changelog in the timed run,
  per article, and the trends table's by kind (`changelog_kinds`);
- live reload: on the worker of the smallest pack, idle, the largest pack is pushed the way
  `rasid rules push` does it (validate: rules, schema, rule tests; read the topic, publish
  the changed rules), from a process of its own; printed: the push, and the time from its start until the worker's
  /metrics report every rule loaded (target: ≤ 5 s; looked for every 0.2 s). Then, while
  `--limit` articles are flowing, the large pack again with every rule changed (each at
  version 2): until the worker reports the last rule at its new version. `--reload-only`
  skips the throughput runs: per `--repeats`, a fresh worker on the smallest pack takes both
  reloads (with `--env`'s settings), and with `--env RASID_LOG_LEVEL=INFO` the worker's
  "rules loaded" log lines are printed after them: where each load's time went in the
  worker (INFO logs every alert too: a little more CPU while articles flow).

It prints figures; it asserts nothing. Corpus data is only read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench import match, pipeline
from streams.settings import Settings

LOADED = ("rasid_rules_loaded ",)  # a /metrics line prefix
SCRAPE_EVERY = 0.2  # s: how often a reload's end is looked for (its resolution)
LOG_WINDOW = 5.5  # s: longer than the worker's window for repeated log lines
PUSH_CHILD = "--push-child"  # argv[1] of the process that pushes a pack (`push_child`)


STAGES = ("rasid_stage_seconds_sum",)  # per stage, wall time (streams.metrics.STAGE_SECONDS)


def stage_ms(before: dict[str, float], after: dict[str, float], articles: int) -> str:
    """Each stage's wall time over a run, ms per article: which stage a pack's cost is in
    (the match stage is what the matcher's changes move; whole-worker CPU varies by ±0.3 ms
    between runs of one tree on a shared machine)."""
    out = []
    for line, total in sorted(after.items()):
        stage = line.partition('stage="')[2].partition('"')[0]
        out.append(f"{stage} {(total - before.get(line, 0.0)) / articles * 1000:.3f}")
    return ", ".join(out)


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


async def reload(dep: pipeline.Deployment, pack: Path, line: str, value: int) -> str:
    """Push `pack` to the deployment's rules topic from a process of its own, as `rasid rules
    push` does (not in this one, where the articles' producer and watcher share its loop);
    what it took: the push (and its CPU), the time from its start until the worker's /metrics
    line starting with `line` reads `value` (and the worker's CPU meanwhile, all threads: on
    a loaded machine the CPU says more than the clock). Times are taken by the pushing
    process and this one on the same clock (time.time), the push's imports left out."""
    cpu = pipeline.worker_cpu(dep)
    # the push runs the worker's tree (its bench file puts that tree first on sys.path): a
    # before/after with --worker-root compares the push too, not only the worker
    script = dep.worker_root / "bench" / Path(__file__).name
    cmd = [sys.executable, str(script), PUSH_CHILD, str(pack), dep.bootstrap]
    child = await asyncio.create_subprocess_exec(
        *cmd, dep.env["RASID_TOPIC_RULES"], stdout=asyncio.subprocess.PIPE
    )
    spawned = time.time()
    seen: float | None = None
    while (seen is None and time.time() - spawned < 120) or child.returncode is None:
        if seen is None and await loaded(dep, line) == value:
            seen = time.time()
            cpu = pipeline.worker_cpu(dep) - cpu
        # not faster: with 10,000 rules a /metrics page is 10,000 rasid_rule_version lines,
        # ~60 ms of the worker's event loop to render (a scrape every 50 ms took most of it)
        if child.returncode is not None:
            await asyncio.sleep(SCRAPE_EVERY)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(child.wait(), SCRAPE_EVERY)
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the push failed ({child.returncode})")
    started, pushed, push_cpu, *phases = orjson.loads(out)
    # (a tree's push child that times its phases: the file's checks, wall and CPU)
    checks = f"; checks {phases[0]:.2f} s, CPU {phases[1]:.2f} s" if phases else ""
    if seen is None:
        return f"push {pushed:.2f} s (CPU {push_cpu:.2f} s{checks}), not loaded in 120 s"
    return (
        f"push {pushed:.2f} s (CPU {push_cpu:.2f} s{checks}), loaded by the worker "
        f"{seen - started:.2f} s after the push started (worker CPU meanwhile {cpu:.2f} s)"
    )


def push_child(pack: str, bootstrap: str, topic: str) -> None:
    """The pushing process, what `rasid rules push` runs: `check_and_push` (the file's checks,
    `check_files`: rules, schema, rule tests, on a thread while the topic is read; then the
    plan and the publish); prints [start time, seconds, CPU seconds, and the same two for the
    checks alone (their thread's CPU)]. The broker check of `rasid rules push` is part of it."""
    from streams.cli import rules

    settings = Settings(kafka_bootstrap=bootstrap, topic_rules=topic)
    check_files, checks = rules.check_files, [0.0, 0.0]

    def timed(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.time(), time.thread_time()
        try:
            return check_files(*args, **kwargs)
        finally:
            checks[:] = [time.time() - wall, time.thread_time() - cpu]

    rules.check_files = timed
    started, cpu = time.time(), time.process_time()
    problems, _ = asyncio.run(rules.check_and_push(settings, [pack], updated_by="bench"))
    if problems:
        raise SystemExit(f"{pack}: {problems[0]}")
    print(
        orjson.dumps([started, time.time() - started, time.process_time() - cpu, *checks]).decode()
    )


async def reloads(
    dep: pipeline.Deployment,
    tmp: Path,
    pack: Path,
    articles: list[dict[str, object]],
    limit: int,
    vocab: tuple[list[str], list[str]],
) -> None:
    """On a worker running a small pack: push the large `pack` (idle), then the large pack
    again with every rule changed while `limit` articles flow; print both times."""
    small = await loaded(dep, LOADED[0])
    big = len(orjson.loads(pack.read_bytes())["rules"])
    # the worker logs a line repeated within 5 s once (streams.logs.RepeatFilter): a reload
    # right after the first load would have no "rules loaded" line of its own
    await asyncio.sleep(LOG_WINDOW)
    took = await reload(dep, pack, LOADED[0], big)
    print(f"live reload, idle worker, {small} → {big} rules: {took}", flush=True)
    # all of them changed (version 2 each), while articles are flowing: done when the worker
    # reports the last rule pushed at its new version
    again = write_pack(tmp, big, *vocab, edition=2)
    flowing = asyncio.create_task(pipeline.throughput(dep, articles, limit))
    await asyncio.sleep(3)
    last = f'rasid_rule_version{{rule="gen-{big - 1}"}} '
    took = await reload(dep, again, last, 2)
    await flowing
    print(f"live reload, articles flowing, {big} rules all changed: {took}", flush=True)


async def reload_only(args: argparse.Namespace) -> None:
    """`--reload-only`: no throughput runs; per repeat, a fresh worker on the smallest pack
    takes both reloads of the largest (articles flow only during the second)."""
    sizes = sorted(int(s) for s in args.sizes.split(","))
    articles = pipeline.read_articles(args.data, args.limit)
    rest = match.read_articles(args.data, args.limit + args.vocab_articles)[args.limit :]
    vocab = match.vocabulary(rest)
    print(f"reloads only, {args.limit} articles flowing; broker {args.bootstrap}", flush=True)
    with tempfile.TemporaryDirectory(prefix="rasid-rules-") as tmp:
        small = write_pack(Path(tmp), sizes[0], *vocab)
        large = write_pack(Path(tmp), sizes[-1], *vocab)
        for _ in range(args.repeats):
            dep = pipeline.Deployment(args.bootstrap, 6, args.worker_root)
            dep.env.update(item.split("=", 1) for item in args.env)
            dep.env["RASID_RULES_PATH"] = str(small)
            with dep.running(1):
                await reloads(dep, Path(tmp), large, articles, args.limit, vocab)
                for proc in dep.procs:  # stopped first: its log is written out whole
                    proc.terminate()
                    proc.wait(timeout=30)
                print_loads(Path(dep.tmp.name) / "worker-0" / "worker.log")


LOAD_FIELDS = ("rules", "records", "catch_up_ms", "fold_ms", "compile_ms", "swap_ms")


def print_loads(log: Path) -> None:
    """The worker's "rules loaded" log lines (with `--env RASID_LOG_LEVEL=INFO`; a tree that
    logs them): where each load's time went, from the worker's side (`catch_up_ms`: reading
    on after the first fetch of a change; `fold_ms`: checking and parsing the records, on a
    thread; `compile_ms`: building the RuleSet, on a thread; `swap_ms`: on the event loop)."""
    if not log.exists():
        return
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if '"rules loaded' not in line:  # (also "rules loaded (repeated N times)")
            continue
        entry = orjson.loads(line)
        fields = ", ".join(f"{k} {entry[k]}" for k in LOAD_FIELDS if k in entry)
        print(f"  worker log {entry.get('time', '?')[11:23]}: rules loaded: {fields}", flush=True)


class Scraped(pipeline.Deployment):
    """A deployment that counts the bench's own /metrics scrapes (`pipeline.throughput` polls
    the story stage's progress every 0.2 s): a worker with 10,000 rules has a series per rule,
    and each scrape costs it far more CPU than a 10-rule worker's does. That is the bench's
    load, not the articles': `scrape_cpu` measures it so that it can be told apart."""

    scrapes = 0
    retries = 5  # a 10,000-rule worker's scrape can pass urlopen's 5 s on a loaded machine
    interval = 0.0  # at least this many seconds between scrapes (--poll)
    last = 0.0

    def matched(self, prefixes: tuple[str, ...] | None = None) -> int:
        wait = self.last + self.interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)  # (called on a thread: asyncio.to_thread)
        self.last = time.monotonic()
        for attempt in range(self.retries):
            self.scrapes += 1
            try:
                return super().matched(prefixes)
            except TimeoutError:
                if attempt == self.retries - 1:
                    raise
        raise AssertionError("unreachable")


def scrape_cpu(dep: pipeline.Deployment, n: int = 20) -> float:
    """CPU seconds one /metrics scrape costs the idle worker: n scrapes, less the worker's
    idle CPU over as long (heartbeats, fetches)."""
    cpu0, started = pipeline.worker_cpu(dep), time.perf_counter()
    for _ in range(n):
        dep.matched()
    cpu1, took = pipeline.worker_cpu(dep), time.perf_counter() - started
    time.sleep(took)
    idle = pipeline.worker_cpu(dep) - cpu1
    return max(0.0, (cpu1 - cpu0 - idle) / n)


def spy_on(dep: pipeline.Deployment, out: Path, *, gil: bool) -> subprocess.Popen[bytes]:
    """py-spy on the worker (collapsed stacks, 200 Hz) until SIGINT. `gil`: only the thread
    holding the GIL is sampled, so the samples share out CPU time (without it, the agents'
    thread waiting for the GIL while faust's consumer thread holds it is counted as well: the
    profile then adds up to ~2x the CPU measured)."""
    if not gil:
        return dep.profile(out)
    spy = Path(sys.executable).with_name("py-spy")
    cmd = [str(spy), "record", "--pid", str(dep.procs[0].pid), "--rate", "200", "--gil"]
    return subprocess.Popen([*cmd, "--format", "raw", "--output", str(out)])


async def changelog_ends(dep: pipeline.Deployment) -> dict[TopicPartition, int]:
    """The end offsets of the deployment's table changelogs (`<app id>-<table>-changelog`)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=dep.bootstrap)
    await consumer.start()
    try:
        # (what consumer.topics() fetches; its cluster keeps only the subscribed topics')
        cluster = await consumer._client.fetch_all_metadata()
        parts = [
            TopicPartition(t, p)
            for t in cluster.topics()
            if t.startswith(f"{dep.prefix}-") and t.endswith("-changelog")
            for p in cluster.partitions_for_topic(t) or ()
        ]
        return dict(await consumer.end_offsets(parts)) if parts else {}
    finally:
        await consumer.stop()


def changelog_kind(key: bytes, value: bytes | None) -> list[str]:
    """What one record of the trends changelog holds: per state entry its kind (`rule`,
    `region/topic`, `global`; `tombstone` for a deleted key). A journal segment (`~seg:`, the
    layout of round eleven) is one record of several entries: `segment`, then its entries'
    kinds prefixed `in segment:`."""
    name = key.decode("utf-8", "replace").strip('"')
    if value is None:
        return ["segment deleted" if name.startswith("~seg:") else "tombstone"]
    if name.startswith("~seg:"):
        from streams.trends import journal  # a tree without it writes no segments

        kinds = ["segment"]
        for entry, state in journal.decode(value):
            kinds += [f"in segment: {changelog_kind(entry.encode(), state)[0]}"]
        return kinds
    if name.startswith("rule:"):
        return ["rule"]
    return ["global"] if name == "~global" else ["region/topic"]


async def changelog_kinds(
    dep: pipeline.Deployment, before: dict[TopicPartition, int], articles: int
) -> str:
    """Records per article written to each changelog since `before`, and the trends
    changelog's by kind, with its bytes per article."""
    await asyncio.sleep(1.0)  # the last flush's sends
    after = await changelog_ends(dep)
    per_topic: dict[str, int] = {}
    for tp, end in after.items():
        table = tp.topic[len(dep.prefix) + 1 : -len("-changelog")]
        per_topic[table] = per_topic.get(table, 0) + end - before.get(tp, 0)
    kinds: dict[str, int] = {}
    size = 0
    trends = [tp for tp in after if tp.topic.endswith("-trends-changelog")]
    if trends:
        consumer = AIOKafkaConsumer(bootstrap_servers=dep.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(trends)
            for tp in trends:
                consumer.seek(tp, before.get(tp, 0))
            left = sum(after[tp] - before.get(tp, 0) for tp in trends)
            while left > 0:
                batch = await consumer.getmany(timeout_ms=2000)
                if not batch:
                    break
                for records in batch.values():
                    for r in records:
                        left -= 1
                        size += len(r.value or b"")
                        for kind in changelog_kind(r.key or b"", r.value):
                            kinds[kind] = kinds.get(kind, 0) + 1
        finally:
            await consumer.stop()
    tables = ", ".join(f"{t} {n / articles:.2f}" for t, n in sorted(per_topic.items()))
    trend = ", ".join(f"{k} {n / articles:.2f}" for k, n in sorted(kinds.items()))
    return (
        f"changelog records per article: {tables}; trends by kind: {trend}; "
        f"trends bytes {size / articles / 1024:.1f} KB per article"
    )


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
    vocab = unigrams, bigrams = match.vocabulary(rest)
    print(
        f"{len(articles)} ANT articles timed; packs from the vocabulary of {len(rest)} others; "
        f"broker {args.bootstrap}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="rasid-rules-") as tmp:
        packs = {n: write_pack(Path(tmp), n, unigrams, bigrams) for n in sizes}
        cost: dict[int, float] = {}
        net: dict[int, float] = {}  # without the bench's own /metrics scrapes
        for n in sizes:
            dep = Scraped(args.bootstrap, 6, args.worker_root)
            dep.env.update(item.split("=", 1) for item in args.env)  # e.g. a stage turned off
            dep.env["RASID_RULES_PATH"] = str(packs[n])
            try:
                dep.cli("topics")
                started = time.perf_counter()
                dep.start_workers(1)
                ready = time.perf_counter() - started
                await pipeline.throughput(dep, articles, min(200, limit))  # warm-up
                profiled = bool(args.profile)
                out = Path(f"{args.profile}-{n}.txt")
                spy = spy_on(dep, out, gil=args.gil) if profiled else None
                ends = await changelog_ends(dep) if args.changelogs else None
                cpu0, dep.scrapes, dep.interval = pipeline.worker_cpu(dep), 0, args.poll
                stages0 = dep.metric_lines(STAGES)
                rate, alerts = await pipeline.throughput(dep, articles, limit)
                cost[n] = (pipeline.worker_cpu(dep) - cpu0) / limit * 1000
                stages = stage_ms(stages0, dep.metric_lines(STAGES), limit)
                if ends is not None:
                    print(f"{n:>6} rules: {await changelog_kinds(dep, ends, limit)}", flush=True)
                scrapes, dep.interval = dep.scrapes, 0.0
                if spy is not None:
                    spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                    spy.wait()
                scrape = scrape_cpu(dep)
                net[n] = cost[n] - scrapes * scrape / limit * 1000
                loaded = dep.matched(LOADED)
                print(
                    f"{n:>6} rules ({loaded} loaded; worker ready {ready:.1f} s after start): "
                    f"{rate:6.1f} articles/s, worker CPU {cost[n]:.2f} ms per article, "
                    f"{alerts} alerted; the bench's {scrapes} /metrics scrapes in it at "
                    f"{scrape * 1000:.1f} ms each: {net[n]:.2f} ms per article without them",
                    flush=True,
                )
                print(f"{n:>6} rules: stages (wall ms per article) {stages}", flush=True)
                if n == sizes[0] and len(sizes) > 1 and not args.no_reload:
                    await reloads(dep, Path(tmp), packs[sizes[-1]], articles, limit, vocab)
            finally:
                dep.stop()
        if len(sizes) > 1:
            small, big = sizes[0], sizes[-1]
            print(
                f"cost per article, {big} rules against {small}: "
                f"{cost[big]:.2f} / {cost[small]:.2f} ms = {cost[big] / cost[small]:.2f}x; "
                f"without the bench's /metrics scrapes {net[big]:.2f} / {net[small]:.2f} ms = "
                f"{net[big] / net[small]:.2f}x"
            )


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == PUSH_CHILD:
        push_child(*sys.argv[2:])
        return 0
    parser = pipeline.corpus_parser(__doc__)
    parser.add_argument("--limit", type=int, default=2000, help="articles per throughput run")
    parser.add_argument("--sizes", default="10,10000", help="rule pack sizes")
    parser.add_argument("--vocab-articles", type=int, default=5000)
    parser.add_argument(
        "--worker-root", type=Path, default=pipeline.ROOT, help="the tree the workers run"
    )
    parser.add_argument("--no-reload", action="store_true", help="throughput only")
    parser.add_argument(
        "--poll",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="scrape the worker's /metrics at most this often in the throughput runs",
    )
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="a worker setting"
    )
    parser.add_argument(
        "--reload-only", action="store_true", help="the live reloads only, no throughput run"
    )
    parser.add_argument("--repeats", type=int, default=1, help="reload runs (--reload-only)")
    parser.add_argument(
        "--changelogs",
        action="store_true",
        help="count the records the timed run wrote to the tables' changelogs, by kind",
    )
    parser.add_argument("--profile", help="py-spy each throughput run into PROFILE-<size>.txt")
    parser.add_argument(
        "--gil", action="store_true", help="--profile samples only the thread holding the GIL"
    )
    args = parser.parse_args()
    if pipeline.corpus_missing(args.data):
        return 0
    asyncio.run(reload_only(args) if args.reload_only else run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
