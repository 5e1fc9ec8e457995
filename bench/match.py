#!/usr/bin/env python3
"""Matching speed with 10, 1,000 and 10,000 rules over real articles (ANT), and memory.

Usage: .venv/bin/python bench/match.py [--articles N] [--sizes 10,1000,10000] [DATA]

DATA defaults to ../shared/data/ant/ant_multisource.jsonl.gz (skipped cleanly if absent).
The large rule sets are generated from the corpus's own vocabulary: phrases are real word
bigrams and unigrams (taken from articles NOT in the timed slice), with their variants, and
the rules mix every operator (phrase lists, named lists, near, same_sentence, all + not,
min_count, unless_near). Every set is compiled into ONE matcher; the time per article is the
whole `RuleSet.match` (normalise, tokenise, stem, automaton walk, rule evaluation, matches).
Times are CPU time of the benchmark's thread (best of --repeat passes), so a busy machine
inflates them less than wall time. Target: 10,000 rules cost at most 2x the time of 10 rules
(the matcher alone here; `bench/stages.py --generated 10,10000` gives the whole core).
It then prints, per pack and for the packaged default pack, how many of the timed articles'
tokens are ambiguous for the rules' automaton over token symbols (streams/rules/automaton.py:
their stems stand for phrase words no one symbol covers, so they are looked up in Python).
"""

from __future__ import annotations

import argparse
import gc
import gzip
import itertools
import json
import random
import resource
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streams.resources import rule_pack
from streams.rules import RuleSet, parse_document
from streams.text.arabic import tokenize

try:
    from streams.rules.automaton import ambiguity
except ImportError:  # a tree before the automaton over tokens (a before/after run)
    ambiguity = None  # type: ignore[assignment]

DEFAULT_DATA = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "ant" / "ant_multisource.jsonl.gz"
)


def read_articles(path: Path, limit: int) -> list[dict[str, str]]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            body = rec.get("text") or rec.get("abstract") or ""
            if body:
                out.append({"title": rec.get("title") or "", "body": body})
            if len(out) >= limit:
                break
    return out


def vocabulary(articles: list[dict[str, str]]) -> tuple[list[str], list[str]]:
    """Arabic unigrams and bigrams of the corpus, mid-frequency first (not stop words)."""
    uni: Counter[str] = Counter()
    bi: Counter[str] = Counter()
    for a in articles:
        words = [t.text for t in tokenize(a["body"]) if t.text.isalpha() and len(t.text) > 2]
        uni.update(words)
        bi.update(f"{x} {y}" for x, y in itertools.pairwise(words))
    common = {w for w, _ in uni.most_common(300)}  # stop words and the like
    unigrams = [w for w, c in uni.most_common() if w not in common and c >= 2]
    bigrams = [b for b, c in bi.most_common() if c >= 2 and not set(b.split()) & common]
    return unigrams, bigrams


def generate(n: int, unigrams: list[str], bigrams: list[str], seed: int = 7) -> dict[str, Any]:
    """A rule file with n rules built from real vocabulary, every operator represented."""
    rnd = random.Random(seed)
    # Watch-list terms are specific: words and bigrams outside the few thousand most frequent.
    specific = unigrams[3000:]
    lists = {f"list-{i}": rnd.sample(unigrams[3000:20000], 8) for i in range(200)}
    rules = []
    for i in range(n):
        kind = i % 10
        phrases = rnd.sample(bigrams, 3)
        if kind < 5:
            match: Any = {"phrase": phrases}
        elif kind == 5:
            match = {
                "all": [{"list": f"list-{rnd.randrange(200)}", "min_count": 2}, {"phrase": phrases}]
            }
        elif kind == 6:
            match = {"near": {"terms": rnd.sample(specific, 2), "within": 5}}
        elif kind == 7:
            match = {
                "same_sentence": [
                    rnd.choice(specific),
                    {"list": f"list-{rnd.randrange(200)}"},
                ]
            }
        elif kind == 8:
            match = {"all": [{"phrase": phrases}, {"not": {"phrase": rnd.choice(unigrams)}}]}
        else:
            match = {
                "phrase": phrases,
                "unless_near": {"terms": rnd.sample(unigrams[300:2000], 3), "within": 3},
            }
        rules.append(
            {"id": f"gen-{i}", "title": f"generated {i}", "severity": "low", "match": match}
        )
    return {"lists": lists, "rules": rules}


def compile_set(size: int, doc: dict[str, Any]) -> tuple[RuleSet, dict[str, Any]]:
    gc.collect()
    started = time.perf_counter()
    parsed = parse_document(doc, f"generated-{size}")
    assert not parsed.problems, parsed.problems[:3]
    ruleset = RuleSet(parsed.specs)
    compile_s = time.perf_counter() - started
    # Memory of the compiled matcher, measured on a second compile (tracemalloc is slow).
    tracemalloc.start()
    again = RuleSet(parse_document(doc).specs)
    size_bytes, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del again
    return ruleset, {
        "rules": size,
        "terms": ruleset.term_count,
        "compile_s": round(compile_s, 3),
        "ruleset_mb": round(size_bytes / 1e6, 1),
        "compile_peak_mb": round(peak / 1e6, 1),
    }


