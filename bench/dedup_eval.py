"""Quality of story grouping (streams/stories) on hand-labelled ANT articles.

    .venv/bin/python bench/dedup_eval.py [../shared/data/ant/ant_multisource.jsonl.gz]
        [--threshold P] [--sweep] [--candidates K...]
        [--thresholds P... [--outlet-thresholds P...] [--anchors A...]]
        [--lookup heaviest|listed] [--model FILE]

The whole corpus is clustered in publication order with the worker's code (parse, enrich, story
features, assign_story), so document frequencies and the number of live stories are those of a
real stream; then two labelled sets (article ids and labels only, no corpus text) are scored:

- bench/data/story_pairs.json: cross-outlet pairs (same day or the next) labelled by reading
  both articles: same_event (a rewrite of one event), follow_up, same_topic_different_event,
  unrelated. Pairwise precision = grouped pairs that are same_event / all grouped pairs among
  same_event + different-event ones; recall = same_event pairs grouped. Follow-ups are reported
  apart (how many were grouped): a follow-up joining its story is neither right nor wrong.
- bench/data/dedup_labels.json: every article of three whole days with its story (transitive
  closure of its same-story pairs): pairwise figures and B-cubed precision/recall/F1.
- bench/data/story_pairs_heldout.json: 184 more pairs from three other days, labelled the same
  way and never trained on (`heldout_pairs`): the check that the model did not fit the first.

Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import hashlib
import itertools
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.classify import places as places_module
from streams.errors import BadInput
from streams.ingest.replay import to_raw
from streams.resources import data_file
from streams.settings import Settings
from streams.stories import features as features_module
from streams.stories import offline as offline_module
from streams.stories.cluster import StoryModel, StoryParams
from streams.stories.offline import StoryInput, cluster_in_order, story_input
from streams.times import utcnow
from streams.worker.pipeline import Pipeline

HERE = Path(__file__).resolve().parent
DEFAULT_CORPUS = HERE.parents[1] / "shared" / "data" / "ant" / "ant_multisource.jsonl.gz"
POSITIVE = "same_event"
NEGATIVE = ("same_topic_different_event", "unrelated")


def model_of(path: Path) -> StoryModel:
    """The weights of another model file (`--model`; bench/train_story_model.py --out)."""
    return StoryModel.from_mapping(orjson.loads(path.read_bytes()))


def load_inputs(corpus: Path) -> list[StoryInput]:
    settings = Settings()
    pipe = Pipeline.load(settings)
    tz = settings.tz_for_source("")
    out = []
    with gzip.open(corpus, "rb") as fh:
        for line in fh:
            raw = to_raw(orjson.loads(line), tz=tz)
            if raw is None:
                continue
            try:
                enriched = pipe.enriched(orjson.dumps(raw), utcnow())
            except BadInput:
                continue
            out.append(story_input(enriched, published=True))
    return out


def cached_inputs(corpus: Path) -> list[StoryInput]:
    """`load_inputs`, kept in .cache/ keyed by the corpus file and the code's features version,
    so a sweep or a training run does not parse 31,000 articles again (~2 min). The key covers
    the features code, the pickled StoryInput's own module, and the region classifier and its
    data (a story's places are the places its region evidence found)."""
    stat = corpus.stat()
    modules = (features_module, offline_module, places_module)
    parts = [Path(m.__file__ or "").read_bytes() for m in modules]
    parts += [data_file(name).read_bytes() for name in ("gazetteer.json", "places_curated.yaml")]
    code = hashlib.sha256(b"".join(parts)).hexdigest()[:12]
    key = f"{corpus.name}-{stat.st_size}-{int(stat.st_mtime)}-{code}"
    path = HERE.parent / ".cache" / "bench" / f"story-inputs-{key}.pickle"
    if path.exists():
        loaded: list[StoryInput] = pickle.loads(path.read_bytes())
        return loaded
    inputs = load_inputs(corpus)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(inputs))
    return inputs


def _groups(ids: list[str], pairs: list[list[str]]) -> dict[str, str]:
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[find(a)] = find(b)
    return {i: find(i) for i in ids}


