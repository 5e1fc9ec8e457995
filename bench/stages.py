#!/usr/bin/env python3
"""CPU cost of each pipeline stage per article, offline (no Kafka): what bounds one worker.

Usage: .venv/bin/python bench/stages.py [--limit N] [--short | --with-short] [--paired TREE |
       --stage-major N] [DATA]
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

With --paired BASE, one process instead: the core of this tree against another tree's whole
core (BASE/streams, loaded beside this tree's under another package name: its own memos,
automaton and patterns; issue 13, round fifteen: before, only BASE's `decode_raw` and topic
code were swapped in), each article through both in turn, in alternating order, parse,
enrich, match and alerts timed per side: on a loaded machine the fairest comparison of two
trees' cores (both sides see the same load at the same moment). The enriched articles and
alerts are compared too (the count that differ is printed: 0 for a change that keeps the
outputs).

With --stage-major N (round fifteen), the core and the hand-off article by article against
stage by stage over chunks of N articles, as the worker's hot agent runs a batch of N
(`RASID_BATCH_MAX_MESSAGES`, 20): `Pipeline.core_many` (parse all, then `enrich_many`, then
match each, the chunk's tokens held by `streams.text.arabic.holding_tokens`), then alerts and
the hand-off per article; passes alternating in one process; outputs compared.
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
        "--stage-major",
        type=int,
        metavar="N",
        help="also time the core stage by stage over chunks of N articles (parse N, enrich N, "
        "match N, …), alternating with article by article",
    )
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
        elif args.stage_major:
            stage_major(pipe, args, data, short)
        else:
            measure(pipe, args, data, short)
    return 0


_BASE_PACKAGE = "_base_streams"


def base_pipeline(base: Path) -> Any:
    """A `Pipeline` of another tree's whole `streams` package, loaded beside this tree's in
    this process: the package is copied (symlinks followed, so its data and schemas come
    along) to a temporary directory as `_base_streams`, its imports of `streams` rewritten.
    Its memos, automaton registry and compiled patterns are its own."""
    import atexit
    import importlib
    import re
    import shutil
    import tempfile

    where = Path(tempfile.mkdtemp(prefix="rasid-paired-"))
    atexit.register(shutil.rmtree, where, True)  # ~4 MB a run: not left behind in /tmp
    package = where / _BASE_PACKAGE
    shutil.copytree(base / "streams", package, ignore=shutil.ignore_patterns("__pycache__"))
    own = re.compile(r"(?<![\w.])streams(?=[.\s]|\"\))")  # streams.x, import streams, ("streams")
    for path in package.rglob("*.py"):
        text = path.read_text("utf-8")
        path.write_text(own.sub(_BASE_PACKAGE, text), "utf-8")
    sys.path.insert(0, str(where))
    pipeline = importlib.import_module(f"{_BASE_PACKAGE}.worker.pipeline")
    settings = importlib.import_module(f"{_BASE_PACKAGE}.settings")
    return pipeline.Pipeline.load(settings.Settings())


def paired(pipe: Pipeline, args: argparse.Namespace, data: Path, short: bool) -> None:
    """`measure` of this tree against `args.paired`'s, article by article (module docstring)."""
    if not data.exists():
        print(f"skipped: {data} not found")
        return
    global _BASE
    if _BASE is None:
        _BASE = base_pipeline(args.paired)
    pipes = (_BASE, pipe)
    articles = read_short(data, args.limit) if short else read_articles(data, args.limit)
    now = utcnow()
    values = [orjson.dumps(a) for a in articles]
    values = [v for v in values if _parses(pipe, v, now) and _base_parses(_BASE, v, now)]
    for side in (0, 1):  # warm both sides' memos
        for value in values:
            side_pipe = pipes[side]
            side_pipe.match(side_pipe.enrich(*side_pipe.parse(value, now), now))
    names = ("base", "this tree")
    best: list[dict[str, float]] = [{}, {}]
    differ = 0
    for n in range(args.passes):
        spent = [dict.fromkeys(CORE, 0.0), dict.fromkeys(CORE, 0.0)]
        for k, value in enumerate(values):
            out = []
            for side in (0, 1) if k % 2 else (1, 0):
                enriched, found = timed_core(pipes[side], value, now, spent[side])
                out.append((enriched, found))
            differ += n == 0 and out[0] != out[1]
        for side in (0, 1):
            for stage, secs in spent[side].items():
                best[side][stage] = min(best[side].get(stage, secs), secs)
        line = "; ".join(per_article(names[side], spent[side], len(values)) for side in (0, 1))
        kind = "short posts" if short else "articles"
        print(f"  {len(values)} {kind}, pass {n + 1}, CPU per article: {line}", flush=True)
    line = "; ".join(per_article(names[side], best[side], len(values)) for side in (0, 1))
    print(f"  best of {args.passes} passes, per stage: {line}")
    print(f"  enriched articles (and alerts) that differ: {differ} of {len(values)}")


