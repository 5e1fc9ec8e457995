"""What the worker's state holds after N articles: the story stage (and the hot stage's emitted
ids) driven offline, with no broker, the way the worker drives them.

    .venv/bin/python bench/state_growth.py [--marks 10000,40000,100000] [--base N]
        [--rate 200] [--tracemalloc [--frames N] [--since-mark] [--trace-from N]] [--deep]
        [--pipeline] [--trim] [--pools] [--dups] [--structures] [--worker-pace 100]

ANT articles (the whole corpus unless --base N) are parsed, enriched and matched once by the
worker's pipeline (default rule pack; cached in .cache/bench), then fed like bench/pipeline.py's
`messages()`: cycled, each with a new id and its outlet renamed per cycle (the same texts come
back from "new" outlets), ingested --rate articles per simulated second. Each one goes through
the hot stage's side (new hits against the emitted ids, `candidate` bytes, `forwarded`) and
the story agent's loop (`prune`, `process`, `snapshot`) with dicts for the faust tables and
the alerts "delivered" at once (no trend stage: its detector is bounded by its own key cap).

The clock. The story stage's time is the article's `ingested_at` (the worker stamps it when the
article comes in) and its `now` the wall clock: a story closes after 48 h (RASID_STORY_WINDOW_HOURS)
of *ingest* time without a report. Here ingest time advances by 1/--rate per article, never
backwards, also when the corpus comes round again. The default 200/s is bench/pipeline.py's pace:
100,000 articles in 500 s of simulated time, a feed for which no story ever reaches 48 h without
a report, so every distinct story of the feed stays live (bounded only by RASID_STORY_MAX_LIVE,
--max-live). A real feed of R articles a day is --rate R/86400: 48 h then hold 2R articles, and
from there on stories close as fast as they open (e.g. --rate 0.0579: 10,000 articles in 48 h).
Each mark prints the simulated ingest time, the assignments so far (new, joined, copy) and the
stories closed so far, by the window and by RASID_STORY_MAX_LIVE (capacity).

At each mark it prints the story agent's CPU time per article since the previous mark (its
`refresh`, `prune`, `process`, `snapshot`; the hot stage's side not counted) and the part of
it the garbage collector took, and per structure, its length and the bytes of its orjson dump
(what the state holds, not Python's overhead), the process RSS, and with --tracemalloc the Python memory
allocated since the start grouped by file, with --deep the bytes of the Python objects the
stories, the index postings and the document frequencies hold (each object once), and those of
the stories per field of their state. Skips cleanly when the corpus is absent.

`--pipeline` runs the worker's whole path for every article instead of the cached one: the raw
message (its id and outlet renamed per cycle, as bench/pipeline.py sends it) parsed, enriched
and matched, so the memos of the hot stage (topic model, gazetteer, matcher, story terms) grow
as they do in the worker; its table then lists them (entries per memo). `--trim` also prints
the RSS after `gc.collect()` and glibc's `malloc_trim(0)` at each mark: what the allocator
holds free but has not given back.

`--pools` prints at each mark, and as the change since the previous one, where the memory is
(bench/pools.py): glibc's heap (`mallinfo2`: in use, free), CPython's small-object pools per
size class (`sys._debugmallocstats()`: pools, live and free blocks, utilisation) and the
GC-tracked objects by type; not with --tracemalloc (pymalloc's statistics are off while it
traces). `--dups` counts the long-lived strings (memo keys and values, the document
frequencies' terms, the index's, the centroids') held as two objects of one value.
`--structures` prints one row per bounded or unbounded structure of the state and the hot
stage's memos (entries, their cap, MB of Python objects, and both as the change since the
previous mark): which still grow after a mark, and by how much.
`--tracemalloc --since-mark --trace-from 10000 --frames 3` lists the allocation sites of what
was allocated after a mark and is still live at the next (tracing slows the run ~10x).

`--worker-pace 100` stands for the worker of `bench/pipeline.py --rss-only` (its paced feed at
--rss-pace 100, --feed-per-day 5,000): the same `Clock` (imported from bench/pipeline.py) puts
the scaled story window (100 s), sweep (0.347 s) and emitted ids' horizon (1,500 s) into the
environment, and the one settings object reads them, as the worker's does; the clock advances
1/100 s per article (the worker's ingest stamps and wall clock at that pace, the document-
frequency snapshot every 30 s of it, unscaled, as in the worker); each article is the message
`messages()` sends (its id and outlet carry the tag of the `throughput` call, one per mark of
--feed-marks, and the cycle) and goes to the partition of its key (aiokafka's partitioner,
RASID_TOPIC_PARTITIONS), whose emitted-id shards it joins; the story agent's loop runs as
before, and then the trend stage (its detector and its table's journal, `trend_stage.flush`
after each candidate, on the clock's event times). `--structures` then also lists the faust
tables' dicts (the worker's memory store is a dict per table), the emitted ids, the trend keys
(and their parts encoded for the next dump) and the journal, and per structure the slack of
its hash table (CPython never shrinks one). What still differs from the worker: one article
per hot-stage batch and per story-candidate message (the paced worker's batches hold 1–3),
no faust, aiokafka or metrics objects, the process holds the corpus (~100 MB) and a warm
heap, so its RSS is not the worker's: compare the structures, and RSS changes between marks.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import pickle
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

import orjson
from aiokafka.partitioner import DefaultPartitioner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pools
from corpora import ANT, ant_raw

from streams import metrics
from streams.classify import topic_model
from streams.settings import Settings
from streams.text.memo import Memo, WordMemo
from streams.trends.detector import TrendDetector
from streams.trends.journal import Journal
from streams.worker import heap, story_stage, trend_stage
from streams.worker.emitted import EmittedIds
from streams.worker.pipeline import Pipeline
from streams.worker.story_store import StoryStore

HERE = Path(__file__).resolve().parent


def rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096 / 1e6


def prepared(pipe: Pipeline, limit: int) -> list[tuple[dict[str, Any], list[Any]]]:
    """(enriched article, rule hits) of each ANT article, cached by corpus and limit (~5 min
    to make: the sizes measured here hardly depend on the classifiers' details; delete
    .cache/bench/state-growth-* to remake it)."""
    stat = ANT.stat()
    key = f"{stat.st_size}-{int(stat.st_mtime)}-{limit}"
    path = HERE.parent / ".cache" / "bench" / f"state-growth-{key}.pickle"
    if path.exists():
        try:
            loaded: list[tuple[dict[str, Any], list[Any]]] = pickle.loads(path.read_bytes())
            return loaded
        except Exception:  # made by other code (e.g. RuleHit changed): made again
            pass
    out = []
    for raw in ant_raw(ANT, limit):
        try:
            enriched = pipe.enriched(orjson.dumps(raw), datetime.now(UTC))
        except Exception:  # what the worker dead-letters
            continue
        out.append((enriched, pipe.match(enriched)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(out))
    return out


def renamed(article: dict[str, Any], i: int, cycle: int) -> dict[str, Any]:
    """Article `i` of the feed: a new id, and its outlet renamed per cycle (as bench/pipeline.py
    sends it: the same text from a "new" outlet is not a copy)."""
    out = dict(article)
    out["id"] = f"g-{i}-{article['id']}"
    out["source"] = f"{article['source']}-g-{cycle}"
    return out


# the topic model's lru_caches (the worker's path leaves them empty: `structures`)
TOPIC_LRUS = (
    ("feature", topic_model.feature),
    ("word_buckets", topic_model.word_buckets),
    ("pair_bucket", topic_model.pair_bucket),
)


def memos() -> dict[str, int]:
    """Entries of the hot stage's per-word memos (every WordMemo alive, by cap; each bounded
    by its cap) and of the topic model's lru_caches."""
    out: dict[str, int] = {}
    for obj in gc.get_objects():
        if isinstance(obj, WordMemo):
            name = f"{type(obj).__name__}({obj.cap})"
            out[name] = out.get(name, 0) + len(obj)
    for name, fn in TOPIC_LRUS:
        out[f"{name}()"] = fn.cache_info().currsize
    return out


