#!/usr/bin/env python3
"""Pipeline benchmark on a real broker: throughput and ingest → alert latency of one worker
(or of several worker processes in one consumer group, `--workers`).

Usage:
    .venv/bin/python bench/pipeline.py [--bootstrap HOST:PORT] [--limit N] [--rates 50,500,max]
        [--seconds S] [--min-alerts N] [--max-windows W] [DATA]

DATA defaults to ../shared/data/ant/ant_multisource.jsonl.gz (skipped cleanly if absent).
Real ANT articles are published to a fresh set of topics (own prefix, own consumer group) on
the broker, and one `rasid worker` process (default rule pack) runs the pipeline. Printed:

- throughput: N articles published at once; articles/s from the first send until every one
  of them is out of the pipeline (enriched, or dead-lettered, and its story candidate through
  the story stage, per the workers' /metrics: `--until match` for a worker from before issue
  14), end to end; with the workers' CPU per article (all threads) and RSS;
- baseline: a plain aiokafka consumer reading and JSON-decoding the same N messages from the
  same broker; the ratio pipeline/baseline;
- the single-stage faust floor of the same run (bench/faust_floor.py --hops 1) side by side
  with the pipeline, and their ratio (`--no-floor` skips it);
- latency at fixed offered loads: articles sent at R/s for S seconds (`--seconds`, one
  window; "half": half the throughput just measured); for every article the time from its send
  to its enriched message and to its first alert on the alerts topic (p50/p95/p99), and the
  rate the pipeline kept up with. Only ~2.4% of the articles raise an alert (37 in a 10-s
  window at 155/s, so a p99 there was their maximum), so the windows are repeated at each rate
  until about `--min-alerts` (300) alert samples are pooled (at most `--max-windows`; each
  window goes on through the articles): the percentiles are of the pooled samples, printed
  with their number, a 95% bootstrap interval of each p99 and each window's alert p99; and
  where the alerted articles' time went, step by step (`STEPS`: the worker's `ingested_at`
  and the records' Kafka timestamps), as medians over all of them and over the slowest 5%;
  and the worker's CPU per article in each window (its system part, the hot stage's mean
  batch). `--profile-latency PATH`: py-spy of the worker during each rate's windows;
- `--scaling`: the throughput run again with two worker processes (fresh topics), and 2 vs 1;
- with each throughput run, the CPU it took per article: the workers, the broker (when it runs
  on this machine) and this benchmark's own producer and watcher. They share the cores, so
  cores / (their sum) bounds what any number of workers can reach on this machine;
- `--rss 10000,100000`: worker RSS after that many articles processed in all (flat = no state
  that grows with history), cycling through the whole corpus (not `--limit`'s articles: as
  many distinct stories as the data has), and where it is resident: glibc's main arena, its
  other threads' arenas, the other anonymous mappings (Python's object pools), files.
  Time in this feed: the raw messages carry no published time (ANT's own dates are not sent),
  so every time the worker reads is its own clock: the hot stage stamps `ingested_at` when the
  article comes in, the story stage assigns on it and closes a story 48 h of that time after
  its last report. Sent as fast as the worker takes them (`--rss-clock wall`, the old run),
  100,000 articles take a quarter of an hour, a feed for which the 48-h window closes nothing:
  every distinct story stays live (cycled ANT has ~10,400) and each cycle of the corpus brings
  every story its own texts again. By default (`--rss-clock paced`) a fresh worker gets a feed
  paced like a real one: sent at --rss-pace articles/s, with the worker's time settings scaled
  so that they hold as many articles as in a real feed of --feed-per-day articles a day (see
  `Clock`); stories then close as fast as they open, and the corpus coming round again meets
  closed stories. Each mark prints the live stories and the stories closed (the worker's
  /metrics), the worker's CPU per article since the previous mark (all threads) and, when
  paced, the pace kept and the articles the window held at it; a paced run also prints the
  fresh worker's RSS before any article and how long it took from launch to ready.

It prints figures; it asserts nothing. Corpus data is only read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpora import ANT, ant_raw
from latency_stats import bootstrap_interval, pct, tail_steps, windows_needed

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ANT
read_articles = ant_raw  # the name the other benches import
KINDS = ("raw", "enriched", "alerts", "deadletter")
QUOTES = '}"'


@dataclass(frozen=True)
class Clock:
    """The `--rss` feed paced like a real one: `per_day` articles a day, sent at `pace`
    articles a second, so one second of the bench stands for `scale` seconds of that feed. The
    worker's settings counted in ingest time are divided by `scale`, so that each holds as many
    articles as it would in the real feed: the story window (RASID_STORY_WINDOW_HOURS: 48 h of
    a 5,000-a-day feed hold 10,000 articles), the story stage's sweep (RASID_STORY_PRUNE_SECONDS; a tree older than that setting sweeps
    every 600 s whatever the clock) and the
    emitted ids' horizon (RASID_ALERT_DEDUP_DAYS). Not scaled, and why: the document-frequency
    snapshot (every 30 s; it overwrites the same keys, so it sets the CPU and the gap a crash
    loses, not the state); the trend detector's windows and buckets (whole minutes, at most
    two days: they cannot be divided by ~1,700; the detector is bounded by
    RASID_TRENDS_MAX_KEYS × the buckets of its longest window, and at the bench's pace it
    holds fewer buckets than in a real feed: the bench under-counts it); the ingest service's
    revision window and maximum age (`rasid ingest`, not the worker)."""

    per_day: float
    pace: float
    window_hours: float  # the real feed's story window (the worker's setting)
    dedup_days: float
    prune_seconds: float  # the real feed's sweep period (the worker's setting)

    @classmethod
    def of(cls, per_day: float, pace: float, settings: Any) -> Clock:
        return cls(
            per_day,
            pace,
            settings.story_window_hours,
            settings.alert_dedup_days,
            settings.story_prune_seconds,
        )

    @property
    def scale(self) -> float:
        """Seconds of the real feed per second of the bench."""
        return self.pace * 86400 / self.per_day

    @property
    def prune_every(self) -> float:
        return self.prune_seconds / self.scale

    def env(self) -> dict[str, str]:
        return {
            "RASID_STORY_WINDOW_HOURS": repr(self.window_hours / self.scale),
            "RASID_ALERT_DEDUP_DAYS": repr(self.dedup_days / self.scale),
            "RASID_STORY_PRUNE_SECONDS": repr(self.prune_every),
        }

    def describe(self) -> str:
        window_s = self.window_hours * 3600 / self.scale
        return (
            f"RSS, paced feed: a real feed of {self.per_day:,.0f} articles a day, sent at"
            f" {self.pace:g} articles/s (1 s here = {self.scale:,.0f} s of that feed); the worker"
            f" runs with the story window {self.window_hours:g} h → {window_s:.1f} s"
            f" ({window_s * self.pace:,.0f} articles at that pace), the sweep every"
            f" {self.prune_seconds:g} s → {self.prune_every:.3f} s, the emitted ids' horizon"
            f" {self.dedup_days:g} d → {self.dedup_days * 86400 / self.scale:.0f} s"
            f" ({self.dedup_days * self.per_day:,.0f} articles)"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Deployment:
    """Fresh topics and worker processes (one consumer group) on the broker."""

    def __init__(
        self,
        bootstrap: str,
        partitions: int,
        worker_root: Path,
        clock: Clock | None = None,
    ) -> None:
        self.worker_root = worker_root
        self.clock = clock
        self.bootstrap = bootstrap
        self.prefix = f"rasid-bench-{uuid.uuid4().hex[:8]}"
        self.topics = {k: f"{self.prefix}.{k}" for k in KINDS}
        self.tmp = tempfile.TemporaryDirectory(prefix="rasid-bench-")
        self.env = dict(os.environ)
        self.env.update(
            RASID_KAFKA_BOOTSTRAP=bootstrap,
            RASID_APP_ID=self.prefix,
            RASID_TOPIC_RAW=self.topics["raw"],
            RASID_TOPIC_ENRICHED=self.topics["enriched"],
            RASID_TOPIC_ALERTS=self.topics["alerts"],
            RASID_TOPIC_DEADLETTER=self.topics["deadletter"],
            RASID_TOPIC_RULES=f"{self.prefix}.rules",  # its own: a pushed pack stays in this run
            RASID_WEB_PORT=str(free_port()),
            RASID_DATA_DIR=self.tmp.name,
            RASID_TOPIC_PARTITIONS=str(partitions),
            RASID_LOG_LEVEL="WARNING",
        )
        if clock is not None:
            self.env.update(clock.env())
        self.procs: list[subprocess.Popen[bytes]] = []
        self.web_ports: list[int] = []
        self.ready_seconds: list[float] = []  # each worker: launch to /readyz 200

    def cli(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "streams.cli", *args], env=self.env, cwd=ROOT, check=True,
            capture_output=True,
        )  # fmt: skip

    def start_workers(self, count: int) -> None:
        """`count` worker processes, each with its own web port and data dir; all ready."""
        urls = []
        for i in range(count):
            port, data = free_port(), Path(self.tmp.name) / f"worker-{i}"
            data.mkdir()
            log = open(data / "worker.log", "ab")  # noqa: SIM115
            env = {**self.env, "PYTHONPATH": str(self.worker_root)}
            env.update(RASID_WEB_PORT=str(port), RASID_DATA_DIR=str(data))
            env["RASID_INSTANCE_ID"] = f"{self.prefix}-{i}"  # one static member each
            cmd = [sys.executable, "-m", "streams.cli", "worker"]
            proc = subprocess.Popen(cmd, env=env, cwd=self.worker_root, stdout=log, stderr=log)
            self.procs.append(proc)
            urls.append(f"http://127.0.0.1:{port}/readyz")
            self.web_ports.append(port)
        launched = time.monotonic()
        deadline = launched + 120
        while urls and time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise SystemExit(f"a worker exited; see {self.tmp.name}/worker-*/worker.log")
            try:
                with urllib.request.urlopen(urls[0], timeout=2) as resp:
                    if resp.status == 200:
                        urls.pop(0)
                        self.ready_seconds.append(time.monotonic() - launched)
                        continue
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        if urls:
            raise SystemExit("workers not ready in 120 s")

    def matched(self, prefixes: tuple[str, ...] | None = None) -> int:
        """Articles a stage has finished (default: the story stage, the last one; or
        `MATCH_DONE`), summed over the workers' /metrics."""
        prefixes = prefixes or STORY_DONE
        names = tuple(p.split("{")[0].strip() for p in prefixes)
        lines = self._metric_lines(names)
        return int(
            sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(prefixes))
        )

    def metric_lines(self, names: tuple[str, ...]) -> dict[str, float]:
        """The samples of these metric families on the workers' /metrics (line → value,
        summed over the workers)."""
        out: dict[str, float] = {}
        for line in self._metric_lines(names):
            key, value = line.rsplit(" ", 1)
            out[key] = out.get(key, 0.0) + float(value)
        return out

    def _metric_lines(self, names: tuple[str, ...]) -> Iterator[str]:
        """Each worker's /metrics lines of these metric families. Only the series asked for
        (`name[]`): the whole page costs the worker far more CPU (with a 10,000-rule pack
        ~0.13 s a scrape), and `matched` polls every 0.2 s."""
        query = urllib.parse.urlencode([("name[]", n) for n in names])
        for port in self.web_ports:
            url = f"http://127.0.0.1:{port}/metrics?{query}"
            with urllib.request.urlopen(url, timeout=5) as resp:
                body = resp.read().decode()
            yield from (line for line in body.splitlines() if line.startswith(names))

    def stories(self) -> str:
        """Live stories and stories closed so far (by reason), from the workers' /metrics."""
        got = self.metric_lines(("rasid_stories_live", "rasid_stories_closed_total"))
        live = sum(v for k, v in got.items() if k.startswith("rasid_stories_live"))
        closed = "  ".join(
            f"{k.split('reason=', 1)[1].strip(QUOTES)} {v:.0f}"
            for k, v in sorted(got.items())
            if k.startswith("rasid_stories_closed_total{")
        )
        return f"live stories {live:.0f}; closed: {closed or 'none'}"

    def rss_mb(self) -> list[float]:
        """Resident memory of each worker process (MB), from /proc."""
        out = []
        for proc in self.procs:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
        return out

    def profile(self, out: Path) -> subprocess.Popen[bytes]:
        """Sample the first worker with py-spy (collapsed stacks, one per line) until stopped."""
        spy = Path(sys.executable).with_name("py-spy")
        cmd = [str(spy), "record", "--pid", str(self.procs[0].pid), "--rate", "200"]
        return subprocess.Popen([*cmd, "--format", "raw", "--output", str(out)])

    @contextlib.contextmanager
    def running(self, workers: int) -> Iterator[Deployment]:
        """This deployment with its topics created and `workers` worker processes started;
        stopped (processes and their directory) on the way out, also when the run fails."""
        try:
            self.cli("topics")
            self.start_workers(workers)
            yield self
        finally:
            self.stop()

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.tmp.cleanup()


