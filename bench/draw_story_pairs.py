"""Draw cross-outlet article pairs to label for the story model (ids only, for reading by hand).

    .venv/bin/python bench/draw_story_pairs.py [ANT] --seed S [--days 2] [--show FILE]

The selection of bench/data/story_pairs.json, on days none of the labelled sets uses: days are
drawn with `random.Random(seed)` among those with 60+ articles; per day, cross-outlet pairs
(one article published that day, the other that day or the next) scored by TF-IDF cosine over
the title twice and the first 250 words; exact copies (word Jaccard >= 0.9) left out; up to 40
pairs with cosine >= 0.35, 36 sampled at 0.18-0.35 and 12 at 0.08-0.18 (the same seed). Prints
the pairs as JSON lines (`a`, `b`, `day`, `cosine`); `--show` prints them with the first 900
characters of both texts, for reading (to the terminal only: corpus text is never stored in
the repository). Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import gzip
import math
import random
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_eval import DEFAULT_CORPUS, HERE, cached_inputs

WORD = re.compile(r"\w+")
BANDS = ((0.35, 1.01, 40, False), (0.18, 0.35, 36, True), (0.08, 0.18, 12, True))


def _labelled_days() -> set[str]:
    # the training pairs' days (not the held-out file's: the same seed draws those again)
    pairs = orjson.loads((HERE / "data" / "story_pairs.json").read_bytes())["pairs"]
    days = {p["day"] for p in pairs}
    days |= {"2018-05-07", "2018-05-08", "2018-05-09"}  # dedup_labels.json
    return days


def _vector(record: dict[str, Any], idf: dict[str, float]) -> dict[str, float]:
    words = WORD.findall(record["title"]) * 2 + WORD.findall(record["text"])[:250]
    counts = Counter(words)
    vec = {w: (1 + math.log(c)) * idf.get(w, 1.0) for w, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {w: v / norm for w, v in vec.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--seed", type=int, default=20261203)
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--show", help="pairs (JSON lines) to print with their texts")
    ap.add_argument("--chars", type=int, default=900, help="characters of each text shown")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    with gzip.open(corpus, "rb") as fh:
        records = {r["id"]: r for r in map(orjson.loads, fh)}
    if args.show:
        for line in Path(args.show).read_text().splitlines():
            pair = orjson.loads(line)
            print(f"=== {pair['n']} {pair['a']} | {pair['b']} cos={pair['cosine']}")
            for side in ("a", "b"):
                r = records[pair[side]]
                text = " ".join(r["text"].split())[: args.chars]
                print(f"[{side}] {r['title']}\n    {text}")
        return 0
    stamps = {i.article_id: i.at for i in cached_inputs(corpus) if i.article_id in records}
    day_of = {a: _day(t) for a, t in stamps.items()}
    per_day = Counter(day_of.values())
    taken = _labelled_days()
    rng = random.Random(args.seed)
    pool = sorted(d for d, n in per_day.items() if n >= 60 and d not in taken)
    days = sorted(rng.sample(pool, args.days))
    df: Counter[str] = Counter()
    for r in records.values():
        df.update(set(WORD.findall(r["title"]) + WORD.findall(r["text"])[:250]))
    idf = {w: math.log(len(records) / c) for w, c in df.items()}
    n = 0
    for day in days:
        nxt = _next(day)
        today = sorted(a for a, d in day_of.items() if d == day)
        both = sorted(a for a, d in day_of.items() if d in (day, nxt))
        vecs = {a: _vector(records[a], idf) for a in both}
        scored = []
        for a in today:
            for b in both:
                if (b <= a and day_of[b] == day) or records[a]["source"] == records[b]["source"]:
                    continue
                va, vb = vecs[a], vecs[b]
                cos = sum(w * vb[t] for t, w in va.items() if t in vb)
                wa, wb = set(va), set(vb)
                if len(wa & wb) / len(wa | wb) >= 0.9:
                    continue
                scored.append((round(cos, 4), min(a, b), max(a, b)))
        scored = sorted(set(scored), key=lambda s: (-s[0], s[1], s[2]))
        for low, high, quota, sample in BANDS:
            band = [s for s in scored if low <= s[0] < high]
            chosen = rng.sample(band, min(quota, len(band))) if sample else band[:quota]
            for cos, a, b in sorted(chosen, key=lambda s: (-s[0], s[1], s[2])):
                n += 1
                print(orjson.dumps({"n": n, "a": a, "b": b, "day": day, "cosine": cos}).decode())
    return 0


def _day(at: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, UTC).date().isoformat()


def _next(day: str) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


if __name__ == "__main__":
    sys.exit(main())
