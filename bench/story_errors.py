"""Why labelled story pairs are missed or wrongly merged (error analysis for bench/dedup_eval.py).

    .venv/bin/python bench/story_errors.py [../shared/data/ant/ant_multisource.jsonl.gz]
        [--list] [--lookup heaviest|listed] [--model FILE]

Clusters the whole corpus in publication order with the worker's code (`assign_story`, the
packaged model and join settings), as bench/dedup_eval.py does, and, just before the later
article of each labelled pair (same_event and different-event ones; follow-ups left out) is
assigned, looks at the story the earlier one is in at that moment:

- `not_a_candidate`: the index did not rank that story among the `max_candidates` compared
  (no scoring can help: candidate recall);
- `gated`: compared, but skipped by the gate (shares almost nothing of the lead and rare terms);
- `below_threshold`: its probability is below the join threshold;
- `own_outlet`: above it, but below `StoryParams.outlet_threshold` for a story the article's
  own outlet has already reported;
- `anchor`: above it, but not a plausible report of the story's first article;
- `another_story`: it passed, but the article joined a story scoring higher.

`pair_p_passes` counts the missed same_event pairs whose two articles alone (the later against a
story of the earlier one only) reach the threshold: what comparing with a story's members rather
than its centroid could recover at most. Prints one JSON line per labelled set; `--list` adds
the missed and wrongly merged pairs' ids with their figures (ids only: no corpus text).
Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_eval import DEFAULT_CORPUS, HERE, NEGATIVE, POSITIVE, cached_inputs, model_of

from streams.stories.cluster import (
    Clusterer,
    Query,
    StoryParams,
    Vectors,
    add_member,
    anchored,
    article_vectors,
    compare,
    new_story,
    reported_by,
    scored,
)
from streams.stories.docfreq import DocFreq
from streams.stories.offline import StoryInput

SETS = {"pairs": "story_pairs.json", "heldout_pairs": "story_pairs_heldout.json"}


def _vectors_as_assigned(item: StoryInput, df: DocFreq) -> Vectors:
    """The article's vectors as `assign_story` will weigh them (its terms counted once more),
    without counting them: `DocFreq.add_weighed`'s doubles when the counts are neither halved
    nor trimmed by this article (then the weights of the counts before it)."""
    base = 1.0 + math.log(df.docs + 2)
    get = df.counts.get
    weights = {t: base - math.log(get(t, 0) + 2) for t in item.features.terms()}
    return article_vectors(item.features, df, weights)


def _why(
    item: StoryInput,
    earlier: StoryInput,
    clusterer: Clusterer,
    story_id: str,
) -> dict[str, Any]:
    """How the later article compares with the story the earlier one is in, before it joins."""
    params, stories = clusterer.params, clusterer.stories
    vectors = _vectors_as_assigned(item, clusterer.df)
    query = Query.of(vectors, params.index_terms)
    horizon = item.at - params.window_seconds
    candidates = clusterer.index.candidates(vectors, horizon, params, query)
    story = stories.get(story_id)
    pair = new_story(earlier.at)
    add_member(pair, article_vectors(earlier.features, clusterer.df), earlier.features, earlier.at)
    out: dict[str, Any] = {
        "candidate": story_id in candidates,
        "pair_p": round(
            compare(vectors, item.features, pair, item.at).probability(params.model), 3
        ),
    }
    if story is None or story["last_seen"] < horizon:
        out["state"] = "closed"
        return out
    p = scored(vectors, item.features, story, item.at, params, query)
    p_full = compare(vectors, item.features, story, item.at).probability(params.model)
    out.update(
        size=int(story["size"]),
        age_hours=round((item.at - story["first_seen"]) / 3600, 1),
        p=round(p_full, 3),
        gated=p is None,
        own_outlet=reported_by(story, item.source),
        anchored=anchored(p_full, vectors, item.features, story, item.at, params, query),
    )
    return out


def _category(why: dict[str, Any], threshold: float, outlet_threshold: float = 0.0) -> str:
    if not why["candidate"]:
        return "not_a_candidate"
    if why.get("state") == "closed":
        return "closed"
    if why["gated"]:
        return "gated"
    if why["p"] < threshold:
        return "below_threshold"
    if why["p"] < outlet_threshold and why["own_outlet"]:
        return "own_outlet"
    if not why["anchored"]:
        return "anchor"
    return "another_story"


def analyse(
    inputs: list[StoryInput],
    sets: dict[str, list[dict[str, Any]]],
    params: StoryParams | None = None,
) -> dict[str, Any]:
    by_id = {i.article_id: i for i in inputs}
    ordered = sorted(enumerate(inputs), key=lambda item: (item[1].at, item[0]))
    position = {item.article_id: k for k, (_, item) in enumerate(ordered)}
    later: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for name, pairs in sets.items():
        for pair in pairs:
            if pair["label"] != POSITIVE and pair["label"] not in NEGATIVE:
                continue
            first, second = sorted((pair["a"], pair["b"]), key=position.__getitem__)
            later.setdefault(second, []).append((name, first, pair))
    clusterer = Clusterer(params or StoryParams())
    story_of: dict[str, str] = {}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in sets}
    for _, item in ordered:
        pending = [
            (name, first, pair, _why(item, by_id[first], clusterer, story_of[first]))
            for name, first, pair in later.get(item.article_id, ())
        ]
        assignment = clusterer.add(
            item.article_id, item.source, item.features, item.at, item.revision
        )
        story_of[item.article_id] = assignment.story_id
        for name, first, pair, why in pending:
            grouped = story_of[first] == assignment.story_id
            results[name].append(
                {
                    "a": first,
                    "b": item.article_id,
                    "label": pair["label"],
                    "grouped": grouped,
                    **why,
                }
            )
    threshold, outlet_threshold = clusterer.params.threshold, clusterer.params.outlet_threshold
    out: dict[str, Any] = {}
    for name, rows in results.items():
        positive = [r for r in rows if r["label"] == POSITIVE]
        missed = [r for r in positive if not r["grouped"]]
        wrong = [r for r in rows if r["label"] != POSITIVE and r["grouped"]]
        out[name] = {
            "same_event": len(positive),
            "grouped": len(positive) - len(missed),
            "missed": dict(
                Counter(_category(r, threshold, outlet_threshold) for r in missed).most_common()
            ),
            "candidate_recall": round(sum(r["candidate"] for r in positive) / len(positive), 3)
            if positive
            else 1.0,
            "pair_p_passes": sum(r["pair_p"] >= threshold for r in missed),
            "different": len(rows) - len(positive),
            "wrong_merges": len(wrong),
            "rows": {"missed": missed, "wrong": wrong},
        }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--list", action="store_true", help="also print the pairs, ids and figures")
    ap.add_argument(
        "--lookup",
        choices=("heaviest", "listed"),
        default=StoryParams().lookup,
        help="how the index finds and ranks candidates (StoryParams.lookup)",
    )
    ap.add_argument("--model", type=Path, help="another model file's weights (dedup_eval --model)")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    sets = {}
    for name, file in SETS.items():
        path = HERE / "data" / file
        if path.exists():
            sets[name] = orjson.loads(path.read_bytes())["pairs"]
    params = StoryParams(lookup=args.lookup)
    if args.model:
        params = dataclasses.replace(params, model=model_of(args.model))
    report = analyse(cached_inputs(corpus), sets, params)
    for name, figures in report.items():
        rows = figures.pop("rows")
        print(orjson.dumps({"set": name, **figures}).decode())
        if args.list:
            for kind, listed in rows.items():
                for row in listed:
                    print(orjson.dumps({"set": name, "kind": kind, **row}).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