# A message leaves the match stage matched (then delivered) or as a dead letter.
MATCH_DONE = ('rasid_stage_out_total{stage="match"}', 'rasid_stage_errors_total{stage="match"}')
# Every article's story candidate through the story stage (since issue 14 every article has
# one; in the same process, so "end to end" waits for it too). `--until match` for a worker
# of an earlier release, whose story stage saw only the alerting articles.
STORY_DONE = ('rasid_stage_out_total{stage="story"}',)


def messages(
    articles: list[dict[str, Any]], tag: str, n: int, start: int = 0
) -> Iterator[tuple[str, bytes]]:
    """n raw messages cycling through the articles from index `start`, each with a unique id
    (so every alert id is new and nothing is suppressed as a repeat) and its outlet renamed per
    run: the same text again from the same outlet is a copy for the story stage (no alert
    update), so a later run would raise no alert at all."""
    for i in range(start, start + n):
        a = dict(articles[i % len(articles)])
        a["id"] = f"{tag}-{i}-{a['id']}"
        a["source"] = f"{a['source']}-{tag}-{i // len(articles)}"
        yield a["id"], orjson.dumps(a)


async def make_producer(bootstrap: str) -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_batch_size=1_048_576,
        max_request_size=8_388_608,
    )
    await producer.start()
    return producer


