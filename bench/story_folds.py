"""How much of the story join thresholds is fit: choose them by folds of days.

    .venv/bin/python bench/story_folds.py [../shared/data/ant/ant_multisource.jsonl.gz]
        [--thresholds P...] [--outlet-thresholds P...] [--folds 5] [--lookup heaviest|listed]
        [--model FILE]
        [--jobs 2]

The whole corpus is clustered in publication order with the worker's code once per setting
(join threshold x outlet threshold, the packaged anchor), as bench/dedup_eval.py does. The
training pairs (bench/data/story_pairs.json) are cut into folds by day (day i of the sorted
days -> fold i % folds, as bench/train_story_model.py cuts them). For each fold the setting
with the best pairwise F1 on the OTHER folds' pairs is chosen (ties: the higher precision,
then the grid's order) and scored on the fold's own pairs; the out-of-fold figures are the
folds' counts summed. So the spread of the chosen thresholds over the folds and the gap between
the in-sample best and the out-of-fold figures say how much of a chosen setting is fit to the
pairs. The held-out pairs and the labelled days are printed per setting, never used to choose.
One JSON line per setting, then one per fold, then the summary. Skips cleanly when the corpus
is absent.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_eval import (
    DEFAULT_CORPUS,
    HERE,
    NEGATIVE,
    POSITIVE,
    cached_inputs,
    model_of,
    pair_figures,
    score,
)

from streams.stories.cluster import StoryParams
from streams.stories.offline import cluster_in_order


def counts(grouped: list[tuple[str, bool]]) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of (label, grouped) pairs; follow-ups
    and other labels count for nothing."""
    tp = sum(g for label, g in grouped if label == POSITIVE)
    fn = sum(not g for label, g in grouped if label == POSITIVE)
    fp = sum(g for label, g in grouped if label in NEGATIVE)
    return tp, fp, fn


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def choose(
    rows: list[list[tuple[str, bool]]], days: list[str], keep: set[str]
) -> tuple[int, tuple[float, float, float]]:
    """The index of the setting (a row of (label, grouped) per pair) with the best F1 over the
    pairs of `keep` days, ties to the higher precision, then the first; and its figures."""
    best: tuple[float, float, int] | None = None
    figures = (0.0, 0.0, 0.0)
    for k, row in enumerate(rows):
        p, r, f1 = prf(*counts([x for x, d in zip(row, days, strict=True) if d in keep]))
        if best is None or (f1, p) > best[:2]:
            best, figures = (f1, p, k), (p, r, f1)
    assert best is not None
    return best[2], figures


def _cluster(job: tuple[str, StoryParams]) -> dict[str, str]:
    corpus, params = job
    return {r["id"]: r["story_id"] for r in cluster_in_order(cached_inputs(Path(corpus)), params)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument(
        "--thresholds", type=float, nargs="+", default=[0.5, 0.55, 0.6, 0.65, 0.7, 0.73]
    )
    ap.add_argument(
        "--outlet-thresholds",
        type=float,
        nargs="+",
        default=[0.0, 0.8, 0.85, 0.9],
        help="0: no outlet rule (the join threshold for every story)",
    )
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--lookup", choices=("heaviest", "listed"), default=StoryParams().lookup)
    ap.add_argument("--model", type=Path, help="another model file's weights (dedup_eval --model)")
    ap.add_argument("--jobs", type=int, default=1, help="settings clustered at once")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    pairs = orjson.loads((HERE / "data" / "story_pairs.json").read_bytes())["pairs"]
    heldout = orjson.loads((HERE / "data" / "story_pairs_heldout.json").read_bytes())["pairs"]
    labelled_days = orjson.loads((HERE / "data" / "dedup_labels.json").read_bytes())
    cached_inputs(corpus)  # parsed once here, read from the cache by the jobs
    base = StoryParams(lookup=args.lookup)
    if args.model:
        base = dataclasses.replace(base, model=model_of(args.model))
    grid = [
        dataclasses.replace(base, threshold=t, outlet_threshold=o)
        for t in args.thresholds
        for o in args.outlet_thresholds
    ]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        clusterings = list(pool.map(_cluster, [(str(corpus), p) for p in grid]))
    days = [str(p["day"]) for p in pairs]
    rows: list[list[tuple[str, bool]]] = []
    for params, story_of in zip(grid, clusterings, strict=True):
        rows.append(
            [
                (
                    p["label"],
                    story_of.get(p["a"]) is not None
                    and story_of.get(p["a"]) == story_of.get(p["b"]),
                )
                for p in pairs
            ]
        )
        figures = score(story_of, pairs, labelled_days)
        out = {
            "threshold": params.threshold,
            "outlet_threshold": params.outlet_threshold,
            "lookup": params.lookup,
            "pairs": figures["pairs"],
            "heldout_pairs": pair_figures(story_of, heldout),
            "days_bcubed_f1": figures["days"]["bcubed_f1"],
        }
        print(orjson.dumps(out).decode(), flush=True)
    fold_of = {d: i % args.folds for i, d in enumerate(sorted(set(days)))}
    total = [0, 0, 0]
    chosen = []
    for f in range(args.folds):
        train = {d for d, k in fold_of.items() if k != f}
        test = {d for d, k in fold_of.items() if k == f}
        k, (p, r, f1) = choose(rows, days, train)
        tp, fp, fn = counts([x for x, d in zip(rows[k], days, strict=True) if d in test])
        total = [total[0] + tp, total[1] + fp, total[2] + fn]
        tp_, tr_, tf_ = prf(tp, fp, fn)
        chosen.append(grid[k])
        line = {
            "fold": f,
            "days": sorted(test),
            "chosen": [grid[k].threshold, grid[k].outlet_threshold],
            "train_p_r_f1": [round(p, 3), round(r, 3), round(f1, 3)],
            "fold_p_r_f1": [round(tp_, 3), round(tr_, 3), round(tf_, 3)],
            "fold_tp_fp_fn": [tp, fp, fn],
        }
        print(orjson.dumps(line).decode(), flush=True)
    k, (p, r, f1) = choose(rows, days, set(days))
    op, orr, of1 = prf(*total)
    summary = {
        "in_sample_best": [grid[k].threshold, grid[k].outlet_threshold],
        "in_sample_p_r_f1": [round(p, 3), round(r, 3), round(f1, 3)],
        "out_of_fold_p_r_f1": [round(op, 3), round(orr, 3), round(of1, 3)],
        "chosen_thresholds": sorted({c.threshold for c in chosen}),
        "chosen_outlet_thresholds": sorted({c.outlet_threshold for c in chosen}),
    }
    print(orjson.dumps(summary).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
