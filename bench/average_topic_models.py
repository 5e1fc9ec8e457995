#!/usr/bin/env python3
"""Average topic model weight files of several training seeds into one (a bagged linear model).

Usage:
    .venv/bin/python bench/average_topic_models.py FILE... --out OUT [--prune P]

FILEs are weight files of bench/train_topics.py (`--out`, pruned, or `--raw-out`, every bucket
touched: average those, then prune) trained with the same options and different seeds. The
average of K linear models over one feature space is one linear model over it: the worker
scores it by the same sparse dot product, from a file of the same format
(`TopicModel.from_doc`). Each file's weights are read back (stored / scale), averaged per
bucket over the union of buckets (a bucket a file does not hold counts as 0 there: pruned, its
weight was under the file's prune), the biases averaged, then centred, pruned at `--prune`
(train_topics.PRUNE by default) and stored as int8 over a new scale. SGD's order differs with
the seed (issue 15, round ten: ±13 ASND train posts between two seeds of one configuration);
the average damps that noise (docs/classification.md, "Round twelve").

Refused (ValueError): files of different topics, buckets, training data (`trained_on`) or
options (`training`, the seed aside), or the same seed twice.
"""

from __future__ import annotations

import argparse
import base64
import sys
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.train_topics import PRUNE, weights_doc  # noqa: E402
from streams.classify.topics import TOPICS  # noqa: E402

# What every file must share for their average to be one model: its feature space (topics,
# buckets) and what it was trained on and with.
SAME = ("topics", "buckets", "trained_on")


def read_rows(doc: dict[str, Any]) -> dict[int, list[float]]:
    """A weight file's rows: bucket -> its weights, one per topic (stored / scale)."""
    k = len(doc["topics"])
    scale = float(doc["scale"])
    ids, values = array("I"), array("b")
    ids.frombytes(base64.b64decode(doc["ids"]))
    values.frombytes(base64.b64decode(doc["weights"]))
    if sys.byteorder == "big":
        ids.byteswap()
    if len(values) != len(ids) * k:
        raise ValueError("weights do not match the ids and topics")
    return {b: [v / scale for v in values[i * k : (i + 1) * k]] for i, b in enumerate(ids)}


def options(doc: dict[str, Any]) -> dict[str, Any]:
    """A file's training options but its seeds (its prune included: a pruned file lacks the
    small weights a raw one holds, and their average would lean to the raw one)."""
    training = dict(doc.get("training") or {})
    training.pop("seeds", None)
    return training


def average(docs: Sequence[dict[str, Any]], prune: float = PRUNE) -> dict[str, Any]:
    """The averaged weight file of `docs` (ValueError: not samples of one model)."""
    if not docs:
        raise ValueError("nothing to average")
    first = docs[0]
    if list(first["topics"]) != list(TOPICS):
        raise ValueError(f"topics {first['topics']} are not this code's {list(TOPICS)}")
    seeds: list[int] = []
    for n, doc in enumerate(docs):
        for key in SAME:
            if doc.get(key) != first.get(key):
                raise ValueError(f"file {n + 1}: {key} differs from file 1's")
        if options(doc) != options(first):
            raise ValueError(f"file {n + 1}: training options differ from file 1's")
        seeds.extend((doc.get("training") or {}).get("seeds") or [])
    if len(seeds) != len(set(seeds)):
        raise ValueError(f"a seed is averaged twice: {sorted(seeds)}")
    k = len(TOPICS)
    total: dict[int, list[float]] = {}
    for doc in docs:
        for b, row in read_rows(doc).items():
            acc = total.setdefault(b, [0.0] * k)
            for j in range(k):
                acc[j] += row[j]
    n = len(docs)
    rows = {b: [x / n for x in acc] for b, acc in total.items()}
    bias = [sum(float(doc["bias"][j]) for doc in docs) / n for j in range(k)]
    training = None
    if seeds:  # an average is not averaged again with single seeds: "averaged" differs
        training = {**options(first), "seeds": sorted(seeds), "prune": prune, "averaged": n}
    out = weights_doc(rows, bias, str(first["trained_on"]), prune, training)
    out["about"] = (
        f"Topic model weights: the average of {n} trainings of bench/train_topics.py"
        " (bench/average_topic_models.py); do not edit."
    )
    print(f"{n} files, {len(total)} buckets in their union, {len(read_rows(out))} kept")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--prune", type=float, default=PRUNE)
    args = ap.parse_args()
    doc = average([orjson.loads(p.read_bytes()) for p in args.files], args.prune)
    args.out.write_bytes(orjson.dumps(doc) + b"\n")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
