#!/usr/bin/env python3
"""CPU cost of each pipeline stage per article, offline (no Kafka): what bounds one worker.

Usage: .venv/bin/python bench/stages.py [--limit N] [DATA]
Profile it:  .venv/bin/pyinstrument -r text bench/stages.py --limit 1000

DATA defaults to ../shared/data/ant/ant_multisource.jsonl.gz (skipped cleanly if absent).
Prints milliseconds per article for parse, enrich, match and alerts, and articles/s overall.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline import DEFAULT_DATA, read_articles  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.times import utcnow  # noqa: E402
from streams.worker.pipeline import Pipeline  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    if not args.data.exists():
        print(f"skipped: {args.data} not found")
        return 0
    values = [orjson.dumps(a) for a in read_articles(args.data, args.limit)]
    pipe = Pipeline.load(Settings())
    now = utcnow()
    spent = dict.fromkeys(("parse", "enrich", "match", "alerts"), 0.0)
    alerts = 0
    started = time.perf_counter()
    for value in values:
        t0 = time.perf_counter()
        raw, parsed = pipe.parse(value, now)
        t1 = time.perf_counter()
        enriched = pipe.enrich(raw, parsed, now)
        t2 = time.perf_counter()
        hits = pipe.match(enriched)
        t3 = time.perf_counter()
        alerts += len(pipe.alerts(enriched, hits, now))
        t4 = time.perf_counter()
        for stage, secs in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            spent[stage] += secs
    total = time.perf_counter() - started
    per = ", ".join(f"{k} {v / len(values) * 1000:.2f} ms" for k, v in spent.items())
    print(f"{len(values)} articles: {per}; {len(values) / total:.0f} articles/s; {alerts} alerts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
