"""Cost of the index's two lookups (StoryParams.lookup "heaviest" and "listed") with many live
stories, interleaved in one process (round twelve of issue 14).

    .venv/bin/python bench/story_lookup.py [../shared/data/ant/ant_multisource.jsonl.gz]
        [--live 14000] [--measure 5000] [--window-hours H [--forget]]

bench/story_stage.py's method: ANT articles (cached in .cache/bench by bench/dedup_eval.py) in
publication order, a story window of ten years so no story closes; the first --live articles
open or join stories (untimed), the next --measure are timed in 250-article chunks, the two
lookups' chunks alternating which runs first (so both see the same load of the shared machine).
Each lookup clusters the stream on its own (its own stories, index and document frequencies),
so after the warm-up they see slightly different stories. Prints the CPU time per article
(assign: document frequencies, vectors, candidates, scoring, update) as the median chunk and
the mean, the per-chunk ratio's p10/p50/p90, the live stories, the candidates returned per
article and the assignments that differ. --forget drops the index postings of stories closed
by the window before each chunk (`StoryIndex.forget`, untimed), as the worker's story agent
does every 10 minutes; offline nothing forgets, so with a 48-hour window the postings then
hold every closed story too, which the "listed" lookup walks past and scores before ranking
them out. Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_eval import DEFAULT_CORPUS, cached_inputs

from streams.stories.cluster import Clusterer, Query, StoryParams, article_vectors

LOOKUPS = ("heaviest", "listed")
CHUNK = 250


def returned(c: Clusterer, items: list[Any]) -> float:
    """Candidates the index returns per article for `items` against `c`'s stories (before the
    gate), without adding them."""
    n = 0
    for item in items:
        vectors = article_vectors(item.features, c.df)
        query = Query.of(vectors, c.params.index_terms)
        n += len(c.index.candidates(vectors, item.at - c.params.window_seconds, c.params, query))
    return n / max(1, len(items))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--live", type=int, default=14_000, help="articles fed before timing")
    ap.add_argument("--measure", type=int, default=5_000, help="articles timed")
    ap.add_argument("--window-hours", type=float, default=10 * 365 * 24.0)
    ap.add_argument("--forget", action="store_true", help="forget closed stories per chunk")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    inputs = sorted(cached_inputs(corpus), key=lambda i: i.at)  # stable: file order on ties
    window = args.window_hours * 3600.0
    runs = {k: Clusterer(StoryParams(window_seconds=window, lookup=k)) for k in LOOKUPS}
    times: dict[str, list[float]] = {k: [] for k in LOOKUPS}
    differ = 0
    stream = inputs[: args.live + args.measure]
    for k in range(0, len(stream), CHUNK):
        chunk = stream[k : k + CHUNK]
        out = {}
        for name in LOOKUPS if (k // CHUNK) % 2 else LOOKUPS[::-1]:
            c = runs[name]
            if args.forget:
                c.index.forget(chunk[0].at - window)
            began = time.process_time()
            out[name] = [c.add(i.article_id, i.source, i.features, i.at).story_id for i in chunk]
            if k >= args.live:
                times[name].append((time.process_time() - began) / len(chunk))
        differ += sum(a != b for a, b in zip(out["heaviest"], out["listed"], strict=True))
    ratios = sorted(b / a for a, b in zip(times["heaviest"], times["listed"], strict=True))
    after = inputs[len(stream) : len(stream) + 500]
    report: dict[str, Any] = {
        "live_stories": {k: len(c.stories) for k, c in runs.items()},
        "timed_articles": len(stream) - args.live,
        "ms_median_chunk": {k: round(1000 * statistics.median(v), 3) for k, v in times.items()},
        "ms_mean": {k: round(1000 * statistics.fmean(v), 3) for k, v in times.items()},
        "ratio_listed_over_heaviest_p10_p50_p90": [
            round(ratios[int(q * (len(ratios) - 1))], 2) for q in (0.1, 0.5, 0.9)
        ],
        "candidates_returned_per_article": {
            k: round(returned(c, after), 2) for k, c in runs.items()
        },
        "assignments_differing": differ,
    }
    print(orjson.dumps(report).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