class Watcher:
    """Reads the enriched, story-candidate, alerts and dead-letter topics from the end,
    recording arrival times by article id: `enriched` and `alerted` on the bench's
    perf_counter; `steps` the wall-clock times (time.time(), seconds) each article passed on
    its way, for `latency`'s breakdown: "ingested" (the worker's `ingested_at`, stamped when the
    hot stage takes the article up), "enriched_out" (the enriched record's Kafka CreateTime:
    the hot stage handing its batch's output to the producer), "candidate_seen" (its batch's
    story-candidate message read here: broker acknowledged and readable), "alert_out" (the
    alert record's CreateTime: the story stage sending it), "alert_seen"."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.enriched: dict[str, float] = {}
        self.alerted: dict[str, float] = {}
        self.steps: dict[str, dict[str, float]] = {}
        self.dead = 0
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        c = AIOKafkaConsumer(
            bootstrap_servers=self.dep.bootstrap,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            max_partition_fetch_bytes=8_388_608,
        )
        await c.start()
        tps: list[TopicPartition] = []
        for topic in (*self._topics().values(), self.dep.topics["deadletter"]):
            await c._client.force_metadata_update()
            tps += [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or ()]
        c.assign(tps)
        await c.seek_to_end(*tps)
        for tp in tps:
            await c.position(tp)
        self._consumer = c
        self._task = asyncio.create_task(self._run())

    def _topics(self) -> dict[str, str]:
        t = self.dep.topics
        # the worker's default name for its story-candidate topic (streams/kafka/names.py)
        return {
            "enriched": t["enriched"],
            "candidates": f"{t['alerts']}.stories",
            "alerts": t["alerts"],
        }

    async def _run(self) -> None:
        assert self._consumer is not None
        topics = self._topics()
        while True:
            batch = await self._consumer.getmany(timeout_ms=100, max_records=5000)
            now, wall = time.perf_counter(), time.time()
            for tp, records in batch.items():
                for r in records:
                    if tp.topic == topics["enriched"]:
                        doc = orjson.loads(r.value)
                        if doc["id"] not in self.enriched:
                            self.enriched[doc["id"]] = now
                            ingested = datetime.fromisoformat(doc["ingested_at"]).timestamp()
                            steps = self.steps.setdefault(doc["id"], {})
                            steps.update(ingested=ingested, enriched_out=r.timestamp / 1000)
                    elif tp.topic == topics["candidates"]:
                        for cand in orjson.loads(r.value).get("candidates", ()):
                            steps = self.steps.setdefault(cand["article_id"], {})
                            steps.setdefault("candidate_seen", wall)
                    elif tp.topic == topics["alerts"]:
                        article = orjson.loads(r.value)["article"]["id"]
                        if article not in self.alerted:
                            self.alerted[article] = now
                            steps = self.steps.setdefault(article, {})
                            steps.update(alert_out=r.timestamp / 1000, alert_seen=wall)
                    else:
                        self.dead += 1

    def done(self) -> int:
        return len(self.enriched) + self.dead

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._consumer is not None:
            await self._consumer.stop()


async def settle(counter: Any, quiet: float = 3.0, timeout: float = 60.0) -> None:
    """Wait until `counter()` stopped changing for `quiet` seconds: the match and story stages
    run behind the parse stage, so alerts keep coming after the last enriched article."""
    deadline = time.monotonic() + timeout
    last, since = counter(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        await asyncio.sleep(0.1)
        if counter() != last:
            last, since = counter(), time.monotonic()


async def wait_until(cond: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        await asyncio.sleep(0.05)
    return False


async def baseline(dep: Deployment, n: int) -> float:
    """Articles/s of a plain consumer reading and JSON-decoding n raw messages."""
    c = AIOKafkaConsumer(
        bootstrap_servers=dep.bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=8_388_608,
    )
    await c.start()
    try:
        topic = dep.topics["raw"]
        await c._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in c.partitions_for_topic(topic) or ()]
        c.assign(tps)
        await c.seek_to_beginning(*tps)
        seen = 0
        started = time.perf_counter()
        while seen < n:
            batch = await c.getmany(timeout_ms=1000, max_records=5000)
            for records in batch.values():
                for r in records:
                    orjson.loads(r.value)
                    seen += 1
        return seen / (time.perf_counter() - started)
    finally:
        await c.stop()


async def throughput(
    dep: Deployment,
    articles: list[dict[str, Any]],
    n: int,
    until: tuple[str, ...] = STORY_DONE,
    start: int = 0,
    pace: float | None = None,
) -> tuple[float, int]:
    """All n articles at once (or `pace` articles/s), and the rate they came out at."""
    watcher = Watcher(dep)
    await watcher.start()
    producer = await make_producer(dep.bootstrap)
    matched_before = await asyncio.to_thread(dep.matched, until)
    try:
        started = time.perf_counter()
        futs = []
        for j, (key, value) in enumerate(messages(articles, f"tp{uuid.uuid4().hex[:4]}", n, start)):
            if pace:
                delay = started + j / pace - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            futs.append(await producer.send(dep.topics["raw"], value, key=key.encode()))
        await asyncio.gather(*futs)
        ok = await wait_until(lambda: watcher.done() >= n, timeout=max(120.0, n / 5))
        if not ok:
            print(f"  (only {watcher.done()} of {n} came out before the timeout)")
        # End to end: every enriched article also through the story stage, which runs behind.
        deadline = time.monotonic() + max(120.0, n / 5)
        while time.monotonic() < deadline:
            done = await asyncio.to_thread(dep.matched, until)
            if done - matched_before >= len(watcher.enriched):
                break
            await asyncio.sleep(0.2)  # a scrape costs the worker a little CPU
        elapsed = time.perf_counter() - started
        await settle(lambda: len(watcher.alerted))  # the story stage, before the next phase
        return watcher.done() / elapsed, len(watcher.alerted)
    finally:
        await producer.stop()
        await watcher.stop()


# The steps of an article's way to its alert, from the Watcher's times (see Watcher): each the
# time from the previous point. "picked up" includes the bench producer's linger, the broker's
# append, the worker's fetch and the hot stage's take (RASID_BATCH_WITHIN_SECONDS) and the
# articles before it in its batch; "hot batch" this article and the rest of its batch;
# "candidate" the produce request (linger, acks=all) and this bench's own fetch; "story stage"
# the story agent's fetch, take, and its candidates before this one; "alert out" the alert's
# produce request and this bench's fetch.
STEPS = (
    ("picked up", "sent", "ingested"),
    ("hot batch", "ingested", "enriched_out"),
    ("candidate", "enriched_out", "candidate_seen"),
    ("story stage", "candidate_seen", "alert_out"),
    ("alert out", "alert_out", "alert_seen"),
)


def step_rows(sent: dict[str, float], steps: dict[str, dict[str, float]]) -> list[dict[str, float]]:
    """Per alerted article with every point seen: each step's ms, and "total" (send → alert
    read here, wall clock)."""
    rows = []
    for key, t in sent.items():
        points = {"sent": t, **steps.get(key, {})}
        if all(p in points for _, p, _ in STEPS) and "alert_seen" in points:
            row = {name: (points[b] - points[a]) * 1000 for name, a, b in STEPS}
            row["total"] = (points["alert_seen"] - t) * 1000
            rows.append(row)
    return rows


async def latency(
    dep: Deployment,
    articles: list[dict[str, Any]],
    rate: float | None,
    seconds: float,
    limit: int,
    start: int = 0,
) -> dict[str, Any]:
    """Send at `rate` articles/s for `seconds` (rate None: `limit` articles at once), from
    article `start` on; the samples (ms) and each alerted article's steps (`step_rows`)."""
    watcher = Watcher(dep)
    await watcher.start()
    producer = await make_producer(dep.bootstrap)
    sent: dict[str, float] = {}
    sent_wall: dict[str, float] = {}
    tag = f"r{int(rate) if rate else 'max'}-{uuid.uuid4().hex[:4]}"
    n = int(rate * seconds) if rate else limit
    cpu, sys_cpu = worker_cpu(dep), worker_sys(dep)
    batches = await asyncio.to_thread(hot_batches, dep)
    try:
        started = time.perf_counter()
        for i, (key, value) in enumerate(messages(articles, tag, n, start)):
            if rate:
                due = started + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            sent[key], sent_wall[key] = time.perf_counter(), time.time()
            await producer.send(dep.topics["raw"], value, key=key.encode())
        await producer.flush()
        send_secs = time.perf_counter() - started
        await wait_until(lambda: watcher.done() >= len(sent), timeout=max(120.0, len(sent) / 5))
        await settle(lambda: len(watcher.alerted))
        cpu, sys_cpu = worker_cpu(dep) - cpu, worker_sys(dep) - sys_cpu
        after = await asyncio.to_thread(hot_batches, dep)
        took = (after[0] - batches[0], after[1] - batches[1])
        out_secs = max(watcher.enriched.values(), default=started) - started
        to_enriched = [
            (watcher.enriched[k] - t) * 1000 for k, t in sent.items() if k in watcher.enriched
        ]
        to_alert = [
            (watcher.alerted[k] - t) * 1000 for k, t in sent.items() if k in watcher.alerted
        ]
        return {
            "offered": len(sent) / send_secs,
            "kept_up": len(watcher.enriched) / max(out_secs, 1e-9),
            "sent": len(sent),
            "alerts": len(to_alert),
            "to_enriched": to_enriched,
            "to_alert": to_alert,
            "steps": step_rows(sent_wall, watcher.steps),
            "cpu_ms": cpu / max(len(sent), 1) * 1000,
            "sys_ms": sys_cpu / max(len(sent), 1) * 1000,
            "batch": took[1] / max(took[0], 1),
        }
    finally:
        await producer.stop()
        await watcher.stop()


