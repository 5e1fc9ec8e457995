#!/usr/bin/env python3
"""Train the topic model (streams/classify/topic_model.py) on ANT and write its weights.

Usage:
    .venv/bin/python bench/train_topics.py [--ant ANT] [--asnd ASND] [--write] [--seed N]
        [--out FILE] [--raw-out FILE] [--science-fields] [--no-grid]

ANT defaults to ../shared/data/ant/ant_multisource.jsonl.gz (skipped, exit 0, when absent).
Labels: hand labels from bench/data/topic_labels.json (ANT ids, read by a person) first; then
the outlet's section for economy, sport, technology and culture; for the news sections
(middleEast, internationalNews) the lexicons' first topic when it is clearly ahead (the second,
if any, scores under CLEAR_LEAD of it); other news articles are left out. Every article is
trained on three times: whole, its title alone and its body's first sentence alone (one-line
breaking news and posts look like a title or a lead; the lead copies since issue 15, round five:
`lead_sentence`, off with --no-leads).
With --read-labels FILE (bench/data/topic_train_labels.json: ANT ids of the training fifths and
the first topic a person read from the title and lead; issue 15, round eleven) those articles
take the read topic instead of the weak one and add two short examples of weight --read-weight:
the title alone and the title with its lead (`read_examples`), as a post or breaking line reads.
With --science-fields, technology-section articles the lexicons clearly call health or
environment get that label instead (measured for issue 15, off by default: SCIENCE_FIELDS).
A fifth of ANT (topic_model.heldout) is never trained on: it is scored here and by
bench/eval_classify.py.

Model: multinomial logistic regression over the hashed features of topic_model (words, pairs of
words, character 3–5-grams), plain SGD with a decaying step (EPOCHS passes), examples weighted
as they come (BALANCE), a fixed seed, pure Python (no dependency). Shipped: the
buckets whose centred weights move some topic by PRUNE or more, as int8.

ASND (../shared/data/asnd/asnd_train_dev.jsonl, no licence) is never trained on: its *train*
split only prints, for a grid of topics.MIX and topics.MIN_MARGIN, the figures the constants in
streams/classify/topics.py were chosen by. `--write` writes streams/data/topic_model.json;
without it the figures are printed only. `--raw-out FILE` also writes the weights unpruned (every
bucket touched that int8 does not round to zero) with the training options (`training`), for
bench/average_topic_models.py to average several seeds before pruning (issue 15, round twelve).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import random
import re
import sys
import time
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The label mappings of the evaluation, so training and evaluation cannot drift apart.
from bench.eval_classify import ANT_GOLD, ANT_PRED, ASND_GOLD, read_jsonl  # noqa: E402
from streams.classify import topics  # noqa: E402
from streams.classify.topic_model import (  # noqa: E402
    BUCKETS,
    MODEL_FILE,
    TopicModel,
    heldout,
    text_buckets,
)
from streams.classify.topics import (  # noqa: E402
    TOPICS,
    clean,
    first_topic,
    labels_from_scores,
    lexicon_scores,
)
from streams.text.arabic import tokenize  # noqa: E402

DEFAULT_ANT = ROOT.parent / "shared" / "data" / "ant" / "ant_multisource.jsonl.gz"
DEFAULT_ASND = ROOT.parent / "shared" / "data" / "asnd" / "asnd_train_dev.jsonl"
HAND_LABELS = ROOT / "bench" / "data" / "topic_labels.json"
SECTIONS = {
    "economy": "economy",
    "sport": "sports",
    "technology": "technology",
    "culture": "culture",
}
NEWS = {"security", "politics", "justice", "health", "society", "environment"}
# ANT's technology section is the outlets' science pages: health and environment news are filed
# there (a quarter of its articles, by the lexicons). Labelled technology, they teach the model
# that an illness or a drought is technology (issue 15: on ASND train 97 of the 138 health posts
# missed went to technology). With --science-fields, where the lexicons clearly say one of
# these, that is the label. Off by default: ASND health recall 0.12 -> 0.43 on train, but ANT's
# held-out technology section then loses 0.18 F1 (macro-F1 0.855 -> 0.820), because the
# evaluation counts health as no section (docs/classification.md, "Fields").
SCIENCE_FIELDS = frozenset({"health", "environment"})
CLEAR_LEAD = 0.8
# PRUNE: 0.15 until issue 15's round five; the first-sentence copies then kept 44,399 buckets
# (35,601 before) and `classify_topics` cost up to 11 % more per ANT article; at 0.164, 40,193
# buckets, the same figures on ASND and ANT and no dearer than before (docs/classification.md).
EPOCHS, LEARNING_RATE, CLASS_WEIGHT_CAP, PRUNE = 3, 0.5, 5.0, 0.164
# Weigh the topics by their inverse frequency? On ASND train, balanced (2 epochs) 63.8 % right,
# security F1 0.550; as they come (3 epochs) 65.7 %, 0.544, a smaller file: the offsets in
# topics.py supply the prior either way.
BALANCE = False
HAND_WEIGHT = 3.0  # a label read by a person counts as much as three weak ones
LEXICONS = ROOT / "streams" / "data" / "topic_lexicons.yaml"
READ_LABELS = ROOT / "bench" / "data" / "topic_train_labels.json"
READ_WEIGHT = 3.0  # --read-weight's default: as HAND_WEIGHT
SKIP = 0.01  # gradients smaller than this are not applied (the topic is already right)
GRID_MIX = (0.0, 0.1, 0.3)
GRID_MARGIN = (0.0, 0.25, 0.5)
OFFSET_GRID = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
SECURITY_WEIGHT = 0.5
OFFSET_ROUNDS = 2

Example = tuple["array[int]", int, float]  # hashed features, topic index, sample weight


def weak_label(record: dict[str, Any], title: str, body: str, science: bool = False) -> str | None:
    section = SECTIONS.get(str(record["category"]))
    if section is not None:
        if science and section == "technology":
            clear = clear_topic(title, body)
            if clear in SCIENCE_FIELDS:
                return clear
        return section
    clear = clear_topic(title, body)
    return clear if clear in NEWS else None


def clear_topic(title: str, body: str) -> str | None:
    """The lexicons' first topic when it is clearly ahead (the second, if any, scores under
    CLEAR_LEAD of it), else None."""
    found = labels_from_scores(*lexicon_scores(title, body))
    if not found or (len(found) > 1 and found[1].score > CLEAR_LEAD * found[0].score):
        return None
    return found[0].code


def fields(title: str, body: str) -> list[tuple[str, Any]]:
    """The model's input, as `topics.classify_topics` gives it (social-media furniture
    blanked, hashtag words split: `topics.clean`; in training, texts of any length: `main`)."""
    return [(f, tokenize(clean(t))) for f, t in (("title", title), ("body", body)) if t]


def load_read_labels(path: Path) -> dict[str, str]:
    """A file of labels read by a person ({"labels": {ANT id: topic}}) for training: every id
    of ANT's training fifths, every topic one of TOPICS (else ValueError: a held-out id would
    leak the evaluation into training)."""
    labels = {str(k): str(v) for k, v in json.loads(path.read_text("utf-8"))["labels"].items()}
    bad = sorted(i for i, t in labels.items() if heldout(i) or t not in TOPICS)
    if bad:
        raise ValueError(f"{path}: held-out ids or unknown topics: {bad[:5]}")
    return labels


def read_examples(title: str, body: str, topic: int, weight: float) -> list[Example]:
    """The short examples of an article whose topic a person read from its title and lead: the
    title alone, and the title with the body's first sentence as its body (how a post, a
    breaking line or a title block is scored); none without a title."""
    if not title.strip():
        return []
    texts = [(title, ""), (title, lead_sentence(body))]
    return [
        (array("I", text_buckets(fields(t, b))), topic, weight)
        for t, b in dict.fromkeys(texts)  # no lead: the title once
    ]


def load_ant(
    path: Path,
    hand: dict[str, str],
    titles: bool,
    science: bool = False,
    leads: bool = False,
    read: Mapping[str, str] | None = None,
    read_weight: float = READ_WEIGHT,
) -> tuple[list[Example], Counter[str], list[tuple[str, str, str]]]:
    examples: list[Example] = []
    counts: Counter[str] = Counter()
    held: list[tuple[str, str, str]] = []  # (title, body, coarse gold) of the held-out fifth
    index = {t: i for i, t in enumerate(TOPICS)}
    read = read or {}
    for record in read_jsonl(path):
        title, body = record.get("title") or "", record.get("text") or ""
        if heldout(record["id"]):
            held.append((title, body, ANT_GOLD[record["category"]]))
            continue
        topic = (
            read.get(record["id"])
            or hand.get(record["id"])
            or weak_label(record, title, body, science)
        )
        if topic is None:
            continue
        counts[topic] += 1
        weight = HAND_WEIGHT if record["id"] in hand else 1.0
        examples.append((array("I", text_buckets(fields(title, body))), index[topic], weight))
        if titles and title:
            examples.append((array("I", text_buckets(fields(title, ""))), index[topic], weight))
        first = lead_sentence(body) if leads else ""
        if first:
            examples.append((array("I", text_buckets(fields(first, ""))), index[topic], weight))
        if record["id"] in read:
            examples.extend(read_examples(title, body, index[topic], read_weight))
    return examples, counts, held


_SENTENCE_END = re.compile(r"[.!؟?\n]")
LEAD_MIN_WORDS, LEAD_MAX_WORDS = 6, 40


def lead_sentence(body: str) -> str:
    """The body's first sentence (at most LEAD_MAX_WORDS words; "" when it has fewer than
    LEAD_MIN_WORDS): a breaking line or a post reads like an article's lead as much as like its
    title."""
    words: list[str] = []
    for piece in _SENTENCE_END.split(body):
        words.extend(piece.split())
        if len(words) >= LEAD_MIN_WORDS:
            break
    return " ".join(words[:LEAD_MAX_WORDS]) if len(words) >= LEAD_MIN_WORDS else ""


def train(
    examples: list[Example], seed: int, epochs: int
) -> tuple[list[array[float]], list[float]]:
    k = len(TOPICS)
    weights = [array("d", bytes(8 * BUCKETS)) for _ in range(k)]
    bias = [0.0] * k
    sizes = Counter(y for _, y, _ in examples)
    mean = len(examples) / len(sizes)
    class_weight = [
        (min(CLASS_WEIGHT_CAP, mean / sizes[j]) if BALANCE else 1.0) if sizes[j] else 0.0
        for j in range(k)
    ]
    rng = random.Random(seed)
    order = list(range(len(examples)))
    for epoch in range(epochs):
        rng.shuffle(order)
        rate = LEARNING_RATE / (1 + epoch)
        loss = 0.0
        for n in order:
            feats, y, weight = examples[n]
            if not feats:
                continue
            norm = 1.0 / math.sqrt(len(feats))
            scores = [bias[j] + norm * sum(map(weights[j].__getitem__, feats)) for j in range(k)]
            top = max(scores)
            exp = [math.exp(s - top) for s in scores]
            z = sum(exp)
            cw = class_weight[y] * weight
            loss -= cw * math.log(max(exp[y] / z, 1e-12))
            for j in range(k):
                g = cw * (exp[j] / z - (1.0 if j == y else 0.0))
                if -SKIP < g < SKIP:
                    continue  # a topic the model already gets right costs nothing to skip
                bias[j] -= rate * g * 0.1
                step = rate * g * norm
                w = weights[j]
                for f in feats:
                    w[f] -= step
        print(f"  epoch {epoch + 1}: weighted log-loss {loss / len(order):.3f}")
    return weights, bias


def export(
    weights: list[array[float]],
    bias: list[float],
    examples: list[Example],
    labels: Sequence[Path] = (HAND_LABELS,),
    prune: float = PRUNE,
    training: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    k = len(TOPICS)
    touched = sorted({f for feats, _, _ in examples for f in feats})
    rows = {b: [weights[j][b] for j in range(k)] for b in touched}
    print(f"{len(touched)} buckets touched", end=", ")
    return weights_doc(rows, bias, trained_on(labels), prune, training)


def trained_on(labels: Sequence[Path]) -> str:
    return "ANT (Apache-2.0; Chouigui et al., AICCSA 2017), heldout fifth excluded; " + ", ".join(
        f"bench/data/{p.name}" for p in labels
    )


def weights_doc(
    rows: Mapping[int, Sequence[float]],
    bias: Sequence[float],
    trained: str,
    prune: float = PRUNE,
    training: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The weight file (`TopicModel.from_doc`'s format) of per-bucket weights: each bucket's
    weights centred (a softmax ignores a shift shared by all topics), the buckets whose centred
    weight moves some topic by `prune` or more kept, as int8 over one scale. `training` (the
    options it was trained with; the worker ignores it) lets bench/average_topic_models.py
    refuse to average files of different options."""
    k = len(TOPICS)
    kept: list[tuple[int, list[float]]] = []
    for b in sorted(rows):
        vector = rows[b]
        m = sum(vector) / k
        centred = [x - m for x in vector]
        if centred and max(map(abs, centred)) >= prune:
            kept.append((b, centred))
    top = max(max(map(abs, v)) for _, v in kept)
    scale = 127.0 / top
    # A row that rounds to zeros weighs nothing (only below half a step: with --raw-out's prune 0).
    kept = [(b, v) for b, v in kept if max(map(abs, v)) * scale >= 0.5]
    ids = array("I", (b for b, _ in kept))
    values = array("b", (max(-127, min(127, round(x * scale))) for _, v in kept for x in v))
    if sys.byteorder == "big":
        ids.byteswap()
    m = sum(bias) / k
    print(f"{len(kept)} kept (|centred weight| >= {prune})")
    doc: dict[str, Any] = {
        "about": "Topic model weights, written by bench/train_topics.py; do not edit.",
        "trained_on": trained,
        "topics": list(TOPICS),
        "buckets": BUCKETS,
        "scale": scale,
        "bias": [round(x - m, 4) for x in bias],
        "ids": base64.b64encode(ids.tobytes()).decode(),
        "weights": base64.b64encode(values.tobytes()).decode(),
    }
    if training is not None:
        doc["training"] = dict(training)
    return doc


