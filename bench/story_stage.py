"""Cost of story clustering per article with many live stories (streams/stories/cluster.py).

    .venv/bin/python bench/story_stage.py [../shared/data/ant/ant_multisource.jsonl.gz]
        [--live 10000] [--measure 5000]

ANT articles (parsed and enriched by the worker's code, cached in .cache/bench) are fed in
publication order, with a story window of ten years so that no story ever closes: the first
--live articles open or join stories, then the next --measure articles are timed, each against
every story opened before it (the live ones of a far busier stream than ANT's ~130 a day).
Prints the CPU time per article (assign only: document frequencies, vectors, candidates,
scoring, centroid update, index): over the whole timed run, and the median of its 500-article
chunks (the machine is shared: a chunk that ran beside a busy neighbour costs more CPU time,
the median is the steadier figure), the candidates looked at per article (before the gate
that skips the hopeless ones), the number of live
stories, and the size of a story's state as the worker's table stores it (JSON bytes: mean,
max). Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_eval import DEFAULT_CORPUS, cached_inputs

from streams.stories.cluster import Clusterer, StoryParams, article_vectors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--live", type=int, default=14_000, help="articles fed before timing")
    ap.add_argument("--measure", type=int, default=5_000, help="articles timed")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    inputs = sorted(cached_inputs(corpus), key=lambda i: (i.at, i.article_id))
    warm, timed = inputs[: args.live], inputs[args.live : args.live + args.measure]
    c = Clusterer(StoryParams(window_seconds=10 * 365 * 86400.0))
    for item in warm:
        c.add(item.article_id, item.source, item.features, item.at)
    live_before = len(c.stories)
    chunks = []
    scored = 0
    started = time.process_time()
    for at in range(0, len(timed), 500):
        begun = time.process_time()
        for item in timed[at : at + 500]:
            c.add(item.article_id, item.source, item.features, item.at)
        chunks.append((time.process_time() - begun) / len(timed[at : at + 500]))
    elapsed = time.process_time() - started
    horizon = timed[-1].at - c.params.window_seconds if timed else 0.0
    for item in timed[:500]:  # how many candidate stories an article looks at
        scored += len(c.index.candidates(article_vectors(item.features, c.df), horizon, c.params))
    sizes = [len(orjson.dumps(s)) for s in c.stories.values()]
    print(
        orjson.dumps(
            {
                "live_stories_before": live_before,
                "live_stories_after": len(c.stories),
                "articles_timed": len(timed),
                "cpu_ms_per_article": round(1000 * elapsed / max(1, len(timed)), 3),
                "cpu_ms_per_article_median_chunk": round(1000 * statistics.median(chunks), 3)
                if chunks
                else 0.0,
                "candidates_per_article": round(scored / max(1, min(500, len(timed))), 1),
                "story_state_bytes_mean": round(statistics.mean(sizes)),
                "story_state_bytes_max": max(sizes),
                "index_terms": len(c.index.postings),
                "df_terms": len(c.df.counts),
            }
        ).decode()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
