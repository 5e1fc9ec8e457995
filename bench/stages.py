#!/usr/bin/env python3
"""CPU cost of each pipeline stage per article, offline (no Kafka): what bounds one worker.

Usage: .venv/bin/python bench/stages.py [--limit N] [--short | --with-short] [DATA]
Profile it:  .venv/bin/pyinstrument -r text bench/stages.py --limit 1000

DATA defaults to ../shared/data/ant/ant_multisource.jsonl.gz (skipped cleanly if absent);
with --short, to the ASND short posts (../shared/data/asnd/asnd_train_dev.jsonl: tweets and
breaking lines, ~120 characters, body only), where per-article overhead dominates; with
--with-short, the articles and then as many short posts, in one run (issue 13 asks for both).
Prints CPU milliseconds per article (thread time: figures hold on a shared machine) for parse,
enrich, match and alerts (the core), the hot stage's own hand-off (enriched article encoded,
story candidate built, encoded and packed) and the story stage's decode and check of the
packed candidates. Every article is run once untimed first, so the figures are warm (memos and
caches filled, as in a running worker); the best of --passes passes is kept per stage.

With --paired BASE (issue 13, round nine), one process instead: the core of this tree against
another tree's `decode_raw` (streams/validation.py) and topic code (streams/classify/topics.py
and topic_model.py, loaded beside this tree's under other module names, as
bench/topics_speed.py --paired does; everything else is this tree's), each article through
both in turn, in alternating order, parse, enrich, match and alerts timed per side: on a
loaded machine the fairest comparison of those files' share of the core (both sides see the
same load and caches at the same moment). The enriched articles are compared too (a
difference is printed).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpora import ASND as DEFAULT_SHORT  # noqa: E402
from bench.corpora import asnd_raw as read_short  # noqa: E402
from bench.pipeline import DEFAULT_DATA, read_articles  # noqa: E402
from streams.errors import BadInput  # noqa: E402
from streams.rules import RuleSet, parse_document  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.times import utcnow  # noqa: E402
from streams.worker import story_stage  # noqa: E402
from streams.worker.batches import Packer  # noqa: E402
from streams.worker.pipeline import Pipeline  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", nargs="?", type=Path)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--short", action="store_true", help="ASND short posts (~120 chars)")
    parser.add_argument(
        "--with-short", action="store_true", help="the articles, then as many ASND short posts"
    )
    parser.add_argument("--passes", type=int, default=3, help="timed passes (best kept)")
    parser.add_argument("--paired", type=Path, help="a tree to compare with, in one process")
    parser.add_argument(
        "--generated",
        help="also time the core with generated packs of these sizes, e.g. 10,10000 "
        "(bench/match.py), in place of the default pack",
    )
    args = parser.parse_args()
    runs = [args.short] if not args.with_short else [False, True]
    pipe = Pipeline.load(Settings())  # one worker: with --with-short, it sees both in turn
    for short in runs:
        data = args.data if args.data and not (short and args.with_short) else None
        data = data or (DEFAULT_SHORT if short else DEFAULT_DATA)
        if args.paired:
            paired(pipe, args, data, short)
        else:
            measure(pipe, args, data, short)
    return 0


def _swaps(base: Path) -> dict[str, tuple[object, object]]:
    """(module attribute → (base's function, this tree's)) for the parts `--paired` swaps."""
    import streams.classify.enrich as enrich_module
    import streams.worker.pipeline as pipeline_module
    from bench.topics_speed import _load

    where = base / "streams"
    model = where / "classify" / "topic_model.py"
    _load("streams.classify._base_topic_model", model, model.read_text("utf-8"))
    source = (where / "classify" / "topics.py").read_text("utf-8")
    source = source.replace(
        "from streams.classify.topic_model import", "from streams.classify._base_topic_model import"
    )
    topics = _load("streams.classify._base_topics", where / "classify" / "topics.py", source)
    validation = where / "validation.py"
    checks = _load("streams._base_validation", validation, validation.read_text("utf-8"))
    return {
        "enrich.classify_topics": (topics.classify_topics, enrich_module.classify_topics),
        "pipeline.decode_raw": (checks.decode_raw, pipeline_module.decode_raw),
    }


def paired(pipe: Pipeline, args: argparse.Namespace, data: Path, short: bool) -> None:
    """`measure` of this tree against `args.paired`'s swapped parts, article by article."""
    import streams.classify.enrich as enrich_module
    import streams.worker.pipeline as pipeline_module

    if not data.exists():
        print(f"skipped: {data} not found")
        return
    swaps = _swaps(args.paired)
    modules = {"enrich": enrich_module, "pipeline": pipeline_module}

    def use(side: int) -> None:
        for name, functions in swaps.items():
            module, attribute = name.split(".")
            setattr(modules[module], attribute, functions[side])

    articles = read_short(data, args.limit) if short else read_articles(data, args.limit)
    now = utcnow()
    values = [orjson.dumps(a) for a in articles]
    values = [v for v in values if _parses(pipe, v, now)]
    for side in (0, 1):  # warm both sides' memos
        use(side)
        for value in values:
            pipe.match(pipe.enrich(*pipe.parse(value, now), now))
    names = ("base", "this tree")
    best: list[dict[str, float]] = [{}, {}]
    differ = 0
    for n in range(args.passes):
        spent = [dict.fromkeys(CORE, 0.0), dict.fromkeys(CORE, 0.0)]
        for k, value in enumerate(values):
            out = []
            for side in (0, 1) if k % 2 else (1, 0):
                use(side)
                enriched, _ = timed_core(pipe, value, now, spent[side])
                out.append(enriched)
            differ += n == 0 and out[0] != out[1]
        for side in (0, 1):
            for stage, secs in spent[side].items():
                best[side][stage] = min(best[side].get(stage, secs), secs)
        use(1)
        per = 1000 / max(1, len(values))
        line = "; ".join(
            f"{names[side]}: core {sum(spent[side].values()) * per:.3f} ms ("
            + ", ".join(f"{stage} {secs * per:.3f}" for stage, secs in spent[side].items())
            + ")"
            for side in (0, 1)
        )
        kind = "short posts" if short else "articles"
        print(f"  {len(values)} {kind}, pass {n + 1}, CPU per article: {line}", flush=True)
    print(f"  enriched articles that differ: {differ} of {len(values)}")


