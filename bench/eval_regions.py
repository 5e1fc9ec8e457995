#!/usr/bin/env python3
"""Regions against labels made by reading (issue 15): is each article about the right places?

Usage:
    .venv/bin/python bench/eval_regions.py [ANT] [--labels FILE ...] [--errors N] [--fp]
    .venv/bin/python bench/eval_regions.py [ANT] --draw N --seed S   (ids for a new batch)

ANT defaults to ../shared/data/ant/ant_multisource.jsonl.gz (skipped, exit 0, when absent).
The label files (default: bench/data/region_labels.json, 234 articles sampled by a hash of the
id, and bench/data/region_labels_2.json, 164 drawn with a seed across outlets × sections) hold
ids and the countries each article is about (and those it only mentions), labelled by reading;
the texts stay in ../shared. `--fresh` (default bench/data/region_labels_3.json: 200 more,
drawn and labelled before the changes they measure) is scored as a block of its own and never
split or printed as errors: it stays a measure of articles nobody tuned on. Each article goes through the worker's own parse
(streams/worker/pipeline.py, the replay mapping of streams/ingest/replay.py) and the region
step of enrich (`locate` on the parsed title, body and dateline; topics are not run). Printed for the
dev half, the test half, all and the fresh set: micro precision/recall/F1 of `regions` against `about`, and
how many labelled `mentioned` countries the enriched `mentioned` list holds. The halves split
the labels by a salted hash of the id (dev: tune on it; test: report it). `--errors N` prints
N wrong dev articles; `--fp` prints each dev false positive with the evidence the classifier
gave (texts are printed, never written to the repo).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.classify.places import Gazetteer, locate  # noqa: E402
from streams.ingest.replay import to_raw  # noqa: E402
from streams.rules import RuleSet  # noqa: E402
from streams.settings import Settings  # noqa: E402
from streams.times import utcnow  # noqa: E402
from streams.worker.pipeline import Pipeline  # noqa: E402

DEFAULT_ANT = ROOT.parent / "shared" / "data" / "ant" / "ant_multisource.jsonl.gz"
DATA = ROOT / "bench" / "data"
DEFAULT_LABELS = (DATA / "region_labels.json", DATA / "region_labels_2.json")
DEFAULT_FRESH = DATA / "region_labels_3.json"
HALVES = ("dev", "test", "all", "fresh")


def half_of(article_id: str) -> str:
    # salted: the first sample itself was drawn by sha256(id) % 130 == 7 (all odd)
    digest = hashlib.sha256(f"half:{article_id}".encode()).hexdigest()
    return "dev" if int(digest, 16) % 2 == 0 else "test"


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def draw(
    records: Iterable[dict[str, Any]], taken: set[str], seed: int, n: int
) -> list[dict[str, Any]]:
    """A seeded batch spread over outlets × sections, none already labelled (id or text).

    Records with 200+ characters of text, sorted by id, shuffled by `random.Random(seed)`,
    grouped by (source, category); one per group in turn until `n`.
    """
    pool = sorted((r for r in records if len(r["text"]) >= 200), key=lambda r: r["id"])
    texts = {r["text"] for r in pool if r["id"] in taken}
    random.Random(seed).shuffle(pool)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in pool:
        if r["id"] not in taken:
            groups[(r["source"], r["category"])].append(r)
    out: list[dict[str, Any]] = []
    for row in zip_longest(*(groups[k] for k in sorted(groups))):
        for r in row:
            if r is not None and r["text"] not in texts and len(out) < n:
                texts.add(r["text"])
                out.append(r)
    return out


@dataclass
class Tally:
    n: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    mentioned_seen: int = 0
    mentioned_total: int = 0
    wrong: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)

    def add(self, about: set[str], got: set[str], mentioned: set[str], listed: set[str]) -> None:
        self.n += 1
        self.tp += len(got & about)
        self.fp += len(got - about)
        self.fn += len(about - got)
        self.wrong.update(got - about)
        self.missed.update(about - got)
        self.mentioned_total += len(mentioned)
        self.mentioned_seen += len(mentioned & listed)

    def report(self, half: str) -> None:
        p, r, f = prf(self.tp, self.fp, self.fn)
        print(f"{half:>4} ({self.n:3} articles): P {p:.3f}  R {r:.3f}  F1 {f:.3f}"
              f"   (tp {self.tp}, fp {self.fp}, fn {self.fn};"
              f" labelled `mentioned` listed {self.mentioned_seen}/{self.mentioned_total})")  # fmt: skip
        if half == "fresh":
            return  # its errors are not for reading: nothing is tuned on them
        print(f"      tagged but not about: {dict(self.wrong.most_common(8))}")
        print(f"      about but missed:     {dict(self.missed.most_common(8))}")


def read_labels(paths: Iterable[Path]) -> dict[str, dict[str, Any]]:
    labels: dict[str, dict[str, Any]] = {}
    for path in paths:
        if path.exists():
            for row in json.loads(path.read_text(encoding="utf-8"))["labels"]:
                labels[row["id"]] = row
    return labels


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ant", nargs="?", type=Path, default=DEFAULT_ANT)
    ap.add_argument("--labels", type=Path, nargs="+", default=list(DEFAULT_LABELS))
    ap.add_argument("--fresh", type=Path, default=DEFAULT_FRESH, help="held-back labels")
    ap.add_argument("--errors", type=int, default=0, help="print this many wrong dev articles")
    ap.add_argument("--fp", action="store_true", help="print dev false positives with evidence")
    ap.add_argument("--draw", type=int, default=0, help="print ids of a new batch of this size")
    ap.add_argument("--seed", type=int, default=152026)
    args = ap.parse_args()
    if not args.ant.exists():
        print(f"skipped: {args.ant} not found")
        return 0
    labels = read_labels(args.labels)
    if args.draw:  # excludes the --labels files only (name every earlier file there)
        with gzip.open(args.ant, "rt", encoding="utf-8") as stream:
            batch = draw(map(json.loads, stream), set(labels), args.seed, args.draw)
        print("\n".join(r["id"] for r in batch))
        return 0
    fresh = read_labels([args.fresh])
    if fresh.keys() & labels.keys():
        print(f"{args.fresh} shares ids with --labels: it would not be fresh", file=sys.stderr)
        return 2
    # Not Pipeline.load: its warm-up runs the topic step too, which this does not measure.
    settings = Settings()
    pipe = Pipeline(settings, RuleSet.from_yaml(settings.rules_file), Gazetteer.load())
    tz = ZoneInfo("Asia/Baghdad")
    tallies = {h: Tally() for h in HALVES}
    errors: list[str] = []
    with gzip.open(args.ant, "rt", encoding="utf-8") as stream:
        for line in stream:
            record: dict[str, Any] = json.loads(line)
            gold = labels.get(record["id"]) or fresh.get(record["id"])
            if gold is None:
                continue
            raw = to_raw(record, tz=tz)
            if raw is None:
                continue
            _, parsed = pipe.parse(orjson.dumps(raw), utcnow())
            found = locate(
                parsed.title, parsed.body, dateline=parsed.dateline, gazetteer=pipe.gazetteer
            )
            about, mentioned = set(gold["about"]), set(gold["mentioned"])
            got = {r.code for r in found.about}
            listed = got | {r.code for r in found.mentioned}
            if record["id"] in fresh:
                tallies["fresh"].add(about, got, mentioned, listed)
                continue
            half = half_of(record["id"])
            for h in (half, "all"):
                tallies[h].add(about, got, mentioned, listed)
            if half != "dev" or got == about:
                continue
            if len(errors) < args.errors:
                errors.append(f"{record['id']}: about {sorted(about)}, got {sorted(got)}, "
                              f"mentioned {sorted(mentioned)}")  # fmt: skip
            if args.fp:
                for r in found.about:
                    if r.code not in about:
                        ev = [(e.field[0], e.start, e.text) for e in r.evidence]
                        print(f"FP {record['id']} {r.code} {r.score}: {record['title']}")
                        print(f"   about {sorted(about)} evidence {ev[:12]}")
    names = ", ".join(p.name for p in args.labels)
    print(f"regions vs `about`, labelled ANT articles ({names}; fresh: {args.fresh.name})")
    for h in HALVES:
        if tallies[h].n or h != "fresh":
            tallies[h].report(h)
    for e in errors:
        print("  " + e)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