def memo_sizes() -> str:
    """Every bounded memo alive (`Memo`: words, the topic model's forms, …) by class and cap:
    entries / MB of Python objects (each memo alone), then all of them together (an object two
    memos share, such as the topic model's entries, once) and the topic model's weights."""
    from streams.text.memo import Memo

    alive = [obj for obj in gc.get_objects() if isinstance(obj, Memo)]
    each = "  ".join(f"{type(m).__name__}({m.cap}) {len(m)} / {deep_mb(m):.1f}" for m in alive)
    model = topic_model.default_model()
    rows = f"; topic model weights {deep_mb(model.rows):.1f} MB" if model is not None else ""
    return f"{each}; together {deep_mb(alive):.1f} MB{rows}"


def string_holders(stage: story_stage.StoryStage) -> dict[str, Any]:
    """The long-lived strings by holder: every memo's keys (and str values), the document
    frequencies' terms, the index's terms, the live stories' centroid terms."""
    from streams.text.memo import Memo

    out: dict[str, Any] = {}
    for n, memo in enumerate(obj for obj in gc.get_objects() if isinstance(obj, Memo)):
        name = f"{type(memo).__name__}({memo.cap})#{n}"
        out[f"{name} keys"] = list(memo)
        out[f"{name} values"] = [v for v in memo.values() if type(v) is str]
    out["docfreq terms"] = list(stage.df.counts)
    out["index terms"] = list(stage.index.postings)
    out["story centroid terms"] = [
        t for story in stage.stories.live.values() for name in ("title", "lead", "body")
        for t in story[name]
    ]  # fmt: skip
    return out


def _lru(fn: Any) -> tuple[int, int]:
    info = fn.cache_info()
    return info.currsize, info.maxsize or 0