def measure(pipe: Pipeline, args: argparse.Namespace, data: Path, short: bool) -> None:
    """Print the CPU per article of each stage over `data` (see the module docstring)."""
    if not data.exists():
        print(f"skipped: {data} not found")
        return
    articles = read_short(data, args.limit) if short else read_articles(data, args.limit)
    values = [orjson.dumps(a) for a in articles]
    default_rules = pipe.rules
    now = utcnow()
    for value in values:  # warm: memos, stem caches, the automaton, as in a running worker
        try:
            raw, parsed = pipe.parse(value, now)
        except BadInput:
            continue
        pipe.match(pipe.enrich(raw, parsed, now))
    values = [v for v in values if _parses(pipe, v, now)]
    packs: dict[str, RuleSet] = {"default pack": default_rules}
    if args.generated:  # bench/match.py's packs, from the words of other ANT articles
        from bench.match import generate, vocabulary

        others = read_articles(DEFAULT_DATA if short else data, args.limit + 5000)[args.limit :]
        words = vocabulary([{"title": a.get("title", ""), "body": a["body"]} for a in others])
        for size in (int(x) for x in args.generated.split(",")):
            packs[f"{size} generated rules"] = RuleSet(parse_document(generate(size, *words)).specs)
    chars = sum(len(orjson.loads(v)["body"]) for v in values) // max(1, len(values))
    kind = "short posts" if short else "articles"
    print(f"{len(values)} {kind} ({chars} chars avg), CPU per article, best of {args.passes}:")
    for name, rules in packs.items():
        pipe.rules = rules
        one_pass(pipe, values, now)  # warm this pack's memos
        best: dict[str, float] = {}
        for _ in range(args.passes):  # CPU time (the machine may be shared), best pass kept
            spent, alerts, _ = one_pass(pipe, values, now)
            best = {k: min(v, best.get(k, v)) for k, v in spent.items()}
        per = ", ".join(f"{k} {v / len(values) * 1000:.3f} ms" for k, v in best.items())
        core = sum(v for k, v in best.items() if k in CORE) / len(values) * 1000
        print(
            f"  {name}: {per}; core (parse + enrich + match + alerts) {core:.3f} ms; "
            f"{alerts} alerts"
        )
    pipe.rules = default_rules


CORE = ("parse", "enrich", "match", "alerts")


def timed_core(
    pipe: Pipeline, value: bytes, now: datetime, spent: dict[str, float]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One article through parse → enrich → match → alerts, each stage's thread time added to
    `spent`; returns the enriched article and its alerts."""
    clock = time.thread_time
    t0 = clock()
    raw, parsed = pipe.parse(value, now)
    t1 = clock()
    enriched = pipe.enrich(raw, parsed, now)
    t2 = clock()
    hits = pipe.match(enriched)
    t3 = clock()
    found = pipe.alerts(enriched, hits, now)
    t4 = clock()
    for stage, secs in zip(CORE, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
        spent[stage] += secs
    return enriched, found


def one_pass(
    pipe: Pipeline, values: list[bytes], now: datetime
) -> tuple[dict[str, float], int, float]:
    """CPU seconds per stage over all values; also the hot stage's own hand-off (the enriched
    article encoded for other readers, the story candidate built and encoded, packed) and the
    story stage's decode and check of the packed candidates."""
    spent = dict.fromkeys((*CORE, "hand-off", "candidates in"), 0.0)
    clock = time.thread_time
    alerts = 0
    items: list[tuple[int, tuple[bytes, bytes]]] = []
    started = clock()
    for value in values:
        enriched, found = timed_core(pipe, value, now, spent)
        t4 = clock()
        orjson.dumps(enriched)
        items.append((len(items), story_stage.candidate(enriched, found)))
        spent["hand-off"] += clock() - t4
        alerts += len(found)
    t0 = clock()
    packer = Packer(None, story_stage.BATCH_HEAD, story_stage.BATCH_TAIL, 20, 512 * 1024)
    for i in range(0, len(items), 20):  # batches of 20 raw articles, as the worker takes them
        for message, _ in packer.pack(items[i : i + 20]):
            batch, _ = story_stage.candidates(message.value)
            for item in batch:
                story_stage._decode(item)
    spent["candidates in"] = clock() - t0
    return spent, alerts, clock() - started


def _parses(pipe: Pipeline, value: bytes, now: datetime) -> bool:
    try:
        pipe.parse(value, now)
    except BadInput:
        return False  # dead-lettered: not an article to time
    return True


if __name__ == "__main__":
    sys.exit(main())