async def latency_windows(
    dep: Deployment,
    articles: list[dict[str, Any]],
    rate: float | None,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """`latency` windows of --seconds at `rate`, one after the other, until about
    --min-alerts alert samples are pooled (at most --max-windows windows): one window of
    10 s at 155 articles/s holds ~37 alerts, too few for a p99. Each window goes on through
    the articles where the last one stopped."""
    runs = [await latency(dep, articles, rate, args.seconds, args.limit)]
    want = windows_needed(args.min_alerts, runs[0]["alerts"], args.max_windows)
    start = runs[0]["sent"]
    while len(runs) < want:
        runs.append(await latency(dep, articles, rate, args.seconds, args.limit, start))
        start += runs[-1]["sent"]
    return runs


def report_latency(spec: str, runs: list[dict[str, Any]]) -> None:
    """The pooled percentiles of the windows (the table's lines), then how firm the p99s
    are: the samples, a 95% bootstrap interval, each window's p99; and the steps' medians,
    over all alerted articles and over the slowest 5% (the tail)."""
    enriched = [v for r in runs for v in r["to_enriched"]]
    alerted = [v for r in runs for v in r["to_alert"]]
    e = [pct(enriched, q) for q in (50, 95, 99)]
    a = [pct(alerted, q) for q in (50, 95, 99)]
    offered = sum(r["offered"] for r in runs) / len(runs)
    kept = sum(r["kept_up"] for r in runs) / len(runs)
    print(
        f"  {spec:>4} art/s  enriched {e[0]:7.0f} {e[1]:7.0f} {e[2]:7.0f}"
        f"  {offered:7.1f}  {kept:7.1f}\n"
        f"              alert    {a[0]:7.0f} {a[1]:7.0f} {a[2]:7.0f}"
        f"  {'':7}  {'':7}  {len(alerted):6d}"
    )
    e_lo, e_hi = bootstrap_interval(enriched, 99)
    a_lo, a_hi = bootstrap_interval(alerted, 99)
    print(
        f"        {len(runs)} window(s), {len(enriched)} enriched / {len(alerted)} alert samples;"
        f" p99 95% bootstrap interval: enriched {e_lo:.0f}–{e_hi:.0f} ms,"
        f" alert {a_lo:.0f}–{a_hi:.0f} ms"
    )
    if len(runs) > 1:
        per = ", ".join(f"{pct(r['to_alert'], 99):.0f} ({r['alerts']})" for r in runs)
        print(f"        p99 alert per window (alerts): {per}")
    cpus = ", ".join(f"{r['cpu_ms']:.2f} ({r['sys_ms']:.2f}; {r['batch']:.1f})" for r in runs)
    print(
        f"        worker CPU per article, each window (all threads, its ~3 s of settling"
        f" included; in brackets the system part, and the hot stage's mean batch): {cpus} ms"
    )
    rows = [row for r in runs for row in r["steps"]]
    if rows:
        split = tail_steps(rows, "total", 95)
        print(
            f"        where it goes, ms (median over {len(rows)} alerted articles / over the"
            " slowest 5%): "
            + ", ".join(f"{k} {m:.1f} / {t:.1f}" for k, (m, t) in split.items())
            + f"; total {pct([r['total'] for r in rows], 50):.1f}"
            f" / {pct([r['total'] for r in rows], 95):.1f}+"
        )


async def main_async(args: argparse.Namespace) -> None:
    articles = read_articles(args.data, args.limit)
    sizes = sorted(len(orjson.dumps(a)) for a in articles)
    print(
        f"corpus: {len(articles)} ANT articles, message size p50 {pct(sizes, 50) / 1000:.1f} KB, "
        f"p95 {pct(sizes, 95) / 1000:.1f} KB; broker {args.bootstrap}; {os.cpu_count()} CPUs"
    )
    until = STORY_DONE if args.until == "story" else MATCH_DONE
    marks = [int(x) for x in args.rss.split(",")] if args.rss else []
    rate = 0.0
    if not args.rss_only or args.rss_clock != "paced":
        with Deployment(args.bootstrap, args.partitions, args.worker_root).running(
            args.workers
        ) as dep:
            if not args.rss_only:
                rate = await measure(dep, args, articles, until)
            if marks and args.rss_clock != "paced":
                # the whole corpus, cycled: as many distinct stories as the data has
                print(
                    "RSS, uncompressed feed: the worker's own clock and settings (48-h story"
                    " window), the feed as fast as the worker takes it",
                    flush=True,
                )
                await memory(dep, read_articles(args.data, max(marks)), marks, until)
    if marks and args.rss_clock != "wall":
        from streams.settings import Settings

        clock = Clock.of(args.feed_per_day, args.rss_pace, Settings())
        paced = Deployment(args.bootstrap, args.partitions, args.worker_root, clock)
        with paced.running(args.workers):
            print(clock.describe(), flush=True)
            corpus = read_articles(args.data, max(marks))
            await memory(paced, corpus, marks, until, clock)
    if args.scaling and args.workers == 1 and rate:
        # The same throughput run with two worker processes in one group, fresh topics.
        with Deployment(args.bootstrap, args.partitions, args.worker_root).running(2) as two:
            await throughput(two, articles, min(200, args.limit), until)
            machine = MachineCpu(two)
            rate2, _ = await throughput(two, articles, args.limit, until)
            print(
                f"scaling: 2 workers {rate2:.0f} articles/s against 1 worker {rate:.0f}: "
                f"{rate2 / rate:.2f}x\n  {machine.report(args.limit)}"
            )


async def measure(
    dep: Deployment, args: argparse.Namespace, articles: list[dict[str, Any]], until: Any
) -> float:
    """The throughput run (with the baseline and the faust floor) and the latency runs;
    returns the throughput (articles/s)."""
    # Warm-up: caches, gazetteer, connections.
    await throughput(dep, articles, min(200, args.limit), until)
    n = args.limit
    spy = dep.profile(args.profile) if args.profile else None
    cpu0, machine = worker_cpu(dep), MachineCpu(dep)
    rate, alerts = await throughput(dep, articles, n, until)
    cpu = (worker_cpu(dep) - cpu0) / n * 1000
    machine_cpu = machine.report(n)
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on interrupt
        spy.wait(timeout=60)
        print(f"profile of the worker during the throughput run: {args.profile}")
    print(
        f"throughput, {args.workers} worker process(es), end to end: {rate:8.1f} articles/s "
        f"({n} articles, {alerts} alerted; worker CPU {cpu:.2f} ms per article, all "
        f"threads; RSS {', '.join(f'{m:.0f}' for m in dep.rss_mb())} MB)",
        flush=True,
    )
    print(f"  {machine_cpu}")
    base = await baseline(dep, n)
    print(f"baseline, aiokafka read + JSON decode: {base:8.1f} articles/s")
    print(f"ratio pipeline/baseline: {rate / base:.4f}")
    if args.floor:
        # The same faust wiring with no Rasid code, one stage, in this run (bench/faust_floor.py).
        from bench import faust_floor
        from streams.settings import Settings

        floor = await faust_floor.run(
            argparse.Namespace(
                data=args.data,
                limit=n,
                partitions=args.partitions,
                batch=Settings().batch_max_messages,
                hops=1,
                monitor=True,
                bootstrap=args.bootstrap,
            )
        )
        print(
            f"side by side: pipeline {rate:.0f} articles/s, single-stage faust floor "
            f"{floor:.0f} articles/s: ratio {rate / floor:.2f}"
        )
    print(
        "latency ingest → enriched / → alert (ms)      p50     p95     p99   offered  kept up  alerts"
    )
    for spec in args.rates.split(","):
        # "half": half the capacity just measured (issue 13: p99 ingest → alert there)
        r = None if spec == "max" else rate / 2 if spec == "half" else float(spec)
        spy = None
        if args.profile_latency:
            out = args.profile_latency.with_name(f"{args.profile_latency.name}.{spec}")
            spy = dep.profile(out)
        try:
            runs = await latency_windows(dep, articles, r, args)
        finally:
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(timeout=60)
                print(f"profile of the worker during the {spec} art/s windows: {out}")
        report_latency(spec, runs)
    return rate


def hot_batches(dep: Deployment) -> tuple[float, float]:
    """(batches, messages) the hot stage has taken so far, from the workers' /metrics: their
    ratio over a window is its mean batch, what the per-batch costs are spread over."""
    got = dep.metric_lines(HOT_BATCHES)  # a histogram's samples are asked for by their names
    count = sum(v for k, v in got.items() if k.startswith(HOT_BATCHES[0]))
    total = sum(v for k, v in got.items() if k.startswith(HOT_BATCHES[1]))
    return count, total


HOT_BATCHES = ("rasid_agent_batch_messages_count", "rasid_agent_batch_messages_sum")


def worker_cpu(dep: Deployment) -> float:
    """CPU seconds (user + system, all threads) the worker processes have used so far."""
    return sum(process_cpu(proc.pid) for proc in dep.procs)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) process `pid` has used so far."""
    return sum(process_cpu_split(pid))


def process_cpu_split(pid: int) -> tuple[float, float]:
    """CPU seconds in user and in system mode (all threads) process `pid` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick  # utime, stime