def f1_table(gold: Sequence[str], pred: Sequence[str | None]) -> dict[str, tuple[float, ...]]:
    out = {}
    for lab in sorted(set(gold)):
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == lab and p == lab)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != lab and p == lab)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == lab and p != lab)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        out[lab] = (prec, rec, 2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return out


Item = tuple[dict[str, float], str | None, Any, str]  # lexicon raw, lexicon first, guess, gold


def score_items(model: TopicModel, texts: Sequence[tuple[str, str, str]]) -> list[Item]:
    out = []
    for title, body, gold in texts:
        raw, found = lexicon_scores(title, body)
        labels = labels_from_scores(raw, found)
        out.append(
            (raw, labels[0].code if labels else None, model.guess(fields(title, body)), gold)
        )
    return out


def decide(
    items: list[Item], mix: float, margin: float, offsets: Mapping[str, float]
) -> list[str | None]:
    return [
        first_topic(raw, guess, mix=mix, min_margin=margin, offsets=offsets) or lex
        for raw, lex, guess, _ in items
    ]


def fit_offsets(items: list[Item], mix: float) -> dict[str, float]:
    """Per-topic offsets to the model's log-probabilities (a prior: how often a topic comes up
    in a stream of news, which balanced training leaves out), by coordinate ascent on the
    share of first topics right plus SECURITY_WEIGHT × security F1; ASND *train* only."""
    offsets = dict.fromkeys(TOPICS, 0.0)
    gold = [g for *_, g in items]

    def right(o: dict[str, float]) -> float:
        pred = decide(items, mix, 0.0, o)
        share = sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(gold)
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == p == "security")
        wrong = sum(1 for g, p in zip(gold, pred, strict=True) if g != p and "security" in (g, p))
        return share + SECURITY_WEIGHT * (2 * tp / (2 * tp + wrong) if tp else 0.0)

    best = right(offsets)
    for _ in range(OFFSET_ROUNDS):
        for topic in TOPICS:
            for step in OFFSET_GRID:
                trial = {**offsets, topic: step}
                if (r := right(trial)) > best + 1e-9:
                    best, offsets = r, trial
    return offsets