Row = tuple[int, int, float, float]  # entries, cap (0: none), MB of objects, MB of table slack


def structures(
    stage: story_stage.StoryStage, emitted: EmittedIds | None = None, trends: Any = None
) -> dict[str, Row]:
    """name → (entries, cap (0: none), MB of Python objects reachable from it, each object
    once per structure (an lru_cache's bytes are not reachable, so 0 there), MB of its hash
    table's slack: `slack_mb`). With `emitted` and `trends` (the worker mode) also the hot
    stage's emitted ids, the faust tables' dicts and the trend detector."""
    from streams.classify import places
    from streams.rules import spec
    from streams.stories import features
    from streams.text import arabic
    from streams.text.memo import Memo

    model = topic_model.default_model()
    known = {
        id(features._terms): "story terms (features._terms)",
        id(features._places): "story places (features._places)",
        id(spec._PHRASES): "rule phrases (spec._PHRASES)",
    }
    if model is not None:
        known[id(model._words)] = "topic words (TopicModel._words)"
        known[id(model._forms)] = "topic forms (TopicModel._forms)"
    out: dict[str, Row] = {}
    for n, memo in enumerate(obj for obj in gc.get_objects() if isinstance(obj, Memo)):
        name = known.get(id(memo), f"{type(memo).__name__}#{n} (phrase starts)")
        out[name] = (len(memo), memo.cap, deep_mb(memo), slack_mb(memo))
    for name, fn in (
        *((f"lru topic_model.{name}", fn) for name, fn in TOPIC_LRUS),
        ("lru places.word_variants", places.word_variants),
        ("lru arabic._fold_char", arabic._fold_char),
    ):
        size, cap = _lru(fn)
        out[name] = (size, cap, 0.0, 0.0)
    df = stage.df
    out["DocFreq.counts"] = (len(df.counts), df.max_terms, deep_mb(df.counts), slack_mb(df.counts))
    idx = stage.index
    for name, held in (("postings (terms)", idx.postings), ("seen", idx.seen)):
        out[f"index {name}"] = (len(held), 0, deep_mb(held), slack_mb(held))
    live = stage.stories.live
    out["live stories"] = (len(live), stage.max_live, deep_mb(live), slack_mb(live))
    if emitted is None:
        return out
    members = idx.members
    out["index members"] = (len(members), 0, deep_mb(members), slack_mb(members))
    listed = sum(len(s.get("articles", ())) for s in live.values())
    out["  articles the live stories list"] = (listed, 0, 0.0, 0.0)
    tables = (
        ("stories", stage.stories.table),
        ("story-alerts", stage.alerts),
        ("story-docfreq", stage.docfreq),
        ("emitted-ids", emitted.table),
    )
    for name, table in tables:  # the faust tables' memory stores are dicts
        out[f"table {name}"] = (len(table), 0, deep_mb(table), slack_mb(table))
    kept = stage.stories.kept
    out["stories kept (alerted)"] = (len(kept), 0, deep_mb(kept), slack_mb(kept))
    alerts = sum(len(story_stage.alerts_of(r)) for r in stage.alerts.values())
    out["  alerts in story-alerts"] = (alerts, 0, 0.0, 0.0)
    out["emitted ids (hash set)"] = (
        len(emitted),
        0,
        deep_mb(emitted.hashes),
        slack_mb(emitted.hashes),
    )
    out["emitted shards"] = (len(emitted.shards), 0, deep_mb(emitted.shards), 0.0)
    if trends is not None:
        det = trends.detector
        keys = det._keys
        out["trend keys (detector)"] = (
            len(keys),
            det.params.max_keys,
            deep_mb(det),
            slack_mb(keys),
        )
        # keys held as their state record (bytes: round fourteen), the others as objects
        ks = [k for k in keys.values() if not isinstance(k, bytes)]
        frozen = [k for k in keys.values() if isinstance(k, bytes)]
        out["  of which held as records (bytes)"] = (len(frozen), 0, deep_mb(frozen), 0.0)
        # of which the keys' encoded parts kept for their next dump (`_Key.dump`)
        cached = [(k.season_blob, k.story_blobs, k.term_frags, k.term_blocks) for k in ks]
        slots = sum(len(k.stories) for k in ks)
        out["  of which dump caches (slots)"] = (slots, 0, deep_mb(cached), 0.0)
        # and per field of the keys (an object two keys share counts once per field)
        out["  of which story slots"] = (slots, 0, deep_mb([k.stories for k in ks]), 0.0)
        out["  of which term counts"] = (
            sum(len(k.terms) for k in ks),
            0,
            deep_mb([k.terms for k in ks]),
            sum(slack_mb(k.terms) for k in ks),
        )
        out["  of which cells (bks, tot)"] = (
            sum(len(k.bks) for k in ks),
            0,
            deep_mb([(k.bks, k.tot) for k in ks]),
            0.0,
        )
        out["  of which season, rate, exp"] = (
            len(ks),
            0,
            deep_mb([(k.season, k.rate, k.exp) for k in ks]),
            0.0,
        )
        out["trend journal"] = (len(trends.journal._where), 0, deep_mb(trends.journal), 0.0)
        table = trends.table
        out["table trends"] = (len(table), 0, deep_mb(table), slack_mb(table))
    return out