def worker_sys(dep: Deployment) -> float:
    """CPU seconds in system mode the worker processes have used so far (socket writes to
    the local broker run its loopback TCP path in the worker's time)."""
    return sum(process_cpu_split(proc.pid)[1] for proc in dep.procs)


def broker_pid(bootstrap: str) -> int | None:
    """The local process listening on the bootstrap port (a broker started by scripts/kafka),
    found through /proc/net/tcp and the processes' open sockets; None if it is not local."""
    host, _, port = bootstrap.rpartition(":")
    if host not in ("127.0.0.1", "localhost") or not port.isdigit():
        return None
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == int(port):  # LISTEN
                inodes.add(f"socket:[{cols[9]}]")
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if any(os.readlink(fd) in inodes for fd in fd_dir.iterdir()):
                return int(fd_dir.parent.name)
        except OSError:
            continue  # another user's process, or gone
    return None


class MachineCpu:
    """CPU used during a run by the workers, the broker (when local) and this benchmark's own
    producer and watcher: they share the machine's cores, so together they bound the rate any
    number of workers can reach here."""

    def __init__(self, dep: Deployment) -> None:
        self.dep, self.broker = dep, broker_pid(dep.bootstrap)
        self.start = self._now()

    def _now(self) -> tuple[float, float, float]:
        broker = process_cpu(self.broker) if self.broker is not None else 0.0
        return worker_cpu(self.dep), broker, time.process_time()

    def report(self, n: int) -> str:
        spent = [(b - a) / n * 1000 for a, b in zip(self.start, self._now(), strict=True)]
        cpus = os.cpu_count() or 1
        if self.broker is None:
            return f"worker CPU {spent[0]:.2f} ms per article, all threads (broker not local)"
        total = sum(spent)
        return (
            f"CPU per article: workers {spent[0]:.2f} ms, broker {spent[1]:.2f} ms, this "
            f"benchmark's producer and watcher {spent[2]:.2f} ms; {total:.2f} ms in all, so "
            f"{cpus} CPUs bound this machine at {cpus / total * 1000:.0f} articles/s"
        )