_BASE: Any = None


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


def stage_major(pipe: Pipeline, args: argparse.Namespace, data: Path, short: bool) -> None:
    """The core and the hand-off article by article (as the worker runs them) against stage by
    stage over chunks of `args.stage_major` articles (parse every article of the chunk, then
    `Pipeline.enrich_many`: the regions of all, then their topics; then match, alerts and the
    hand-off), the chunk's tokens held (`streams.text.arabic.holding_tokens`: each field
    tokenised once in both orders). Passes alternate, the best pass is kept per stage; the
    outputs of both orders are compared (issue 13, round fifteen: each stage's code and tables
    stay in the CPU caches for a chunk instead of pushing each other out per article)."""
    from streams.text.arabic import holding_tokens

    if not data.exists():
        print(f"skipped: {data} not found")
        return
    chunk = args.stage_major
    articles = read_short(data, args.limit) if short else read_articles(data, args.limit)
    now = utcnow()
    values = [v for v in (orjson.dumps(a) for a in articles) if _parses(pipe, v, now)]
    clock = time.thread_time
    stages = (*CORE, "hand-off")

    def by_article() -> tuple[dict[str, float], list[Any]]:
        spent = dict.fromkeys(stages, 0.0)
        out = []
        for value in values:
            enriched, found = timed_core(pipe, value, now, spent)
            t0 = clock()
            out.append((orjson.dumps(enriched), story_stage.candidate(enriched, found)))
            spent["hand-off"] += clock() - t0
        return spent, out

    def by_stage() -> tuple[dict[str, float], list[Any]]:
        # As the worker's hot agent runs a batch: `Pipeline.core_many` (parse all, enrich all,
        # match each, the tokens held), then alerts and the hand-off per article.
        spent = dict.fromkeys(stages, 0.0)
        out = []
        for i in range(0, len(values), chunk):
            with holding_tokens():  # the agent holds them over the batch, hand-off included
                cores = pipe.core_many(values[i : i + chunk], now, float("inf"))
                for core in cores:
                    assert core is not None  # every value parses (`_parses`), no deadline
                    for stage, secs in zip(CORE, core.seconds, strict=False):
                        spent[stage] += secs
                    t0 = clock()
                    found = pipe.alerts(core.enriched, core.hits, now)
                    t1 = clock()
                    out.append(
                        (orjson.dumps(core.enriched), story_stage.candidate(core.enriched, found))
                    )
                    spent["alerts"] += t1 - t0
                    spent["hand-off"] += clock() - t1
        return spent, out

    modes = {"article by article": by_article, f"stage by stage ({chunk})": by_stage}
    outputs = {name: run()[1] for name, run in modes.items()}  # (and warm)
    first, second = outputs.values()
    differ = sum(a != b for a, b in zip(first, second, strict=True))
    best: dict[str, dict[str, float]] = {name: {} for name in modes}
    for n in range(2 * args.passes):
        for name, run in list(modes.items())[:: 1 if n % 2 else -1]:
            spent, _ = run()
            best[name] = {k: min(v, best[name].get(k, v)) for k, v in spent.items()}
    kind = "short posts" if short else "articles"
    print(f"{len(values)} {kind}, CPU per article, best of {2 * args.passes} passes each:")
    for name, spent in best.items():
        print(f"  {per_article(name, spent, len(values))}")
    print(f"  outputs that differ: {differ} of {len(values)}")


def per_article(name: str, spent: dict[str, float], count: int) -> str:
    """`name: core X ms (stage ms, …)`: CPU ms per article from seconds spent over `count`
    articles; the core is the CORE stages among them (a hand-off is listed, not added)."""
    per = 1000 / max(1, count)
    core = sum(secs for stage, secs in spent.items() if stage in CORE) * per
    detail = ", ".join(f"{stage} {secs * per:.3f}" for stage, secs in spent.items())
    return f"{name}: core {core:.3f} ms ({detail})"


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


def _base_parses(pipe: Any, value: bytes, now: datetime) -> bool:
    """`_parses` for the base tree's pipeline (its BadInput is its own class)."""
    try:
        pipe.parse(value, now)
    except Exception as exc:  # (its own BadInput class: any other error is raised)
        if type(exc).__name__ != "BadInput":
            raise
        return False
    return True


def _parses(pipe: Pipeline, value: bytes, now: datetime) -> bool:
    try:
        pipe.parse(value, now)
    except BadInput:
        return False  # dead-lettered: not an article to time
    return True


if __name__ == "__main__":
    sys.exit(main())