def bcubed(truth: dict[str, str], predicted: dict[str, str]) -> tuple[float, float]:
    """B-cubed precision and recall (Bagga & Baldwin 1998) over the items of `truth`."""
    by_truth: dict[str, set[str]] = {}
    by_pred: dict[str, set[str]] = {}
    for item in truth:
        by_truth.setdefault(truth[item], set()).add(item)
        by_pred.setdefault(predicted[item], set()).add(item)
    p = r = 0.0
    for item in truth:
        mine_t, mine_p = by_truth[truth[item]], by_pred[predicted[item]]
        both = len(mine_t & mine_p)
        p += both / len(mine_p)
        r += both / len(mine_t)
    return p / len(truth), r / len(truth)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def pair_figures(story_of: dict[str, str], pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Pairwise precision and recall on labelled pairs (follow-ups counted apart)."""
    tp = fp = fn = 0
    follow_grouped = follow = 0
    for pair in pairs:
        same = story_of.get(pair["a"]) is not None and story_of.get(pair["a"]) == story_of.get(
            pair["b"]
        )
        if pair["label"] == POSITIVE:
            tp += same
            fn += not same
        elif pair["label"] in NEGATIVE:
            fp += same
        else:
            follow += 1
            follow_grouped += same
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return {
        "same_event": tp + fn,
        "different": sum(p["label"] in NEGATIVE for p in pairs),
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(_f1(precision, recall), 3),
        "follow_ups_grouped": f"{follow_grouped}/{follow}",
    }


def score(
    story_of: dict[str, str], pairs: list[dict[str, Any]], days: dict[str, Any]
) -> dict[str, Any]:
    ids = [i for i in days["articles"] if i in story_of]
    truth = _groups(
        ids, [p for p in days["same_story_pairs"] if p[0] in story_of and p[1] in story_of]
    )
    predicted = {i: story_of[i] for i in ids}
    bp, br = bcubed(truth, predicted)
    want = {frozenset(p) for g in _by(truth).values() for p in itertools.combinations(g, 2)}
    got = {frozenset(p) for g in _by(predicted).values() for p in itertools.combinations(g, 2)}
    return {
        "pairs": pair_figures(story_of, pairs),
        "days": {
            "articles": len(ids),
            "pair_precision": round(len(want & got) / len(got), 3) if got else 1.0,
            "pair_recall": round(len(want & got) / len(want), 3) if want else 1.0,
            "bcubed_precision": round(bp, 3),
            "bcubed_recall": round(br, 3),
            "bcubed_f1": round(_f1(bp, br), 3),
        },
    }


def _by(assign: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item, group in assign.items():
        out.setdefault(group, []).append(item)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--pairs", default=str(HERE / "data" / "story_pairs.json"))
    ap.add_argument("--days", default=str(HERE / "data" / "dedup_labels.json"))
    ap.add_argument(
        "--heldout",
        default=str(HERE / "data" / "story_pairs_heldout.json"),
        help="pairs never trained on, scored apart",
    )
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--sweep", action="store_true", help="also try a grid of thresholds")
    ap.add_argument(
        "--candidates",
        type=int,
        nargs="+",
        default=[],
        help="also try these numbers of candidate stories compared per article",
    )
    ap.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=[],
        help="also try these join thresholds (with each --outlet-thresholds value, if any)",
    )
    ap.add_argument(
        "--outlet-thresholds",
        type=float,
        nargs="+",
        default=[],
        help="also try these thresholds for joining a story the article's outlet reported"
        " (StoryParams.outlet_threshold; 0: the join threshold)",
    )
    ap.add_argument(
        "--anchors",
        type=float,
        nargs="+",
        default=[],
        help="with --thresholds/--outlet-thresholds: also try these anchors",
    )
    ap.add_argument(
        "--lookup",
        choices=("heaviest", "listed"),
        default=StoryParams().lookup,
        help="how the index finds and ranks candidates (StoryParams.lookup), for every setting",
    )
    ap.add_argument(
        "--model",
        type=Path,
        help="another model file's weights (bench/train_story_model.py --write --out FILE),"
        " for every setting; the join settings stay the packaged ones",
    )
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    pairs = orjson.loads(Path(args.pairs).read_bytes())["pairs"]
    days = orjson.loads(Path(args.days).read_bytes())
    held = Path(args.heldout)
    heldout = orjson.loads(held.read_bytes())["pairs"] if held.exists() else []
    started = time.perf_counter()
    inputs = cached_inputs(corpus)
    print(
        f"{len(inputs)} articles parsed and enriched in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    base = StoryParams()
    chosen = StoryParams(
        threshold=base.threshold if args.threshold is None else args.threshold,
        lookup=args.lookup,
    )
    if args.model:
        chosen = dataclasses.replace(chosen, model=model_of(args.model))
    grid = [chosen]
    if args.sweep:
        grid += [
            dataclasses.replace(chosen, threshold=t, anchor=a)
            for a in (0.0, 0.2, 0.5)
            for t in (0.6, 0.73, 0.85)
        ]
    grid += [dataclasses.replace(chosen, max_candidates=k) for k in args.candidates]
    grid += [
        dataclasses.replace(chosen, threshold=t, outlet_threshold=o, anchor=a)
        for a in args.anchors or [chosen.anchor]
        for t in args.thresholds or [chosen.threshold]
        for o in args.outlet_thresholds or [chosen.outlet_threshold]
        if args.thresholds or args.outlet_thresholds
    ]
    for params in grid:
        started = time.perf_counter()
        results = list(cluster_in_order(inputs, params))
        elapsed = time.perf_counter() - started
        story_of = {r["id"]: r["story_id"] for r in results}
        figures = score(story_of, pairs, days)
        if heldout:
            figures["heldout_pairs"] = pair_figures(story_of, heldout)
        setting = {
            "threshold": params.threshold,
            "anchor": params.anchor,
            "outlet_threshold": params.outlet_threshold,
            "candidates": params.max_candidates,
            "lookup": params.lookup,
            "ms_per_article": round(1000 * elapsed / max(1, len(results)), 3),
            "stories": len(set(story_of.values())),
        }
        print(orjson.dumps({**setting, **figures}).decode(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