class CountingTable(dict[str, bytes]):
    """The trend table as a dict that also counts what was written to it (the changelog's
    bytes): the journal's compaction copies show as bytes written beyond the keys' own."""

    written = 0
    writes = 0
    digest = hashlib.sha256()  # of every write: two trees' states compare by it

    def __setitem__(self, key: str, value: bytes) -> None:
        self.written += len(value)
        self.writes += 1
        self.digest.update(key.encode())
        self.digest.update(value)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.digest.update(b"\0del" + key.encode())
        super().__delitem__(key)


SENT: list[Any] = [0, hashlib.sha256()]  # trend records sent, digest of their keys and values


_written_before = [0, 0]  # (articles, bytes) at the previous mark


def trend_line(trends: Any, articles: int) -> str:
    """The journal's bytes against its live entries' and the table bytes written per article
    since the previous mark."""
    stats = trends.journal.stats()
    table = trends.table
    done, written = _written_before
    per = (table.written - written) / max(1, articles - done)
    _written_before[:] = [articles, table.written]
    return (
        f"trend records {SENT[0]:,} (sha256 {SENT[1].hexdigest()[:16]}), table writes sha256"
        f" {table.digest.hexdigest()[:16]}; trend journal: {stats['segments']} segments, {stats['bytes'] / 1e6:.1f} MB of entries"
        f" of which live {stats['live_bytes'] / 1e6:.1f} MB; table writes {table.writes:,},"
        f" {per / 1e3:.1f} KB per article since the previous mark"
    )


_misses: dict[int, int] = {}  # id(memo) → remember() calls (misses)
_misses_before: dict[int, int] = {}
_misses_at = [0]


def count_misses() -> None:
    """Count every memo's misses (`remember` calls), per memo: a memo's cost is its entries,
    its benefit the misses it saves."""
    original = Memo.remember

    def remember(self: Any, key: Any, value: Any) -> Any:
        _misses[id(self)] = _misses.get(id(self), 0) + 1
        return original(self, key, value)

    Memo.remember = remember  # type: ignore[method-assign]


def miss_line(articles: int) -> str:
    """Misses per article of each memo since the previous mark (`count_misses`)."""
    n = max(1, articles - _misses_at[0])
    _misses_at[0] = articles
    parts = []
    for memo in gc.get_objects():
        if isinstance(memo, Memo) and id(memo) in _misses:
            k = id(memo)
            parts.append(
                f"{type(memo).__name__}({memo.cap}) {(_misses[k] - _misses_before.get(k, 0)) / n:.2f}"
            )
            _misses_before[k] = _misses[k]
    return "memo misses per article since the previous mark: " + "  ".join(parts)


def structure_lines(now: dict[str, Row], before: dict[str, Row] | None) -> list[str]:
    head = f"{'structure':<34} {'entries':>9} {'cap':>9} {'MB':>7} {'slack':>6}"
    lines = [f"{head} {'Δ entries':>10} {'Δ MB':>7} {'Δ slack':>7}"]
    for name, (n, cap, mb, slack) in now.items():
        n0, _, mb0, slack0 = (before or {}).get(name, (0, 0, 0.0, 0.0))
        lines.append(
            f"{name:<34} {n:>9,} {cap or '-':>9} {mb:>7.1f} {slack:>6.1f} {n - n0:>+10,}"
            f" {mb - mb0:>+7.1f} {slack - slack0:>+7.1f}"
        )
    return lines


def trimmed_rss() -> float:
    """RSS after a full collection and glibc's malloc_trim(0) (0 when glibc is absent)."""
    gc.collect()
    if heap.trim() is None:
        return 0.0
    return rss_mb()


def deep_mb(root: Any) -> float:
    """Bytes of the Python objects reachable from `root` through dicts, lists, tuples, sets and
    the attributes of streams' own objects (slots or __dict__: a Centroid, a trend key, a
    journal), each object counted once (a string shared by two stories counts once)."""
    seen: set[int] = set()
    total, stack = 0, [root]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        total += sys.getsizeof(x)
        if isinstance(x, dict):
            stack.extend(x.keys())
            stack.extend(x.values())
        elif isinstance(x, list | tuple | set | frozenset):
            stack.extend(x)
        elif type(x).__module__.startswith("streams."):  # its attributes, whatever holds them
            if hasattr(x, "__dict__"):
                stack.append(vars(x))
            for cls in type(x).__mro__:
                stack.extend(getattr(x, n) for n in getattr(cls, "__slots__", ()) if hasattr(x, n))
    return total / 1e6