async def memory(
    dep: Deployment,
    articles: list[dict[str, Any]],
    marks: list[int],
    until: tuple[str, ...],
    clock: Clock | None = None,
) -> None:
    """Worker RSS after `marks` articles processed in all (e.g. 10,000 and 100,000): state
    that grows with history shows as RSS growing between the marks. Each chunk goes on where
    the last one stopped, so the whole corpus is sent before any article comes again; with a
    `clock`, at its pace (else all at once), and the pace kept is printed with each mark."""
    done, began = 0, time.perf_counter()
    after = "" if clock else " (+ the runs above)"
    if clock:  # a fresh worker: its size before any article, and how long it took to start
        rss = ", ".join(f"{m:.0f}" for m in dep.rss_mb())
        ready = ", ".join(f"{s:.1f}" for s in dep.ready_seconds)
        print(f"worker RSS at start: {rss} MB (ready {ready} s after launch)", flush=True)
    cpu = worker_cpu(dep)
    for mark in sorted(marks):
        first = done
        while done < mark:
            # paced: to the mark in one go (a pause only at the marks, to read them)
            chunk = mark - done if clock else min(5000, mark - done)
            pace = clock.pace if clock else None
            await throughput(dep, articles, chunk, until, start=done, pace=pace)
            done += chunk
        kept = done / (time.perf_counter() - began)
        rss = ", ".join(f"{m:.0f}" for m in dep.rss_mb())
        stories = await asyncio.to_thread(dep.stories)
        print(f"worker RSS after {done} articles{after}: {rss} MB; {stories}", flush=True)
        spent, cpu = -cpu, worker_cpu(dep)
        spent += cpu
        print(
            f"  worker CPU from {first} to {done} articles: {spent / (done - first) * 1000:.3f} ms"
            " per article (all threads, the scrapes included)",
            flush=True,
        )
        window = ""
        if clock:
            held = clock.window_hours * 3600 / clock.scale * kept
            window = f"; the story window holds {held:,.0f} articles at that pace"
        print(f"  pace kept: {kept:.1f} articles/s since the first{window}", flush=True)
        for proc in dep.procs:
            split = "  ".join(f"{name} {mb:.0f}" for name, mb in resident_split(proc.pid).items())
            print(f"  resident MB: {split}", flush=True)