def grid(ant: list[Item], asnd: list[Item]) -> None:
    print("\nmix  margin | ASND train: right  none  security F1 (P/R) | ANT held-out macro-F1")
    for mix in GRID_MIX:
        offsets = fit_offsets(asnd, mix) if asnd else dict.fromkeys(TOPICS, 0.0)
        print(f"offsets for mix {mix}: { {t: x for t, x in offsets.items() if x} }")
        for margin in GRID_MARGIN:
            line = f"{mix:<4} {margin:<6} |"
            if asnd:
                pred = decide(asnd, mix, margin, offsets)
                gold = [g for *_, g in asnd]
                right = sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(gold)
                none = sum(1 for p in pred if p is None) / len(pred)
                p, r, f = f1_table(gold, pred)["security"]
                line += f" {right:6.1%} {none:5.1%}  {f:.3f} ({p:.3f}/{r:.3f}) |"
            if ant:
                coarse = [ANT_PRED[p] if p else None for p in decide(ant, mix, margin, offsets)]
                table = f1_table([g for *_, g in ant], coarse)
                line += f" {sum(f for *_, f in table.values()) / len(table):.3f}"
            print(line)


def training_options(args: argparse.Namespace) -> dict[str, Any]:
    """What a weight file was trained with: files that differ in anything but the seed are not
    samples of one model and are not averaged (bench/average_topic_models.py)."""
    return {
        "seeds": [args.seed],
        "epochs": args.epochs,
        "titles": not args.no_titles,
        "leads": not args.no_leads,
        "science_fields": args.science_fields,
        "read_labels": args.read_labels.name if args.read_labels else None,
        "read_weight": args.read_weight if args.read_labels else None,
        "prune": PRUNE,
        "learning_rate": LEARNING_RATE,
        "balance": BALANCE,
        "hand_weight": HAND_WEIGHT,
        # The weak labels come from the lexicons: another lexicon file, another training set.
        "lexicons": hashlib.sha256(LEXICONS.read_bytes()).hexdigest()[:16],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ant", type=Path, default=DEFAULT_ANT)
    ap.add_argument("--asnd", type=Path, default=DEFAULT_ASND)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--no-titles", action="store_true", help="no title-only training copies")
    ap.add_argument(
        "--science-fields",
        action="store_true",
        help="label health and environment articles of the technology section by the lexicons",
    )
    ap.add_argument(
        "--no-leads", action="store_true", help="no first-sentence-only training copies"
    )
    ap.add_argument(
        "--read-labels",
        type=Path,
        default=None,
        help=f"labels read by a person on ANT training titles (e.g. {READ_LABELS.name})",
    )
    ap.add_argument("--read-weight", type=float, default=READ_WEIGHT)
    ap.add_argument("--no-grid", action="store_true", help="skip the ASND train grid")
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--out", type=Path, default=ROOT / "streams" / "data" / MODEL_FILE)
    ap.add_argument(
        "--raw-out",
        type=Path,
        default=None,
        help="also write the weights unpruned (every bucket touched), for"
        " bench/average_topic_models.py to average before pruning",
    )
    args = ap.parse_args()
    if not args.ant.exists():
        print(f"skipped: {args.ant} not found")
        return 0
    started = time.perf_counter()
    # Training reads every text cleaned, a long body too (its hashtags' words split): at run time
    # only texts of up to CLEAN_MAX_CHARS are, for the cost of a second tokenisation, not for
    # what the words mean. (The shipped model was trained so; bounded here too, it moved 2
    # weak labels and, within a retrain's noise, a few posts: docs/classification.md.)
    topics.CLEAN_MAX_CHARS = sys.maxsize
    hand: dict[str, str] = {}
    if HAND_LABELS.exists():
        hand = {str(k): str(v) for k, v in json.loads(HAND_LABELS.read_text())["labels"].items()}
    read = load_read_labels(args.read_labels) if args.read_labels else {}
    examples, counts, held = load_ant(
        args.ant,
        hand,
        not args.no_titles,
        args.science_fields,
        not args.no_leads,
        read,
        args.read_weight,
    )
    print(f"{len(examples)} examples from {sum(counts.values())} ANT articles: {dict(counts)}")
    print(
        f"({len(hand)} hand labels, {len(read)} read labels at weight {args.read_weight};"
        f" {time.perf_counter() - started:.0f} s)"
    )
    weights, bias = train(examples, args.seed, args.epochs)
    labels = (HAND_LABELS, *filter(None, [args.read_labels]))
    options = training_options(args)
    doc = export(weights, bias, examples, labels, PRUNE, options)
    if args.raw_out:
        raw = export(weights, bias, examples, labels, 0.0, {**options, "prune": 0.0})
        args.raw_out.write_bytes(orjson.dumps(raw) + b"\n")
        print(f"wrote {args.raw_out} ({args.raw_out.stat().st_size / 1e6:.2f} MB)")
        del raw
    del weights
    size = len(orjson.dumps(doc))
    print(f"model: {size / 1e6:.2f} MB; {time.perf_counter() - started:.0f} s")
    model = TopicModel.from_doc(doc)
    ant_items = [] if args.no_grid else score_items(model, held)
    asnd_items: list[Item] = []
    if args.asnd.exists() and not args.no_grid:
        rows = (r for r in read_jsonl(args.asnd) if r["split"] == "train")
        asnd_items = score_items(
            model,
            [(r["text"], "", ASND_GOLD[r["label"]]) for r in rows if ASND_GOLD.get(r["label"])],
        )
    if not args.no_grid:
        grid(ant_items, asnd_items)
    if args.write:
        args.out.write_bytes(orjson.dumps(doc) + b"\n")
        print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    print(f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
