"""What the worker's state holds after N articles: the story stage (and the hot stage's emitted
ids) driven offline, with no broker, the way the worker drives them.

    .venv/bin/python bench/state_growth.py [--marks 10000,40000,100000] [--base N]
        [--rate 200] [--tracemalloc [--frames N] [--since-mark] [--trace-from N]] [--deep]
        [--pipeline] [--trim] [--pools] [--dups] [--structures]

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
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pools
from corpora import ANT, ant_raw

from streams import metrics
from streams.classify import topic_model
from streams.settings import Settings
from streams.stories.cluster import Centroid
from streams.text.memo import WordMemo
from streams.worker import heap, story_stage
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


def structures(stage: story_stage.StoryStage) -> dict[str, tuple[int, int, float]]:
    """name → (entries, cap (0: none), MB of Python objects reachable from it, each object
    once per structure; an lru_cache's bytes are not reachable, so 0 there)."""
    import importlib

    from streams.classify import places
    from streams.rules import spec
    from streams.stories import features
    from streams.text import arabic
    from streams.text.memo import Memo

    stems = importlib.import_module("streams.rules.stems")
    model = topic_model.default_model()
    known = {
        id(features._terms): "story terms (features._terms)",
        id(features._places): "story places (features._places)",
        id(spec._PHRASES): "rule phrases (spec._PHRASES)",
    }
    if model is not None:
        known[id(model._words)] = "topic words (TopicModel._words)"
        known[id(model._forms)] = "topic forms (TopicModel._forms)"
    out: dict[str, tuple[int, int, float]] = {}
    for n, memo in enumerate(obj for obj in gc.get_objects() if isinstance(obj, Memo)):
        name = known.get(id(memo), f"{type(memo).__name__}#{n} (phrase starts)")
        out[name] = (len(memo), memo.cap, deep_mb(memo))
    for name, fn in (
        *((f"lru topic_model.{name}", fn) for name, fn in TOPIC_LRUS),
        ("lru places.word_variants", places.word_variants),
        ("lru rules.stems", stems.stems),
        ("lru arabic._fold_char", arabic._fold_char),
    ):
        size, cap = _lru(fn)
        out[name] = (size, cap, 0.0)
    df = stage.df
    out["DocFreq.counts"] = (len(df.counts), df.max_terms, deep_mb(df.counts))
    postings = stage.index.postings
    out["index postings (terms)"] = (len(postings), 0, deep_mb(postings))
    out["index seen"] = (len(stage.index.seen), 0, deep_mb(stage.index.seen))
    out["live stories"] = (len(stage.stories.live), stage.max_live, deep_mb(stage.stories.live))
    return out


def structure_lines(
    now: dict[str, tuple[int, int, float]], before: dict[str, tuple[int, int, float]] | None
) -> list[str]:
    lines = [f"{'structure':<32} {'entries':>9} {'cap':>9} {'MB':>7} {'Δ entries':>10} {'Δ MB':>7}"]
    for name, (n, cap, mb) in now.items():
        n0, _, mb0 = (before or {}).get(name, (0, 0, 0.0))
        lines.append(
            f"{name:<32} {n:>9,} {cap or '-':>9} {mb:>7.1f} {n - n0:>+10,} {mb - mb0:>+7.1f}"
        )
    return lines


def trimmed_rss() -> float:
    """RSS after a full collection and glibc's malloc_trim(0) (0 when glibc is absent)."""
    gc.collect()
    if heap.trim() is None:
        return 0.0
    return rss_mb()


def deep_mb(root: Any) -> float:
    """Bytes of the Python objects reachable from `root` through dicts, lists and tuples, each
    object counted once (a string shared by two stories counts once)."""
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
        elif isinstance(x, list | tuple):
            stack.extend(x)
        elif isinstance(x, Centroid):  # its term → position dict and its weights' array
            stack.extend((x.slots, x.weights))
    return total / 1e6


def story_fields(stories: Any) -> list[tuple[str, float]]:
    """MB of Python objects per field of the stories' states, heaviest first (a term string
    shared by two stories' centroids counts once per field)."""
    by_field: dict[str, list[Any]] = {}
    for story in stories:
        for key, value in story.items():
            by_field.setdefault(key, []).append(value)
    out = [(key, deep_mb(values)) for key, values in by_field.items()]
    return sorted(out, key=lambda kv: -kv[1])


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
        return x.__json__() if isinstance(x, Centroid) else list(x)

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


async def run(args: argparse.Namespace) -> None:
    settings = Settings()
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
    emitted.reassigned([0])
    emitted.stale = False
    ctx = SimpleNamespace(topics=SimpleNamespace(alerts="alerts"), stories=stage, trends=None)

    async def delivered(messages: Any) -> list[Any]:
        return []

    marks = sorted(int(m) for m in args.marks.split(","))
    window = settings.story_window_hours * 3600
    print(
        f"clock: {args.rate:g} articles per simulated second ({args.rate * 86400:,.0f} a day);"
        f" story window {settings.story_window_hours:g} h = {window * args.rate:,.0f} articles;"
        f" prune sweep every {stage.prune_every:g} s = {stage.prune_every * args.rate:,.0f}"
        f" articles; the corpus comes round every {cycled:,} articles"
    )
    t0 = datetime.now(UTC).timestamp()
    first: tracemalloc.Snapshot | None = None
    if args.tracemalloc and not args.trace_from:
        tracemalloc.start(args.frames)
        first = tracemalloc.take_snapshot()
    pools_before: pools.Pools | None = None
    types_before: Any = None
    heap_before: dict[str, float] | None = None
    structures_before: dict[str, tuple[int, int, float]] | None = None
    print(f"{'articles':>9} {'RSS MB':>7}  structure: items / orjson MB")
    spent, agent_gc, done, gc_spent, gc_began = 0.0, 0.0, 0, [0.0], [0.0]

    def collecting(phase: str, info: dict[str, int]) -> None:  # CPU time of the collector
        if phase == "start":
            gc_began[0] = time.process_time()
        else:
            gc_spent[0] += time.process_time() - gc_began[0]

    gc.callbacks.append(collecting)
    with patch.object(story_stage, "deliver", delivered):
        for i in range(marks[-1]):
            cycle = i // cycled
            now = t0 + i / args.rate
            stamp = datetime.fromtimestamp(now, UTC)
            if args.pipeline:  # the hot stage's work too, on the message the worker would get
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
                emitted.remember((a["id"] for a in new), 0, now)
            emitted.flush(0, now)
            began, collected = time.process_time(), gc_spent[0]
            story_stage.refresh(stage, now)
            story_stage.prune(stage, now)
            await story_stage.process(ctx, stage, value)  # type: ignore[arg-type]
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
                if args.pipeline:
                    print("          memos: " + "  ".join(f"{k} {v}" for k, v in memos().items()))
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
    parser.add_argument("--deep", action="store_true", help="and the Python objects' bytes")
    args = parser.parse_args()
    if args.per_day:
        args.rate = args.per_day / 86400
    story_stage.SNAPSHOT_EVERY = args.snapshot_every
    if not ANT.exists():
        print(f"skipped: {ANT} is absent")
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
