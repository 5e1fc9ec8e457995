#!/usr/bin/env python3
"""CPU cost of parsing and of the Arabic text primitives, per ANT article and per ASND post.

Usage: .venv/bin/python bench/parse_speed.py [--limit N] [--short-limit N] [--rounds R]
           [--base DIR]

Each round runs one fresh subprocess per tree (with --base, the tree at DIR, e.g. a read-only
copy of HEAD, alternating with this one, so both are measured in the same sitting), which
times, in CPU time of its own thread (`time.thread_time`; figures hold on a shared machine):

- parse: `parse_article` of every ANT article (title + plain-text body) and every ASND post;
- normalize: `normalize` of every body;
- offsets: `normalize_with_offsets` of every body, then `Tokens` (the words), i.e. what
  `tokenize` costs when its memo misses;
- spans: `span(i, i + 1)` of every 4th token of fresh `Tokens` (~65 per ANT article, about
  what the classifiers and the rule matcher ask for; the first one builds the span list).

"cold" is the first pass of the process (the per-character memos and tables still empty);
"warm" is the best of the next three passes. Prints figures, asserts nothing. Reads the corpus
from ../shared/data (skips cleanly if absent).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from corpora import ANT as DEFAULT_ANT  # noqa: E402
from corpora import ASND as DEFAULT_ASND  # noqa: E402
from corpora import ant_raw, asnd_raw  # noqa: E402

STAGES = ("parse", "normalize", "offsets", "spans")


def _ant(limit: int) -> list[tuple[str | None, str]]:
    return [(r.get("title"), r["body"]) for r in ant_raw(DEFAULT_ANT, limit)]


def _asnd(limit: int) -> list[tuple[str | None, str]]:
    return [(None, r["body"]) for r in asnd_raw(DEFAULT_ASND, limit)]


def worker(root: str, limit: int, short_limit: int) -> None:
    """Time this process's `streams` (imported from `root`); print one JSON line."""
    sys.path.insert(0, root)
    from datetime import UTC, datetime

    import streams
    from streams.extract.parse import ParseError, parse_article
    from streams.text.arabic import Tokens, normalize, normalize_with_offsets

    if not str(Path(streams.__file__).resolve()).startswith(str(Path(root).resolve())):
        raise SystemExit(f"streams imported from {streams.__file__}, not {root}")
    fetched = datetime(2024, 12, 1, 9, tzinfo=UTC)

    def parse(items: list[tuple[str | None, str]]) -> None:
        for title, body in items:
            with contextlib.suppress(ParseError):  # dead letters cost the same
                parse_article(body, title=title, fetched_at=fetched, tz=UTC)

    def norm(items: list[tuple[str | None, str]]) -> None:
        for _, body in items:
            normalize(body)

    def offsets(items: list[tuple[str | None, str]]) -> None:
        for _, body in items:
            Tokens(normalize_with_offsets(body))

    tokens: dict[int, list[Any]] = {}

    def spans(items: list[tuple[str | None, str]]) -> None:
        for tok in tokens[id(items)]:
            for i in range(0, len(tok), 4):
                tok.span(i, i + 1)

    stages: dict[str, Callable[[list[tuple[str | None, str]]], None]] = {
        "parse": parse, "normalize": norm, "offsets": offsets, "spans": spans,
    }  # fmt: skip
    result: dict[str, dict[str, dict[str, float]]] = {}
    for name, items in (("ANT", _ant(limit)), ("ASND", _asnd(short_limit))):
        figures: dict[str, dict[str, float]] = {}
        for stage, run in stages.items():
            if stage == "spans":  # fresh Tokens: their span lists are built on first use
                tokens[id(items)] = [Tokens(normalize_with_offsets(b)) for _, b in items]
            passes = []
            for _ in range(4):
                t0 = time.thread_time()
                run(items)
                passes.append((time.thread_time() - t0) / len(items) * 1000)
                if stage == "spans":
                    tokens[id(items)] = [Tokens(normalize_with_offsets(b)) for _, b in items]
            figures[stage] = {"cold": passes[0], "warm": min(passes[1:])}
        result[name] = figures
    print(json.dumps(result))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=2000, help="ANT articles")
    parser.add_argument("--short-limit", type=int, default=2000, help="ASND posts")
    parser.add_argument("--rounds", type=int, default=3, help="fresh processes per tree")
    parser.add_argument("--base", help="another tree to time alternately (e.g. a copy of HEAD)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.limit, args.short_limit)
        return 0
    if not (DEFAULT_ANT.exists() and DEFAULT_ASND.exists()):
        print(f"skipped: {DEFAULT_ANT} or {DEFAULT_ASND} not found")
        return 0
    trees = {"this tree": str(ROOT)}
    if args.base:
        trees = {"base": str(Path(args.base).resolve()), **trees}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, root in trees.items():
            cmd = [sys.executable, __file__, "--worker", root, "--limit", str(args.limit),
                   "--short-limit", str(args.short_limit)]  # fmt: skip
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=root)
            runs[name].append(json.loads(out.stdout))
    print(
        f"CPU ms per text, median of {args.rounds} fresh processes per tree "
        f"({args.limit} ANT articles, {args.short_limit} ASND posts; warm = best of 3 passes)"
    )
    for corpus in ("ANT", "ASND"):
        for stage in STAGES:
            cells = []
            for name in trees:
                cold = statistics.median(r[corpus][stage]["cold"] for r in runs[name])
                warm = statistics.median(r[corpus][stage]["warm"] for r in runs[name])
                cells.append(f"{name}: cold {cold:.4f}, warm {warm:.4f}")
            print(f"  {corpus:4} {stage:9} " + " | ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