def slack_mb(table: Any) -> float:
    """How much larger a dict's (or set's) hash table is than a copy of it: CPython never
    shrinks one on delete, so a dict that held more keys keeps the table of its peak."""
    if not isinstance(table, dict | set):
        return 0.0
    return (sys.getsizeof(table) - sys.getsizeof(table.copy())) / 1e6


def story_fields(stories: Any) -> list[tuple[str, float]]:
    """MB of Python objects per field of the stories' states, heaviest first (a term string
    shared by two stories' centroids counts once per field)."""
    by_field: dict[str, list[Any]] = {}
    for story in stories:
        for key, value in story.items():
            by_field.setdefault(key, []).append(value)
    out = [(key, deep_mb(values)) for key, values in by_field.items()]
    return sorted(out, key=lambda kv: -kv[1])


AGE_BUCKETS = ((1, 1), (2, 2), (3, 4), (5, 9), (10, 10**9))  # articles a live story lists


def story_ages(stories: Any) -> list[str]:
    """Which fields of a live story grow as it ages (lists more articles, round fifteen): per
    field, KB of Python objects per story in each bucket of articles listed (each story
    alone, so a term shared by two stories counts in both), and for all live stories the MB of
    Python objects against the bytes of the field's orjson dump (what a compact form, one
    bytes object per field, would hold)."""
    buckets: list[list[Any]] = [[] for _ in AGE_BUCKETS]
    for story in stories:
        n = len(story.get("articles", ()))
        for b, (lo, hi) in enumerate(AGE_BUCKETS):
            if lo <= n <= hi:
                buckets[b].append(story)
    fields = sorted({k for bucket in buckets for story in bucket for k in story})
    head = "  ".join(
        f"{lo}{'' if lo == hi else '+' if hi > 99 else f'-{hi}'}" for lo, hi in AGE_BUCKETS
    )
    out = [
        f"live stories by articles listed ({head}): "
        + " / ".join(f"{len(b):,}" for b in buckets)
        + "; KB per story per field, then MB of objects -> MB dumped (all live stories):"
    ]
    for field in fields:
        per = []
        for bucket in buckets:
            kb = sum(1000 * deep_mb(s[field]) for s in bucket if field in s)
            per.append(f"{kb / max(1, len(bucket)):.2f}")
        held = [s[field] for b in buckets for s in b if field in s]
        dumped = sum(len(orjson.dumps(v, default=_encodable)) for v in held) / 1e6
        out.append(f"  {field:<16} " + " / ".join(per) + f"   {deep_mb(held):.2f} -> {dumped:.2f}")
    return out


def _encodable(x: Any) -> Any:
    return x.__json__() if hasattr(x, "__json__") else list(x)


