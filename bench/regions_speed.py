#!/usr/bin/env python3
"""CPU cost of the region classifier (`streams.classify.places.locate`) alone, per article.

Usage: .venv/bin/python bench/regions_speed.py [--root DIR ...] [--rounds N] [--warm N]
           [--cold-from N] [--cold N] [--base-places FILE]

Each --root (default: this tree; e.g. `--root /tmp/rasid-head --root .` compares a copy of
HEAD with the working tree) runs in its own subprocess, `streams` imported from that root,
and the roots alternate for --rounds rounds (interleaved: a busy spell of the shared machine
hits both). A subprocess loads the worker's pipeline (so the shared automaton holds every
matcher's keys, as in a worker), parses ANT articles (../shared/data/ant, title + body +
dateline) and ASND posts (../shared/data/asnd, body only), and per article first tokenises
every field and runs the shared automaton's scan (what the pipeline pays for once, whoever
asks first: `locate` in a worker; timed apart, the automaton holding every matcher's keys),
then times the fields' token spans (in a tree where the first caller of `Tokens.span` pays for
the positions; where `Tokens` sums them when it splits, as now, this is ~0 and they are in the
tokenising, which is not timed here) and
`locate` alone (CPU thread time):

- warm: articles [0, --warm) once untimed, then the best of 3 timed passes over them;
- cold: after that, articles [--cold-from, --cold-from + --cold), each seen for the first
  time (new words reach the memos as in a running worker), one pass.

With --base-places, another places.py (e.g. HEAD's) is loaded beside this tree's in one
process instead, and both classify every article in alternating order with this tree's
tokeniser: only the classifier differs.

Prints milliseconds per article and the CPU time of a fixed pure-Python loop in the same
process (how fast the shared machine let it run); asserts nothing. Corpus text is only read. Skips cleanly
when the data is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
ANT = SHARED / "ant" / "ant_multisource.jsonl.gz"
ASND = SHARED / "asnd" / "asnd_train_dev.jsonl"


_KEEP: list[object] = []  # the other matchers, alive so their keys stay in the automaton


def _fields(kind: str, limit: int) -> list[tuple[str, str, str | None]]:
    """(title, body, dateline) of the first `limit` items that parse, as the worker sees them;
    the default rule pack and the topic lexicons are loaded, as in a worker."""
    from bench.pipeline import read_articles
    from bench.stages import read_short
    from streams.classify.enrich import parse_raw
    from streams.classify.topics import lexicon_topics
    from streams.extract.parse import ParseError
    from streams.rules import RuleSet
    from streams.settings import Settings
    from streams.times import utcnow

    settings = Settings()
    if not _KEEP:
        _KEEP.append(RuleSet.from_yaml(settings.rules_file))
        lexicon_topics("", "")  # loads the lexicons (kept by their module)
    raws = read_articles(ANT, limit) if kind == "ant" else read_short(ASND, limit)
    now = utcnow()
    out: list[tuple[str, str, str | None]] = []
    for raw in raws:
        try:
            parsed = parse_raw(raw, tz=settings.tz_for_source(raw["source"]), now=now)
        except ParseError:
            continue
        out.append((parsed.title, parsed.body, parsed.dateline))
    return out


def _time(items: list[tuple[str, str, str | None]]) -> tuple[float, float, float]:
    """CPU seconds of `locate` over items, each field tokenised and scanned beforehand; of
    the fields' token spans, computed just before it (the first caller of `Tokens.span`
    pays for them: `locate` in the worker, else the topics' evidence); and of the scans."""
    from streams.classify.places import default_gazetteer, locate
    from streams.text.arabic import tokenize
    from streams.text.scan import current

    gaz = default_gazetteer()
    clock = time.thread_time
    spent = spans = scans = 0.0
    for title, body, dateline in items:
        fields = [tokenize(text) for text in (title, dateline, body) if text]
        ts = clock()
        for tokens in fields:
            if tokens.scan_hits is None:  # the shared scan, paid by whoever asks first
                tokens.scan_hits = current().scan(tokens.words)
        t0 = clock()
        scans += t0 - ts
        for tokens in fields:
            if tokens.words:
                tokens.span(0, 1)
        t1 = clock()
        locate(title, body, dateline=dateline, gazetteer=gaz)
        t2 = clock()
        spans += t1 - t0
        spent += t2 - t1
    return spent, spans, scans


def _reference() -> float:
    """CPU microseconds of a fixed pure-Python loop: how fast this process runs right now."""
    clock = time.thread_time
    t0 = clock()
    for _ in range(2000):
        sum(range(1000))
    return (clock() - t0) / 2000 * 1e6


