#!/usr/bin/env python3
"""CPU cost of each pipeline stage per article, offline (no Kafka): what bounds one worker.

Usage: .venv/bin/python bench/stages.py [--limit N] [--short] [DATA]
Profile it:  .venv/bin/pyinstrument -r text bench/stages.py --limit 1000

DATA defaults to ../shared/data/ant/ant_multisource.jsonl.gz (skipped cleanly if absent);
with --short, to the ASND short posts (../shared/data/asnd/asnd_train_dev.jsonl: tweets and
breaking lines, ~120 characters, body only), where per-article overhead dominates.
Prints milliseconds per article for parse, enrich, match and alerts, and articles/s overall.
Every article is run once untimed first, so the figures are warm (memos and caches filled,
as in a running worker).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.pipeline import DEFAULT_DATA, read_articles  # noqa: E402
from streams.errors import BadInput  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.times import utcnow  # noqa: E402
from streams.worker.pipeline import Pipeline  # noqa: E402

DEFAULT_SHORT = ROOT.parent / "shared" / "data" / "asnd" / "asnd_train_dev.jsonl"


def read_short(path: Path, limit: int) -> list[dict[str, Any]]:
    """ASND posts as raw messages (no title: the post is the body)."""
    out: list[dict[str, Any]] = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            if len(out) >= limit:
                break
            if line.strip():
                d = json.loads(line)
                out.append(
                    {"schema_version": 1, "id": f"asnd-{d['id']}", "source": "asnd",
                     "body": d["text"], "content_type": "text/plain"}
                )  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("data", nargs="?", type=Path)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--short", action="store_true", help="ASND short posts (~120 chars)")
    args = parser.parse_args()
    data = args.data or (DEFAULT_SHORT if args.short else DEFAULT_DATA)
    if not data.exists():
        print(f"skipped: {data} not found")
        return 0
    articles = read_short(data, args.limit) if args.short else read_articles(data, args.limit)
    values = [orjson.dumps(a) for a in articles]
    pipe = Pipeline.load(Settings())
    now = utcnow()
    for value in values:  # warm: memos, stem caches, the automaton, as in a running worker
        try:
            raw, parsed = pipe.parse(value, now)
        except BadInput:
            continue
        pipe.match(pipe.enrich(raw, parsed, now))
    values = [v for v in values if _parses(pipe, v, now)]
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
    chars = sum(len(orjson.loads(v)["body"]) for v in values) // max(1, len(values))
    print(
        f"{len(values)} articles ({chars} chars avg): {per}; {len(values) / total:.0f} articles/s; {alerts} alerts"
    )
    return 0


def _parses(pipe: Pipeline, value: bytes, now: datetime) -> bool:
    try:
        pipe.parse(value, now)
    except BadInput:
        return False  # dead-lettered: not an article to time
    return True


if __name__ == "__main__":
    sys.exit(main())
