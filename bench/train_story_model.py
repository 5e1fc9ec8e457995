"""Train the story model (streams/data/story_model.json) on the labelled pairs.

    .venv/bin/python bench/train_story_model.py [../shared/data/ant/ant_multisource.jsonl.gz]
        [--pairs bench/data/story_pairs.json] [--precision 0.95] [--write]

Each labelled cross-outlet pair (bench/data/story_pairs.json) becomes one example, computed with
the worker's own code: the earlier article opens a story (`new_story` + `add_member`), the later
one is compared with it (`compare`); same_event = 1, same_topic_different_event and unrelated
= 0, follow-ups left out. Document frequencies are those of the whole corpus, fed in
publication order as the worker would learn them. A logistic regression (L2, Newton's method;
a few numbers, so no library is needed) is fitted; the threshold is the lowest probability at
which 5-fold cross-validated pair precision reaches --precision (`pair_threshold`). The folds
are by DAY (every pair of one day in the same fold), so a fold is scored on events the model
never saw. --heldout (default bench/data/story_pairs_heldout.json) is never trained on: the
model fitted on all training pairs is scored on it at that threshold, as a check. The
`join` block (threshold and anchor for whole-stream clustering, chosen with
bench/dedup_eval.py --sweep) is kept as it is. Prints the cross-validated figures;
--write stores the model. Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dedup_eval import DEFAULT_CORPUS, HERE, NEGATIVE, POSITIVE, cached_inputs

from streams.stories.cluster import FEATURES, add_member, article_vectors, compare, new_story
from streams.stories.docfreq import DocFreq

NAMES = FEATURES
MODEL = HERE.parent / "streams" / "data" / "story_model.json"


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (a is small and positive definite)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col and m[col][col]:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def fit(xs: list[list[float]], ys: list[int], l2: float = 0.1) -> list[float]:
    """Logistic regression weights [bias, w...] by Newton's method, L2 on the weights only."""
    k = len(xs[0]) + 1
    w = [0.0] * k
    for _ in range(50):
        grad = [0.0] * k
        hess = [[0.0] * k for _ in range(k)]
        for x, y in zip(xs, ys, strict=True):
            row = [1.0, *x]
            p = 1 / (
                1 + math.exp(-max(-50, min(50, sum(a * b for a, b in zip(w, row, strict=True)))))
            )
            for i in range(k):
                grad[i] += (p - y) * row[i]
                for j in range(k):
                    hess[i][j] += p * (1 - p) * row[i] * row[j]
        for i in range(1, k):
            grad[i] += l2 * w[i]
            hess[i][i] += l2
        step = _solve(hess, grad)
        w = [a - b for a, b in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-8:
            break
    return w


def prob(w: list[float], x: list[float]) -> float:
    z = w[0] + sum(a * b for a, b in zip(w[1:], x, strict=True))
    return 1 / (1 + math.exp(-max(-50, min(50, z))))


def examples(
    corpus: Path, pairs: list[dict[str, Any]], names: tuple[str, ...] = NAMES
) -> tuple[list[list[float]], list[int], list[str]]:
    """Features, labels and day of each usable pair."""
    inputs = cached_inputs(corpus)
    df = DocFreq(horizon=10**9, max_terms=10**9)
    for item in sorted(inputs, key=lambda i: i.at):
        df.add(item.features.terms())
    by_id = {i.article_id: i for i in inputs}
    xs, ys, days = [], [], []
    for pair in pairs:
        if pair["label"] != POSITIVE and pair["label"] not in NEGATIVE:
            continue
        a, b = sorted((by_id[pair["a"]], by_id[pair["b"]]), key=lambda i: (i.at, i.article_id))
        story = new_story(a.at)
        add_member(story, article_vectors(a.features, df), a.features, a.at)
        sim = compare(article_vectors(b.features, df), b.features, story, b.at)
        xs.append([getattr(sim, n) for n in names])
        ys.append(int(pair["label"] == POSITIVE))
        days.append(str(pair["day"]))
    return xs, ys, days


def cross_validated(
    xs: list[list[float]], ys: list[int], days: list[str], folds: int = 5
) -> list[float]:
    """Out-of-fold probabilities, folds by day (day i of the sorted days → fold i % folds)."""
    fold_of = {d: i % folds for i, d in enumerate(sorted(set(days)))}
    out = [0.0] * len(xs)
    for f in range(folds):
        train = [i for i in range(len(xs)) if fold_of[days[i]] != f]
        w = fit([xs[i] for i in train], [ys[i] for i in train])
        for i in range(len(xs)):
            if fold_of[days[i]] == f:
                out[i] = prob(w, xs[i])
    return out


def pr(scores: list[float], ys: list[int], threshold: float) -> tuple[float, float]:
    tp = sum(1 for s, y in zip(scores, ys, strict=True) if s >= threshold and y)
    predicted = sum(1 for s in scores if s >= threshold)
    return (tp / predicted if predicted else 1.0), tp / max(1, sum(ys))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("corpus", nargs="?", default=str(DEFAULT_CORPUS))
    ap.add_argument("--pairs", default=str(HERE / "data" / "story_pairs.json"))
    ap.add_argument("--heldout", default=str(HERE / "data" / "story_pairs_heldout.json"))
    ap.add_argument("--precision", type=float, default=0.95)
    ap.add_argument(
        "--features", default=",".join(NAMES), help="the features to fit (the others weigh 0)"
    )
    ap.add_argument("--write", action="store_true", help=f"store the model in {MODEL}")
    ap.add_argument("--out", type=Path, help="with --write: store it here instead")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    if not corpus.exists():
        print(f"skip: corpus {corpus} not found")
        return 0
    pairs = orjson.loads(Path(args.pairs).read_bytes())["pairs"]
    names = tuple(n for n in NAMES if n in args.features.split(","))
    xs, ys, days = examples(corpus, pairs, names)
    scores = cross_validated(xs, ys, days)
    grid = [t / 100 for t in range(5, 96)]
    ok = [t for t in grid if pr(scores, ys, t)[0] >= args.precision]
    threshold = min(ok) if ok else 0.95
    p, r = pr(scores, ys, threshold)
    w = fit(xs, ys)
    heldout: dict[str, Any] = {}
    if Path(args.heldout).exists():
        held = orjson.loads(Path(args.heldout).read_bytes())["pairs"]
        hx, hy, _ = examples(corpus, held, names)
        hp, hr = pr([prob(w, x) for x in hx], hy, threshold)
        heldout = {
            "positive": sum(hy),
            "negative": len(hy) - sum(hy),
            "precision": round(hp, 3),
            "recall": round(hr, 3),
        }
    # how articles join stories (threshold on the story centroid, anchor on its first article):
    # chosen with bench/dedup_eval.py --sweep on whole-stream clustering, kept across retraining
    join = {"threshold": 0.65, "anchor": 0.2}
    if MODEL.exists():
        join = orjson.loads(MODEL.read_bytes()).get("join", join)
    model = {
        "about": "Story model of streams/stories/cluster.py: P(same event) = sigmoid(bias + sum of weight x feature). Trained by bench/train_story_model.py on bench/data/story_pairs.json (same_event vs different-event pairs, follow-ups left out; 5-fold cross-validation by day); bench/data/story_pairs_heldout.json is never trained on (heldout). join: chosen with bench/dedup_eval.py on whole-stream clustering.",
        "trained_at": datetime.now(UTC).date().isoformat(),
        "examples": {"positive": sum(ys), "negative": len(ys) - sum(ys)},
        "cross_validated": {
            "folds": "5, by day",
            "precision": round(p, 3),
            "recall": round(r, 3),
        },
        "heldout": heldout,
        "pair_threshold": threshold,
        "join": join,
        "bias": round(w[0], 4),
        "weights": {n: round(dict(zip(names, w[1:], strict=True)).get(n, 0.0), 4) for n in NAMES},
    }
    print(orjson.dumps(model, option=orjson.OPT_INDENT_2).decode())
    if args.write:
        out = args.out or MODEL
        out.write_bytes(orjson.dumps(model, option=orjson.OPT_INDENT_2) + b"\n")
        print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