def worker(root: str, warm: int, cold_from: int, cold: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))  # bench.* helpers
    sys.path.insert(0, root)  # streams from the root under test
    import streams

    where = str(Path(streams.__file__).resolve())
    if not where.startswith(str(Path(root).resolve())):
        raise SystemExit(f"streams imported from {where}, expected under {root}")
    out: dict[str, Any] = {"root": root, "reference_us": _reference()}
    for kind in ("ant", "asnd"):
        items = _fields(kind, cold_from + cold)
        warm_items, cold_items = items[:warm], items[cold_from:]
        _time(warm_items)  # untimed: memos and caches filled
        best = min(_time(warm_items) for _ in range(3))
        fresh = _time(cold_items)
        out[kind] = {
            "warm_ms": best[0] / len(warm_items) * 1000,
            "cold_ms": fresh[0] / max(1, len(cold_items)) * 1000,
            "spans_ms": fresh[1] / max(1, len(cold_items)) * 1000,
            "scan_ms": fresh[2] / max(1, len(cold_items)) * 1000,
            "n_warm": len(warm_items),
            "n_cold": len(cold_items),
            "chars": sum(len(b) for _, b, _ in items) // max(1, len(items)),
        }
    return out


def same_process(base_places: Path, warm: int, cold_from: int, cold: int) -> None:
    """`locate` of another copy of places.py (e.g. HEAD's) and this tree's, in one process,
    article by article in alternating order: the same tokeniser, scan and spans for both, so
    only the classifier differs. Prints µs per item."""
    import importlib.util

    sys.path.insert(0, str(ROOT))
    import streams.classify.places as new

    spec = importlib.util.spec_from_file_location("base_places", base_places)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {base_places}")
    old = importlib.util.module_from_spec(spec)
    sys.modules["base_places"] = old
    spec.loader.exec_module(old)
    from streams.text.arabic import tokenize
    from streams.text.scan import current

    pairs = (
        ("base", old.locate, old.default_gazetteer()),
        ("now", new.locate, new.default_gazetteer()),
    )
    clock = time.thread_time

    def run(items: list[tuple[str, str, str | None]]) -> dict[str, float]:
        spent = dict.fromkeys(("base", "now"), 0.0)
        for k, (title, body, dateline) in enumerate(items):
            for text in (title, dateline, body):
                if text:
                    tokens = tokenize(text)
                    if tokens.scan_hits is None:
                        tokens.scan_hits = current().scan(tokens.words)
                    if tokens.words:
                        tokens.span(0, 1)
            for name, locate, gaz in pairs if k % 2 else pairs[::-1]:
                t0 = clock()
                locate(title, body, dateline=dateline, gazetteer=gaz)
                spent[name] += clock() - t0
        return {name: v / max(1, len(items)) * 1e6 for name, v in spent.items()}

    print(f"same process, µs per item (reference loop {_reference():.1f} µs)")
    for kind in ("ant", "asnd"):
        items = _fields(kind, cold_from + cold)
        run(items[:warm])
        warm_runs = [run(items[:warm]) for _ in range(3)]
        fresh = run(items[cold_from:])
        best = {name: min(r[name] for r in warm_runs) for name in ("base", "now")}
        print(f"  {kind}: warm base {best['base']:.1f}, now {best['now']:.1f}; "
              f"cold base {fresh['base']:.1f}, now {fresh['now']:.1f}", flush=True)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", action="append", help="a tree to import streams from")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warm", type=int, default=2000)
    parser.add_argument("--cold-from", type=int, default=5000)
    parser.add_argument("--cold", type=int, default=2000)
    parser.add_argument(
        "--base-places",
        type=Path,
        help="instead: another places.py (e.g. /tmp/rasid-head/streams/classify/places.py) "
        "against this tree's, in one process, with this tree's tokeniser",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.base_places:
        if not (ANT.exists() and ASND.exists()):
            print(f"skipped: {ANT} or {ASND} not found")
            return 0
        same_process(args.base_places, args.warm, args.cold_from, args.cold)
        return 0
    if args.worker:
        print(json.dumps(worker(args.worker, args.warm, args.cold_from, args.cold)))
        return 0
    if not (ANT.exists() and ASND.exists()):
        print(f"skipped: {ANT} or {ASND} not found")
        return 0
    roots = [str(Path(r).resolve()) for r in (args.root or [str(ROOT)])]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    print("locate() CPU ms per item (fields tokenised and scanned beforehand); the token")
    print("spans it is the first to ask for and the shared scan (every matcher's keys), cold;")
    print("a reference loop's CPU µs (machine speed)")
    for rnd in range(args.rounds):
        for root in roots:
            cmd = [sys.executable, __file__, "--worker", root, "--warm", str(args.warm),
                   "--cold-from", str(args.cold_from), "--cold", str(args.cold)]  # fmt: skip
            res = json.loads(subprocess.run(cmd, check=True, capture_output=True, env=env).stdout)
            figures = "; ".join(
                f"{kind} ({res[kind]['chars']} chars avg) warm {res[kind]['warm_ms']:.4f}, "
                f"cold {res[kind]['cold_ms']:.4f} (+ spans {res[kind]['spans_ms']:.4f}, "
                f"+ scan {res[kind]['scan_ms']:.4f}; "
                f"{res[kind]['n_warm']}/{res[kind]['n_cold']} items)"
                for kind in ("ant", "asnd")
            )
            print(f"round {rnd + 1} {root}: {figures}; reference {res['reference_us']:.1f} µs",
                  flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