def resident_split(pid: int) -> dict[str, float]:
    """Where a process's resident memory is (MB, from /proc/PID/smaps): glibc's main arena
    ([heap]), its other threads' arenas (anonymous mappings at 64 MB boundaries, the size
    glibc reserves for one), the other anonymous mappings (Python's object pools, large
    blocks glibc maps on their own), and the rest (code, shared libraries)."""
    out = {"main arena": 0.0, "thread arenas": 0.0, "other anonymous": 0.0, "files": 0.0}
    group = "files"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(maxsplit=5)
        if "-" in head[0] and len(head) >= 5 and not head[0].endswith(":"):
            start = int(head[0].split("-")[0], 16)
            name = head[5] if len(head) > 5 else ""
            if name == "[heap]":
                group = "main arena"
            elif name:
                group = "files"
            else:
                group = "thread arenas" if start % (64 << 20) == 0 else "other anonymous"
        elif line.startswith("Rss:"):
            out[group] += int(line.split()[1]) / 1024
    return out


def corpus_parser(doc: str | None) -> argparse.ArgumentParser:
    """The arguments every broker benchmark takes: the corpus file and the broker."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--bootstrap", default=os.environ.get("RASID_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    )
    return parser


def corpus_missing(path: Path) -> bool:
    """True, and says so, when the corpus is absent: the benchmark then skips cleanly."""
    if path.exists():
        return False
    print(f"skipped: {path} not found (the ANT corpus lives in ../shared/data)")
    return True


def main() -> int:
    parser = corpus_parser(__doc__)
    parser.add_argument("--limit", type=int, default=2000, help="articles for the throughput run")
    parser.add_argument(
        "--rates",
        default="50,half,max",
        help="offered loads, articles/s ('half': half the throughput just measured)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each latency window")
    parser.add_argument(
        "--min-alerts",
        type=int,
        default=300,
        help="latency windows are repeated at each rate until about this many alert samples"
        " are pooled (0: one window, the old run)",
    )
    parser.add_argument(
        "--max-windows", type=int, default=30, help="at most this many windows per rate"
    )
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--workers", type=int, default=1, help="worker processes, one group")
    parser.add_argument(
        "--no-floor",
        dest="floor",
        action="store_false",
        help="skip the single-stage faust floor (bench/faust_floor.py --hops 1) in the same run",
    )
    parser.add_argument(
        "--until",
        choices=("story", "match"),
        default="story",
        help="end to end means through the story stage (default), or the match stage only "
        "(a worker from before issue 14)",
    )
    parser.add_argument(
        "--scaling", action="store_true", help="also run two workers and print 2 vs 1"
    )
    parser.add_argument(
        "--rss",
        help="worker RSS after these totals of articles processed, e.g. 10000,100000"
        " (see --rss-clock)",
    )
    parser.add_argument(
        "--rss-clock",
        choices=("paced", "wall", "both"),
        default="paced",
        help="paced (default): a fresh worker, the feed sent at --rss-pace with the worker's"
        " time settings scaled so that they hold as many articles as in a real feed of"
        " --feed-per-day articles a day (a steady state: stories close as fast as they open);"
        " wall: the uncompressed feed, as fast as the worker takes it, in the worker of the"
        " runs above, with its own settings (no story closes: the bench's compressed clock);"
        " both: the two, one after the other",
    )
    parser.add_argument(
        "--feed-per-day",
        type=float,
        default=5000.0,
        help="the real feed the paced run stands for, articles a day. Default 5,000: a"
        " monitoring load of some hundred Arabic outlets (a few thousand articles a day), whose"
        " 48-h story window holds 10,000 articles, the first RSS mark. ANT's own dates are too"
        " thin for it (2012–2018, a median 305 articles in 48 h): at that density 100,000"
        " articles are two years, and the window would hold 300 of them",
    )
    parser.add_argument(
        "--rss-pace",
        type=float,
        default=100.0,
        help="articles/s the paced feed is sent at (default 100: well below one worker's"
        " capacity on a busy 2-core machine, so the worker keeps up and its ingest clock runs"
        " with the feed; 100,000 articles take ~17 min)",
    )
    parser.add_argument(
        "--rss-only",
        action="store_true",
        help="only the --rss run(s): no throughput, baseline, floor or latency runs",
    )
    parser.add_argument(
        "--worker-root",
        type=Path,
        default=ROOT,
        help="run the worker from this source tree (e.g. an export of an older commit)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the worker with py-spy during the throughput run (collapsed stacks)",
    )
    parser.add_argument(
        "--profile-latency",
        type=Path,
        help="record the worker with py-spy during each rate's latency windows (to PATH.RATE)",
    )
    args = parser.parse_args()
    if corpus_missing(args.data):
        return 0
    sys.path.insert(0, str(ROOT))
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