def rewrites(stories: Any, cycled: int, cycle: int) -> str:
    """Whether the corpus coming round again meets closed stories (new news) or live ones
    (rewrites): of the live stories, those listing articles of two cycles of the corpus, those
    listing the same ANT article twice (from two cycles: a text the feed sent again while its
    story was still live), and those opened in an earlier cycle than the current one."""
    spanning = twice = older = 0
    for story in stories:
        cycles: set[int] = set()
        bases: set[str] = set()
        repeated = False
        for aid in story.get("articles", ()):
            _, i, base = str(aid).split("-", 2)
            cycles.add(int(i) // cycled)
            repeated = repeated or base in bases
            bases.add(base)
        spanning += len(cycles) > 1
        twice += repeated
        older += bool(cycles) and min(cycles) < cycle
    return (
        f"live stories opened in an earlier cycle of the corpus {older}, listing articles of two"
        f" cycles {spanning}, listing one ANT article twice (a live story rewritten) {twice}"
    )


def counted(metric: Any) -> str:
    """A labelled counter's values so far, label=value (this process's registry)."""
    return "  ".join(
        f"{s.labels[next(iter(s.labels))]} {s.value:.0f}"
        for m in metric.collect()
        for s in m.samples
        if s.name.endswith("_total")
    )


def sizes(stage: story_stage.StoryStage, emitted: EmittedIds) -> dict[str, tuple[int, int]]:
    def encoded(x: Any) -> Any:
        # a packed centroid, `first` or copies (streams/stories/cluster.py) as the table has it
        return x.__json__() if hasattr(x, "__json__") else list(x)

    def dumped(x: Any) -> int:
        return len(orjson.dumps(x, default=encoded))

    idx = stage.index
    return {
        "alerts table": (len(stage.alerts), dumped(stage.alerts)),
        "stories (memory)": (len(stage.stories.live), dumped(stage.stories.live)),
        "stories (table)": (len(stage.stories.table), dumped(stage.stories.table)),
        "stories kept": (len(stage.stories.kept), dumped(sorted(stage.stories.kept))),
        "index postings": (sum(map(len, idx.postings.values())), dumped(idx.postings)),
        "index seen": (len(idx.seen), dumped(idx.seen)),
        "index members": (len(idx.members), dumped(idx.members)),
        "docfreq terms": (len(stage.df.counts), dumped(stage.df.counts)),
        "docfreq table": (len(stage.docfreq), dumped(stage.docfreq)),
        "emitted ids": (len(emitted), 8 * len(emitted)),
    }


def worker_settings(args: argparse.Namespace) -> Settings:
    """The settings the paced worker of `bench/pipeline.py --rss-only` runs with: its `Clock`
    (the story window, the sweep and the emitted ids' horizon divided by the compression) put
    into the environment, as the bench puts it into the worker's, and read by the one settings
    object. Prints what the clock scaled."""
    import pipeline as pipeline_bench  # bench/pipeline.py: its Clock, not a copy of it

    clock = pipeline_bench.Clock.of(args.feed_per_day, args.worker_pace, Settings())
    os.environ.update(clock.env())
    print(clock.describe())
    return Settings()


def feed_tags(feed_marks: str) -> list[int]:
    """Where bench/pipeline.py's paced feed starts a new `throughput` call (one per mark of
    its --rss), each with its own tag in the articles' ids and outlets."""
    return sorted(int(m) for m in feed_marks.split(",") if m)


def paced_raw(article: dict[str, Any], i: int, cycled: int, tag: str) -> dict[str, Any]:
    """Article `i` exactly as bench/pipeline.py's `messages()` sends it (its id and outlet
    carry the tag of the `throughput` call that sent it; the outlet also the cycle)."""
    out = dict(article)
    out["id"] = f"{tag}-{i}-{article['id']}"
    out["source"] = f"{article['source']}-{tag}-{i // cycled}"
    return out


async def run(args: argparse.Namespace) -> None:
    settings = worker_settings(args) if args.worker_pace else Settings()
    pipe = Pipeline.load(settings)
    started = time.perf_counter()
    # The raw articles as JSON bytes, decoded again for each article as the worker decodes each
    # message: orjson.dumps keeps a UTF-8 copy in every non-ASCII str it encodes, so dumping
    # the same decoded bodies again would grow this process by the corpus's UTF-8 (56 MB from
    # article 10,000 to 31,525) as the first cycle goes by: a bench artifact, not the worker's.
    # Copied to their exact size: orjson's output keeps the capacity it grew to (~16 KB of
    # heap for a 2 KB message), harmless for the worker's short-lived messages, 1 GB here.
    raws: list[bytes] = []
    base: list[tuple[dict[str, Any], list[Any]]] = []
    if args.pipeline:
        raws = [bytes(memoryview(orjson.dumps(raw))) for raw in ant_raw(ANT, args.base)]
        print(f"{len(raws)} ANT articles read; each runs the whole pipeline")
    else:
        base = prepared(pipe, args.base)
        print(f"{len(base)} ANT articles prepared ({time.perf_counter() - started:.0f} s)")
    cycled = len(raws) or len(base)
    stage = story_stage.StoryStage.of(
        settings,
        topic=None,
        stories=StoryStore({}),
        alerts={},
        docfreq={},
        max_live=args.max_live,
    )
    emitted = EmittedIds({}, horizon_seconds=settings.alert_dedup_days * 86400)
    partitions = list(range(settings.topic_partitions))
    emitted.reassigned(partitions if args.worker_pace else [0])
    emitted.stale = False
    trends = None
    if args.worker_pace:  # the worker's trend stage too, on a dict for its table
        trends = trend_stage.TrendStage(
            topic="trends",
            table=CountingTable(),
            params=trend_stage.trend_params(settings),
            detector=TrendDetector(trend_stage.trend_params(settings)),
            journal=Journal(ratio=settings.trends_journal_ratio),
        )
    ctx = SimpleNamespace(topics=SimpleNamespace(alerts="alerts"), stories=stage, trends=trends)
    partitioner = DefaultPartitioner()
    tags = feed_tags(args.feed_marks)

    async def delivered(messages: Any) -> list[Any]:
        for m in messages:  # the trend records (and alerts): their digest, to compare trees
            if m.topic == "trends":
                SENT[0] += 1
                SENT[1].update(m.key)
                SENT[1].update(m.value)
        return []

    marks = sorted(int(m) for m in args.marks.split(","))
    window = settings.story_window_hours * 3600
    print(
        f"clock: {args.rate:g} articles per simulated second ({args.rate * 86400:,.0f} a day);"
        f" story window {settings.story_window_hours:g} h = {window * args.rate:,.0f} articles;"
        f" prune sweep every {stage.prune_every:g} s = {stage.prune_every * args.rate:,.0f}"
        f" articles; the corpus comes round every {cycled:,} articles"
    )
    t0 = args.t0 or datetime.now(UTC).timestamp()
    first: tracemalloc.Snapshot | None = None
    if args.tracemalloc and not args.trace_from:
        tracemalloc.start(args.frames)
        first = tracemalloc.take_snapshot()
    pools_before: pools.Pools | None = None
    types_before: Any = None
    heap_before: dict[str, float] | None = None
    structures_before: dict[str, Row] | None = None
    print(f"{'articles':>9} {'RSS MB':>7}  structure: items / orjson MB")
    spent, agent_gc, done, gc_spent, gc_began = 0.0, 0.0, 0, [0.0], [0.0]

    def collecting(phase: str, info: dict[str, int]) -> None:  # CPU time of the collector
        if phase == "start":
            gc_began[0] = time.process_time()
        else:
            gc_spent[0] += time.process_time() - gc_began[0]

    gc.callbacks.append(collecting)
    with (
        patch.object(story_stage, "deliver", delivered),
        patch.object(trend_stage, "deliver", delivered),
    ):
        for i in range(marks[-1]):
            cycle = i // cycled
            now = t0 + i / args.rate
            stamp = datetime.fromtimestamp(now, UTC)
            partition = 0
            if args.pipeline:  # the hot stage's work too, on the message the worker would get
                if args.worker_pace:  # as bench/pipeline.py sends it, to its key's partition
                    tag = f"tp{sum(m <= i for m in tags):04x}"  # 6 characters, as uuid4().hex[:4]
                    raw = paced_raw(orjson.loads(raws[i % cycled]), i, cycled, tag)
                    partition = partitioner(raw["id"].encode(), partitions, partitions)
                else:
                    raw = renamed(orjson.loads(raws[i % cycled]), i, cycle)
                try:
                    art = pipe.enriched(orjson.dumps(raw), stamp)
                except Exception:  # what the worker dead-letters
                    continue
                hits = pipe.match(art)
            else:
                enriched, hits = base[i % cycled]
                art = renamed(enriched, i, cycle)
                art["ingested_at"] = stamp.isoformat()
            new = [a for a in pipe.alerts(art, hits, stamp) if not emitted.seen(a["id"])]
            _, value = story_stage.candidate(art, new)
            if new:
                emitted.remember((a["id"] for a in new), partition, now)
            emitted.flush(partition, now)
            began, collected = time.process_time(), gc_spent[0]
            story_stage.refresh(stage, now)
            story_stage.prune(stage, now)
            await story_stage.process(ctx, stage, value)  # type: ignore[arg-type]
            if trends is not None:
                trend_stage.flush(ctx)  # type: ignore[arg-type]
            story_stage.snapshot(stage, now)
            spent += time.process_time() - began
            agent_gc += gc_spent[0] - collected
            if i + 1 in marks:
                parts = "  ".join(
                    f"{name}: {n} / {b / 1e6:.1f}" for name, (n, b) in sizes(stage, emitted).items()
                )
                print(f"{i + 1:>9} {rss_mb():7.0f}  {parts}", flush=True)
                n = i + 1 - done
                print(
                    f"          story agent CPU {1000 * spent / n:.3f} ms/article since the last"
                    f" mark, of which garbage collection {1000 * agent_gc / n:.3f} ms",
                    flush=True,
                )
                spent, agent_gc, done = 0.0, 0.0, i + 1
                print(
                    f"          simulated ingest time {(now - t0) / 3600:.1f} h; assignments:"
                    f" {counted(metrics.STORY_ASSIGNMENTS)}; stories closed:"
                    f" {counted(metrics.STORIES_CLOSED)}",
                    flush=True,
                )
                print(f"          {rewrites(stage.stories.live.values(), cycled, cycle)}")
                if trends is not None:
                    print(f"          {trend_line(trends, i + 1)}")
                if args.pipeline:
                    print("          memos: " + "  ".join(f"{k} {v}" for k, v in memos().items()))
                    print(f"          {miss_line(i + 1)}")
                    print(f"          memo entries / MB: {memo_sizes()}")
                if args.trim:
                    print(
                        f"          RSS after gc.collect() + malloc_trim(0): {trimmed_rss():.0f} MB"
                    )
                if args.deep:
                    held = (stage.stories.live, stage.index.postings, stage.df.counts)
                    print(f"          stories + index + docfreq: {deep_mb(held):.1f} MB of objects")
                    fields = story_fields(stage.stories.live.values())
                    print(
                        "          of the stories: " + "  ".join(f"{k} {v:.1f}" for k, v in fields)
                    )
                    for line in story_ages(stage.stories.live.values()):
                        print(f"          {line}")
                if args.pools:  # after a collection: what is live, not garbage cycles
                    gc.collect()
                    now_pools, now_types = pools.read(), pools.types()
                    since = "since the previous mark" if pools_before else "at the first mark"
                    now_heap = pools.glibc_heap()
                    print(f"          {pools.heap_line(now_heap, heap_before)}")
                    heap_before = now_heap
                    print(f"          pymalloc {since}:")
                    for line in pools.summary(now_pools, pools_before)[: args.top + 2]:
                        print(f"            {line}")
                    print(f"          GC-tracked objects by type ({since}):")
                    for line in pools.type_lines(now_types, types_before, args.top):
                        print(f"            {line}")
                    pools_before, types_before = now_pools, now_types
                if args.structures:
                    if args.worker_pace:
                        now_structures = structures(stage, emitted, trends)
                    else:
                        now_structures = structures(stage)
                    since = "since the previous mark" if structures_before else "at the first mark"
                    print(f"          structures (Δ {since}):")
                    for line in structure_lines(now_structures, structures_before):
                        print(f"            {line}")
                    structures_before = now_structures
                if args.dups:
                    print("          word strings held twice (equal values, distinct objects):")
                    for line in pools.duplicates(string_holders(stage)):
                        print(f"            {line}")
                if args.tracemalloc and first is not None:
                    gc.collect()
                    now_snap = tracemalloc.take_snapshot()
                    for group in ("filename", "lineno", "traceback"):
                        if group == "traceback" and args.frames < 2:
                            continue
                        for s in now_snap.compare_to(first, group)[: args.top]:
                            where = s.traceback[0]
                            at = f":{where.lineno}" if group != "filename" else ""
                            via = ""
                            if group == "traceback":  # the callers, innermost first
                                via = " < " + " < ".join(
                                    f"{Path(f.filename).name}:{f.lineno}" for f in s.traceback[1:]
                                )
                            print(
                                f"          {s.size_diff / 1e6:8.1f} MB {s.count_diff:>9} blocks"
                                f"  {where.filename}{at}{via}"
                            )
                    if args.since_mark:
                        first = now_snap
                if args.tracemalloc and args.trace_from == i + 1:  # traced from this mark on
                    gc.collect()
                    tracemalloc.start(args.frames)
                    first = tracemalloc.take_snapshot()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--marks", default="10000,40000,100000")
    parser.add_argument("--base", type=int, default=10**9, help="ANT articles cycled (all)")
    parser.add_argument("--rate", type=float, default=200.0, help="articles per simulated second")
    parser.add_argument("--max-live", type=int, default=0, help="RASID_STORY_MAX_LIVE (setting)")
    parser.add_argument(
        "--per-day",
        type=float,
        default=0.0,
        help="a real feed of this many articles a day: --rate per-day/86400 (48 h hold 2x)",
    )
    parser.add_argument(
        "--snapshot-every",
        type=float,
        default=story_stage.SNAPSHOT_EVERY,
        help="simulated seconds between document-frequency snapshots (the worker: 30; they"
        " overwrite fixed keys, so only the CPU depends on it: at a real feed's rate 30 s is"
        " every 2 articles, which makes the simulation slow, not the worker)",
    )
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--top", type=int, default=12, help="--tracemalloc: lines per grouping")
    parser.add_argument("--frames", type=int, default=1, help="--tracemalloc: frames kept")
    parser.add_argument(
        "--trace-from",
        type=int,
        default=0,
        help="--tracemalloc: start tracing at this mark (10x faster before it), not at the start",
    )
    parser.add_argument(
        "--since-mark",
        action="store_true",
        help="--tracemalloc: what was allocated and is still live since the previous mark",
    )
    parser.add_argument(
        "--dups",
        action="store_true",
        help="and the long-lived strings held as two objects of one value (memos, terms)",
    )
    parser.add_argument(
        "--pools",
        action="store_true",
        help="and pymalloc's arenas, pools and blocks per size class, and the GC-tracked"
        " objects by type, with their change since the previous mark (bench/pools.py)",
    )
    parser.add_argument(
        "--structures",
        action="store_true",
        help="and every memo, cache and story structure: entries, cap, MB, change since the"
        " previous mark",
    )
    parser.add_argument(
        "--pipeline", action="store_true", help="parse, enrich and match every article too"
    )
    parser.add_argument("--trim", action="store_true", help="and the RSS after malloc_trim(0)")
    parser.add_argument(
        "--worker-pace",
        type=float,
        default=0.0,
        help="the worker of `bench/pipeline.py --rss-only` fed at this pace (its --rss-pace,"
        " e.g. 100): its clock, scaled settings, ids, outlets, partitions, trend stage (implies"
        " --pipeline; --rate and --per-day are ignored)",
    )
    parser.add_argument(
        "--feed-per-day",
        type=float,
        default=5000.0,
        help="--worker-pace: bench/pipeline.py's --feed-per-day",
    )
    parser.add_argument(
        "--feed-marks",
        default="10000,40000,100000",
        help="--worker-pace: bench/pipeline.py's --rss marks (each starts a new tag in the"
        " articles' ids and outlets)",
    )
    parser.add_argument("--deep", action="store_true", help="and the Python objects' bytes")
    parser.add_argument(
        "--t0",
        type=float,
        default=0.0,
        help="the simulated clock's start, seconds since the epoch (default: now); two trees"
        " given the same one write the same trend table bytes (its digest) if they agree",
    )
    args = parser.parse_args()
    if args.per_day:
        args.rate = args.per_day / 86400
    if args.worker_pace:
        args.rate, args.pipeline = args.worker_pace, True
    story_stage.SNAPSHOT_EVERY = args.snapshot_every
    if args.pipeline or args.worker_pace:
        count_misses()
    if not ANT.exists():
        print(f"skipped: {ANT} is absent")
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
