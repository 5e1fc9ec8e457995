#!/usr/bin/env python3
"""Regions against labels made by reading (issue 15): is each article about the right places?

Usage:
    .venv/bin/python bench/eval_regions.py [ANT] [--labels bench/data/region_labels.json]
        [--half dev|test|all] [--errors N]

ANT defaults to ../shared/data/ant/ant_multisource.jsonl.gz (skipped, exit 0, when absent).
`bench/data/region_labels.json` holds ids and the countries each article is about (and those it
only mentions), labelled by reading; the texts stay in ../shared. Each article goes through the
worker's own parse + enrich (streams/worker/pipeline.py, the replay mapping of
streams/ingest/replay.py). Printed: micro precision/recall/F1 of `regions` against `about`, and
how many `mentioned` countries the enriched `mentioned` list holds. `--half` splits the labels
by a hash of the id (dev: tune on it; test: report it) so tuning does not read the test half.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.ingest.replay import to_raw  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.times import utcnow  # noqa: E402
from streams.worker.pipeline import Pipeline  # noqa: E402

DEFAULT_ANT = ROOT.parent / "shared" / "data" / "ant" / "ant_multisource.jsonl.gz"


def half_of(article_id: str) -> str:
    # salted: the sample itself was drawn by sha256(id) % 130 == 7 (all odd)
    digest = hashlib.sha256(f"half:{article_id}".encode()).hexdigest()
    return "dev" if int(digest, 16) % 2 == 0 else "test"


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ant", nargs="?", type=Path, default=DEFAULT_ANT)
    ap.add_argument("--labels", type=Path, default=ROOT / "bench" / "data" / "region_labels.json")
    ap.add_argument("--half", choices=("dev", "test", "all"), default="all")
    ap.add_argument("--errors", type=int, default=0, help="print this many wrong articles")
    args = ap.parse_args()
    if not args.ant.exists():
        print(f"skipped: {args.ant} not found")
        return 0
    labels = {
        row["id"]: row
        for row in json.loads(args.labels.read_text(encoding="utf-8"))["labels"]
        if args.half == "all" or half_of(row["id"]) == args.half
    }
    pipe = Pipeline.load(Settings())
    tz = ZoneInfo("Asia/Baghdad")
    tp = fp = fn = 0
    mentioned_seen = mentioned_total = 0
    wrong_codes: Counter[str] = Counter()
    missed_codes: Counter[str] = Counter()
    errors: list[str] = []
    n = 0
    with gzip.open(args.ant, "rt", encoding="utf-8") as stream:
        for line in stream:
            record: dict[str, Any] = json.loads(line)
            gold = labels.get(record["id"])
            if gold is None:
                continue
            raw = to_raw(record, tz=tz)
            if raw is None:
                continue
            enriched = pipe.enriched(orjson.dumps(raw), utcnow())
            n += 1
            about = set(gold["about"])
            got = {r["code"] for r in enriched["regions"]}
            tp += len(got & about)
            fp += len(got - about)
            fn += len(about - got)
            wrong_codes.update(got - about)
            missed_codes.update(about - got)
            listed = got | {r["code"] for r in enriched.get("mentioned", [])}
            mentioned_total += len(set(gold["mentioned"]))
            mentioned_seen += len(set(gold["mentioned"]) & listed)
            if got != about and len(errors) < args.errors:
                errors.append(
                    f"{record['id']} ({record['category']}): about {sorted(about)}, "
                    f"got {sorted(got)}, mentioned {sorted(gold['mentioned'])}"
                )
    p, r, f = prf(tp, fp, fn)
    print(f"regions vs `about` on {n} labelled ANT articles (half: {args.half})")
    print(f"  micro P {p:.3f}  R {r:.3f}  F1 {f:.3f}   (tp {tp}, fp {fp}, fn {fn})")
    print(f"  tagged but not about: {dict(wrong_codes.most_common(8))}")
    print(f"  about but missed:     {dict(missed_codes.most_common(8))}")
    if mentioned_total:
        print(
            f"  labelled `mentioned` countries found in regions or mentioned: "
            f"{mentioned_seen}/{mentioned_total}"
        )
    for e in errors:
        print("  " + e)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
