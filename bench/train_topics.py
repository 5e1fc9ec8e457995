#!/usr/bin/env python3
"""Train the topic model (streams/classify/topic_model.py) on ANT and write its weights.

Usage:
    .venv/bin/python bench/train_topics.py [ANT] [--write]

ANT defaults to ../shared/data/ant/ant_multisource.jsonl.gz (skipped, exit 0, when absent).
Labels: the outlet's section for economy, sport, technology and culture; for the news sections
(middleEast, internationalNews) the lexicons' first topic when it is clearly ahead (the second,
if any, scores under 0.8 of it); other news articles are left out. A fifth of ANT
(topic_model.heldout) is never trained on, so bench/eval_classify.py can score it. ASND is not
used (no licence): it only evaluates.

Model: naive Bayes over each article's distinct words (title + first 150 body words), Laplace
smoothing, no class prior (the sections' sizes say nothing about a monitoring stream); words in
at least MIN_DF training articles are kept, then those whose centred log-probability moves some
topic by at least PRUNE. Pure Python, no dependency. `--write` writes
streams/data/topic_model.json; without it the figures are printed only.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streams.classify.topic_model import (  # noqa: E402
    BODY_WORDS,
    MODEL_FILE,
    SCALE,
    features,
    heldout,
)
from streams.classify.topics import TOPICS, lexicon_topics  # noqa: E402
from streams.text.arabic import tokenize  # noqa: E402

DEFAULT_ANT = ROOT.parent / "shared" / "data" / "ant" / "ant_multisource.jsonl.gz"
SECTIONS = {
    "economy": "economy",
    "sport": "sports",
    "technology": "technology",
    "culture": "culture",
}
NEWS = {"security", "politics", "justice", "health", "society", "environment"}
MIN_DF, PRUNE, CLEAR_LEAD = 3, 1.0, 0.8


def label(record: dict[str, object], title: str, body: str) -> str | None:
    section = SECTIONS.get(str(record["category"]))
    if section is not None:
        return section
    found = lexicon_topics(title, body)
    if not found or found[0].code not in NEWS:
        return None
    if len(found) > 1 and found[1].score > CLEAR_LEAD * found[0].score:
        return None
    return found[0].code


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ant", nargs="?", type=Path, default=DEFAULT_ANT)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    if not args.ant.exists():
        print(f"skipped: {args.ant} not found")
        return 0
    started = time.perf_counter()
    df: dict[str, Counter[str]] = defaultdict(Counter)
    docs: Counter[str] = Counter()
    with gzip.open(args.ant, "rt", encoding="utf-8") as stream:
        for line in stream:
            record = json.loads(line)
            if heldout(record["id"]):
                continue
            title, body = record.get("title") or "", record.get("text") or ""
            topic = label(record, title, body)
            if topic is None:
                continue
            words = tokenize(title).words + tokenize(body).words[:BODY_WORDS]
            docs[topic] += 1
            df[topic].update(set(features(words)))
    topics = [t for t in TOPICS if docs[t]]
    vocab = Counter[str]()
    for topic in topics:
        vocab.update(df[topic])
    kept = sorted(w for w, n in vocab.items() if n >= MIN_DF)
    totals = {t: sum(df[t][w] for w in kept) for t in topics}
    weights: dict[str, list[int]] = {}
    for word in kept:
        logp = [math.log((df[t][word] + 1) / (totals[t] + len(kept))) for t in topics]
        mean = sum(logp) / len(logp)
        centred = [x - mean for x in logp]
        if max(abs(x) for x in centred) >= PRUNE:
            weights[word] = [round(x * SCALE) for x in centred]
    print(f"trained on {sum(docs.values())} ANT articles: {dict(docs.most_common())}")
    print(f"{len(kept)} words seen in >= {MIN_DF} articles, {len(weights)} kept")
    print(f"{time.perf_counter() - started:.0f} s")
    if args.write:
        doc = {
            "about": "Topic model weights, written by bench/train_topics.py; do not edit.",
            "trained_on": "ANT (Apache-2.0; Chouigui et al., AICCSA 2017), heldout fifth excluded",
            "topics": topics,
            "weights": weights,
        }
        out = ROOT / "streams" / "data" / MODEL_FILE
        out.write_bytes(orjson.dumps(doc) + b"\n")
        print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
