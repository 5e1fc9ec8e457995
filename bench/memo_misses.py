"""Memo misses and CPU per article of the hot stage over cycled ANT, in windows: how much a
memo cap and its eviction cost (docs/performance.md, "Memory: round eleven").

    .venv/bin/python bench/memo_misses.py [--marks 10000,31525,40000] [--eviction kept|oldest]

Counts the computations behind the topic model's word and form memos and the story-term memo
(each a miss), and the CPU time (`time.thread_time`) of enrich, match and story candidate per
article between marks. `--eviction oldest` swaps in the eviction before round eleven (the
oldest half out) to compare, in separate processes, with the tree's (the first half kept).
Reads the corpus from ../shared; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import orjson
from corpora import ANT, ant_raw

from streams.classify.topic_model import TopicModel
from streams.settings import Settings
from streams.stories import features
from streams.text import memo
from streams.worker.pipeline import Pipeline
from streams.worker.story_stage import candidate


def _oldest_half_out(self: Any, key: Any, value: Any) -> Any:
    if len(self) >= self.cap:
        for old in list(islice(self, len(self) // 2 or 1)):
            del self[old]
    self[key] = value
    return value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--marks", default="10000,31525,40000", help="article counts to report at")
    ap.add_argument("--eviction", choices=("kept", "oldest"), default="kept")
    args = ap.parse_args()
    if not ANT.exists():
        print(f"{ANT} not found: skipped")
        return 0
    if args.eviction == "oldest":
        memo.Memo.remember = _oldest_half_out  # type: ignore[method-assign]
    n = {"word": 0, "form": 0, "term": 0}
    word, form, term = TopicModel._word, TopicModel._form, features._term_of

    def counted_word(self: TopicModel, w: str) -> Any:
        n["word"] += 1
        return word(self, w)

    def counted_form(self: TopicModel, stem: str, data: bytes) -> Any:
        n["form"] += 1
        return form(self, stem, data)

    def counted_term(w: str) -> str:
        n["term"] += 1
        return term(w)

    TopicModel._word = counted_word  # type: ignore[method-assign]
    TopicModel._form = counted_form  # type: ignore[method-assign]
    features._term_of = counted_term
    marks = [int(x) for x in args.marks.split(",")]
    raws = [orjson.dumps(r) for r in ant_raw(ANT, 10**9)]
    pipe = Pipeline.load(Settings())
    now = datetime.now(UTC)
    prev, last, started = 0, dict(n), time.thread_time()
    print(f"eviction {args.eviction}: misses per article word / form / story term, CPU")
    for i in range(marks[-1]):
        try:
            art = pipe.enriched(raws[i % len(raws)], now)
        except Exception:  # a dead letter in the worker: nothing to count
            pass
        else:
            candidate(art, pipe.alerts(art, pipe.match(art), now))
        if i + 1 in marks:
            k, t = i + 1 - prev, time.thread_time()
            per = " / ".join(f"{(n[x] - last[x]) / k:.2f}" for x in n)
            print(f"  {prev}-{i + 1}: {per}, {1000 * (t - started) / k:.3f} ms", flush=True)
            prev, last, started = i + 1, dict(n), t
    return 0


if __name__ == "__main__":
    sys.exit(main())
