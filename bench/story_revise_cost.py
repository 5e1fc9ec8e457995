"""CPU per article of a story variant that revises decisions (round fifteen), against `head` in
the same process: the whole corpus clustered in publication order by each in turn, `--rounds`
times, alternating, CPU time (time.process_time).

    .venv/bin/python bench/story_revise_cost.py [CORPUS] --variant link-centroid-0.95 [--rounds 2]

Prints one JSON line per run and a summary (median ms per article of each, the ratio). Skips
cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_eval import DEFAULT_CORPUS, cached_inputs
from story_variants import VARIANTS, clustered

from streams.stories.cluster import StoryParams


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--variant", choices=list(VARIANTS), default="link-centroid-0.95")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    inputs = cached_inputs(corpus)
    times: dict[str, list[float]] = {"head": [], args.variant: []}
    for r in range(args.rounds):
        order = ["head", args.variant] if r % 2 == 0 else [args.variant, "head"]
        for name in order:
            start = time.process_time()
            _, counts = clustered(inputs, VARIANTS[name], StoryParams())
            ms = (time.process_time() - start) * 1000.0 / len(inputs)
            times[name].append(ms)
            load = os.getloadavg()[0]
            print(
                orjson.dumps(
                    {"run": name, "ms_per_article": round(ms, 4), **counts, "load1": round(load, 2)}
                ).decode(),
                flush=True,
            )
    head, other = statistics.median(times["head"]), statistics.median(times[args.variant])
    print(
        orjson.dumps(
            {
                "head_ms": round(head, 4),
                "variant_ms": round(other, 4),
                "ratio": round(other / head, 3),
                "articles": len(inputs),
            }
        ).decode()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
