"""Memo misses, sizes and CPU per article of the hot stage over cycled ANT, in windows: how much a
memo cap and its eviction cost (docs/performance.md, "Memory: round eleven", "round fifteen").

    .venv/bin/python bench/memo_misses.py [--marks 10000,40000,100000] [--eviction kept|oldest]
        [--cap-scale 0.5] [--cap "topic forms=20000"] [--sizes]

Every `Memo` of the worker's hot stage and story features is named (topic words, topic forms,
rule symbols, story terms, story places, rule phrases, phrase starts #n). Between marks it
prints each memo's misses per article (its `remember` calls: a miss computes the value again;
lookups are not counted, they are C dict gets in the hot loops) and the CPU time
(`time.thread_time`) of enrich, match and story candidate per article; with `--sizes`, at each
mark, each memo's entries and MB of Python objects (`state_growth.deep_mb`, each memo alone),
then all of them together (a key or topic entry two memos share once: what a cap frees).
`--cap-scale F` multiplies every memo's cap by F and `--cap NAME=N` sets one (after the
pipeline is loaded, before the first article), so one run per cap, alternated, gives what a
cap saves in MB against what it costs in misses and CPU. `--eviction oldest` swaps in the
eviction before round eleven (the oldest half out) to compare with the tree's (the first half
kept). Reads the corpus from ../shared; prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import orjson
from corpora import ANT, ant_raw

from streams.classify import topic_model
from streams.rules import automaton, spec
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


def named_memos() -> dict[str, memo.Memo[Any, Any]]:
    """name → every Memo alive (the pipeline loaded)."""
    out: dict[str, memo.Memo[Any, Any]] = {}
    model = topic_model.default_model()
    if model is not None:
        out["topic words"], out["topic forms"] = model._words, model._forms
    alive = gc.get_objects()
    for n, obj in enumerate(o for o in alive if isinstance(o, automaton.TermAutomaton)):
        out[f"rule symbols{f' #{n}' if n else ''}"] = obj.memo
    out["story terms"], out["story places"] = features._terms, features._places
    out["rule phrases"] = spec._PHRASES
    known = {id(m) for m in out.values()}
    starts = [o for o in alive if isinstance(o, memo.Memo) and id(o) not in known]
    for n, m in enumerate(starts):
        out[f"phrase starts #{n}"] = m  # the gazetteer's and lexicons' (places.PhraseIndex)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--marks", default="10000,31525,40000", help="article counts to report at")
    ap.add_argument("--eviction", choices=("kept", "oldest"), default="kept")
    ap.add_argument("--cap-scale", type=float, default=1.0, help="every memo's cap times this")
    ap.add_argument("--cap", action="append", default=[], help="NAME=N: one memo's cap")
    ap.add_argument("--sizes", action="store_true", help="entries and MB per memo at each mark")
    ap.add_argument(
        "--miss-cost", action="store_true", help="after the last mark: µs of CPU per miss, by memo"
    )
    args = ap.parse_args()
    if not ANT.exists():
        print(f"{ANT} not found: skipped")
        return 0
    if args.eviction == "oldest":
        memo.Memo.remember = _oldest_half_out  # type: ignore[method-assign]
    misses: dict[int, int] = {}
    remember = memo.Memo.remember

    def counted(self: Any, key: Any, value: Any) -> Any:
        misses[id(self)] = misses.get(id(self), 0) + 1
        return remember(self, key, value)

    memo.Memo.remember = counted  # type: ignore[method-assign]
    marks = [int(x) for x in args.marks.split(",")]
    raws = [orjson.dumps(r) for r in ant_raw(ANT, 10**9)]
    pipe = Pipeline.load(Settings())
    memos = named_memos()
    for m in memos.values():
        m.cap = max(1, int(m.cap * args.cap_scale))
    for spec_ in args.cap:
        name, _, cap = spec_.rpartition("=")
        memos[name].cap = int(cap)
    print(
        f"eviction {args.eviction}, caps: "
        + ", ".join(f"{name} {m.cap:,}" for name, m in memos.items())
    )
    if args.sizes:
        from state_growth import deep_mb
    now = datetime.now(UTC)
    prev, last, started = 0, dict(misses), time.thread_time()
    for i in range(marks[-1]):
        try:
            art = pipe.enriched(raws[i % len(raws)], now)
        except Exception:  # a dead letter in the worker: nothing to count
            pass
        else:
            candidate(art, pipe.alerts(art, pipe.match(art), now))
        if i + 1 in marks:
            k, t = i + 1 - prev, time.thread_time()
            print(
                f"  {prev}-{i + 1}: {1000 * (t - started) / k:.3f} ms CPU per article", flush=True
            )
            for name, m in memos.items():
                per = (misses.get(id(m), 0) - last.get(id(m), 0)) / k
                size = f", {len(m):,} entries, {deep_mb(m):.1f} MB" if args.sizes else ""
                print(f"    {name:<18} cap {m.cap:>7,}: {per:6.2f} misses per article{size}")
            if args.sizes:  # what the memos hold together: they share keys and topic entries
                topic = [m for n, m in memos.items() if n.startswith("topic")]
                print(
                    f"    together: all memos {deep_mb(list(memos.values())):.1f} MB, topic words"
                    f" and forms {deep_mb(topic):.1f} MB"
                )
            prev, last, started = i + 1, dict(misses), time.thread_time()
    if args.miss_cost:
        for line in miss_costs(memos):
            print(line)
    return 0


def _timed(fn: Any, keys: list[Any]) -> float:
    started = time.thread_time()
    for key in keys:
        fn(key)
    return time.thread_time() - started


def miss_costs(memos: dict[str, memo.Memo[Any, Any]], sample: int = 20_000) -> list[str]:
    """CPU per miss of the four big memos: each memo's keys (up to `sample`) computed again
    with the memo emptied (the others as they are), as a miss computes them; then restored."""
    out = ["CPU per miss (keys held, computed again with the memo emptied):"]
    model = topic_model.default_model()
    if model is not None:
        words, forms = dict(model._words), dict(model._forms)
        keys = list(words)[:sample]
        model._words.clear()
        alone = _timed(model._word, keys)  # a word missing, its form memoised
        model._words.clear()
        model._forms.clear()
        both = _timed(model._word, keys)  # and its form missing too (once per form)
        computed = len(model._forms)
        out.append(f"  topic words: {1e6 * alone / len(keys):.2f} µs (the form memoised)")
        out.append(f"  topic forms: {1e6 * (both - alone) / max(1, computed):.2f} µs more")
        for held, saved in ((model._words, words), (model._forms, forms)):
            held.clear()
            dict.update(held, saved)
    for name in [n for n in memos if n.startswith("rule symbols")]:
        auto = next(
            o
            for o in gc.get_objects()
            if isinstance(o, automaton.TermAutomaton) and o.memo is memos[name]
        )
        saved = dict(auto.memo)
        keys = list(saved)[:sample]
        auto.memo.clear()
        out.append(f"  {name}: {1e6 * _timed(auto._remember, keys) / len(keys):.2f} µs")
        auto.memo.clear()
        dict.update(auto.memo, saved)
    keys = list(features._terms)[:sample]
    out.append(f"  story terms: {1e6 * _timed(features._term_of, keys) / len(keys):.2f} µs")
    return out


if __name__ == "__main__":
    sys.exit(main())