def timed_pass(ruleset: RuleSet, articles: list[dict[str, str]]) -> tuple[float, float, int]:
    """(CPU seconds for the automaton alone, for full matching, rule hits). CPU time of this
    thread, not wall time: other processes on a shared machine do not count."""
    clock = time.thread_time
    started = clock()
    for a in articles:  # the automaton alone: tokens → every term occurrence
        for text in a.values():
            ruleset._scan(text)
    scan_s = clock() - started
    started = clock()
    hits = sum(len(ruleset.match(a)) for a in articles)
    return scan_s, clock() - started, hits


def ambiguity_rows(
    rulesets: list[tuple[str, RuleSet]], articles: list[dict[str, str]]
) -> list[str]:
    """How often a token is ambiguous for a rule set's automaton (its stems stand for phrase
    words no one symbol covers: streams.rules.automaton), per pack, over the timed articles."""
    out = []
    for name, ruleset in rulesets:
        automaton = getattr(ruleset, "_automaton", None)
        if automaton is None or ambiguity is None:  # a tree before the automaton over tokens
            continue
        tokens = ambiguous = touched = 0
        for a in articles:
            n, k = ambiguity(automaton, (tokenize(text) for text in a.values() if text))
            tokens, ambiguous, touched = tokens + n, ambiguous + k, touched + (k > 0)
        out.append(
            f"{name}: {automaton.classes} symbol classes, {automaton.spellings} spellings; "
            f"{ambiguous} of {tokens} tokens ambiguous ({1e6 * ambiguous / max(tokens, 1):.0f} "
            f"per million), in {touched} of {len(articles)} articles"
        )
    return out


def run_all(
    sizes: list[int], docs: list[dict[str, Any]], articles: list[dict[str, str]], repeat: int
) -> tuple[list[dict[str, Any]], list[RuleSet]]:
    """Passes are interleaved (10, 1000, 10000, 10, …) and the best of each size is kept, so
    a load spike from other processes on the machine does not favour one size."""
    compiled = [compile_set(n, doc) for n, doc in zip(sizes, docs, strict=True)]
    for ruleset, _ in compiled:  # warm the stem cache, as in a running worker
        for a in articles:
            ruleset.match(a)
    best = [(float("inf"), float("inf"), 0)] * len(sizes)
    for _ in range(repeat):
        for i, (ruleset, _) in enumerate(compiled):
            scan_s, match_s, hits = timed_pass(ruleset, articles)
            best[i] = (min(best[i][0], scan_s), min(best[i][1], match_s), hits)
    n = len(articles)
    out = []
    for (_, row), (scan_s, match_s, hits) in zip(compiled, best, strict=True):
        out.append(
            {
                **row,
                "articles_per_s": round(n / match_s, 1),
                "ms_per_article": round(1000 * match_s / n, 3),
                "scan_ms": round(1000 * scan_s / n, 3),
                "hits_per_article": round(hits / n, 2),
            }
        )
    return out, [ruleset for ruleset, _ in compiled]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data", nargs="?", default=str(DEFAULT_DATA))
    parser.add_argument("--articles", type=int, default=1000, help="timed articles (default 1000)")
    parser.add_argument("--vocab-articles", type=int, default=5000, help="articles for vocabulary")
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes, best kept (default 3)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    path = Path(args.data)
    if not path.is_file():
        print(f"skipped: {path} not found (the ANT corpus lives in ../shared/data)")
        return 0
    everything = read_articles(path, args.articles + args.vocab_articles)
    timed, rest = everything[: args.articles], everything[args.articles :]
    unigrams, bigrams = vocabulary(rest)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"{len(timed)} ANT articles timed ({sum(len(a['body']) for a in timed) // len(timed)} "
        f"chars avg); vocabulary from {len(rest)} others: {len(unigrams)} words, {len(bigrams)} bigrams"
    )
    docs = [generate(n, unigrams, bigrams) for n in sizes]
    results, rulesets = run_all(sizes, docs, timed, args.repeat)
    base = results[0]["ms_per_article"]
    for r in results:
        r["time_vs_smallest"] = round(r["ms_per_article"] / base, 2)
    if args.json:
        print(json.dumps(results))
    else:
        cols = list(results[0])
        print("  ".join(f"{c:>17}" for c in cols))
        for r in results:
            print("  ".join(f"{r[c]!s:>17}" for c in cols))
    packs = [(f"{n} rules", r) for n, r in zip(sizes, rulesets, strict=True)]
    packs.append(("default pack", RuleSet.from_yaml(rule_pack())))
    for row in ambiguity_rows(packs, timed):
        print(row)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the process: {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
