"""Precision and recall of story grouping (streams.stories.cluster) on a hand-labelled ANT sample.

    .venv/bin/python bench/dedup_eval.py [../shared/data/ant/ant_multisource.jsonl.gz]
        [--labels bench/data/dedup_labels.json] [--threshold T] [--shingle N] [--bands B --rows R]

The labels (bench/data/dedup_labels.json, article ids only, no corpus text) say which articles
of three days of ANT report the same story; see its "labelling" field for how it was built.
Articles are fed in publication order, exactly as the worker would assign them; the figures are
pairwise: precision = predicted same-story pairs that are labelled same-story, recall = labelled
pairs that were grouped. Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.stories.cluster import BandKey, StoryParams, assign_story, signature

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parents[1] / "shared" / "data" / "ant" / "ant_multisource.jsonl.gz"


def _pairs(groups: dict[str, list[str]]) -> set[frozenset[str]]:
    return {frozenset(p) for g in groups.values() for p in itertools.combinations(g, 2)}


def _label_groups(ids: list[str], pairs: list[list[str]]) -> dict[str, list[str]]:
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for i in ids:
        groups.setdefault(find(i), []).append(i)
    return groups


def evaluate(
    articles: list[dict[str, Any]], truth: dict[str, list[str]], params: StoryParams
) -> dict[str, float]:
    bands: dict[BandKey, Any] = {}
    stories: dict[str, Any] = {}
    predicted: dict[str, list[str]] = {}
    started = time.perf_counter()
    for art in articles:
        sig = signature(art["title"], art["text"], params)
        a = assign_story(
            art["id"], art["source"], sig, art["_ts"], bands=bands, stories=stories, params=params
        )
        predicted.setdefault(a.story_id, []).append(art["id"])
    elapsed = time.perf_counter() - started
    want, got = _pairs(truth), _pairs(predicted)
    tp = len(want & got)
    precision = tp / len(got) if got else 1.0
    recall = tp / len(want) if want else 1.0
    return {
        "articles": len(articles),
        "labelled_pairs": len(want),
        "predicted_pairs": len(got),
        "true_pairs": tp,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(2 * precision * recall / (precision + recall), 3) if tp else 0.0,
        "stories_labelled": len(truth),
        "stories_predicted": len(predicted),
        "ms_per_article": round(1000 * elapsed / max(1, len(articles)), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--labels", default=str(HERE / "data" / "dedup_labels.json"))
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--shingle", type=int, default=None)
    ap.add_argument("--bands", type=int, default=None)
    ap.add_argument("--rows", type=int, default=None)
    ap.add_argument("--sweep", action="store_true", help="also try a grid of thresholds/shingles")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    labels = orjson.loads(Path(args.labels).read_bytes())
    wanted = set(labels["articles"])
    articles = []
    with gzip.open(corpus, "rt", encoding="utf-8") as fh:
        for line in fh:
            art = orjson.loads(line)
            if art["id"] in wanted:
                art["_ts"] = parsedate_to_datetime(art["time"]).timestamp()
                articles.append(art)
    articles.sort(key=lambda a: (a["_ts"], a["id"]))
    truth = _label_groups([a["id"] for a in articles], labels["same_story_pairs"])
    base = StoryParams()
    params = StoryParams(
        threshold=args.threshold if args.threshold is not None else base.threshold,
        shingle_size=args.shingle or base.shingle_size,
        bands=args.bands or base.bands,
        rows=args.rows or base.rows,
    )
    grid = [params]
    if args.sweep:
        grid += [
            StoryParams(threshold=t, shingle_size=s, bands=b, rows=r)
            for s in (1, 2, 3)
            for t in (0.2, 0.3, 0.4, 0.5, 0.6)
            for b, r in ((32, 4), (64, 2))
        ]
    for p in grid:
        figures = evaluate(articles, truth, p)
        setting = {
            "shingle": p.shingle_size,
            "threshold": p.threshold,
            "bands": p.bands,
            "rows": p.rows,
        }
        print(orjson.dumps({**setting, **figures}).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
