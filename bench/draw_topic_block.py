#!/usr/bin/env python3
"""Draw a block of ANT titles and leads to label by reading (issue 15, rounds ten and eleven).

Usage: .venv/bin/python bench/draw_topic_block.py ANT.jsonl.gz [--salt topics10] [--n 200]
           [--split heldout|train] [--news-share F]

The held-out fifth (`topic_model.heldout`: never trained on) of every section, titles of 4+
words, the first text of each duplicate title, no id found in any file of bench/data/, ordered
by sha256(salt + ':' + id): the first N. Prints one JSON line per item (id, title, lead: the
body's first sentence as `train_topics.lead_sentence` cuts it) to stdout, for a person to read
and label before the classifier's output is looked at; only ids and labels are kept in the
repository (bench/data/topic_labels_4.json), never the text.

With --split train (round eleven) the block comes from the four *training* fifths instead, as
training labels for `train_topics.py --read-labels` (bench/data/topic_train_labels.json, left
out of the ids to avoid so the draw reproduces); --news-share F takes round(F × N) of the
items from the news sections (middleEast, internationalNews: where security and politics are
told apart) and the rest from the other sections, each part in hash order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_classify import read_jsonl
from train_topics import lead_sentence

from streams.classify.topic_model import heldout

DATA = Path(__file__).resolve().parent / "data"
ANT_ID = re.compile(r"[A-Z]{2}-[A-Za-z]+-\d+-\d{8}")


# The blocks this script drew (round ten: held out; round eleven: training fifths), each left
# out of the ids to avoid when it is redrawn, so the draw reproduces it.
DRAWN = "topic_labels_4.json"
DRAWN_TRAIN = "topic_train_labels.json"
NEWS_SECTIONS = frozenset({"middleEast", "internationalNews"})


def labelled_ids(skip: str = DRAWN) -> set[str]:
    """Every ANT id named in a file of bench/data/ (label files, pairs, evidence) but `skip`."""
    return {
        m
        for p in DATA.glob("*.json")
        if p.name != skip
        for m in ANT_ID.findall(p.read_text("utf-8"))
    }


def draw(
    path: Path, salt: str, n: int, split: str = "heldout", news_share: float | None = None
) -> list[dict[str, str]]:
    taken = labelled_ids(DRAWN_TRAIN if split == "train" else DRAWN)
    seen: set[str] = set()
    pool: list[tuple[str, bool, dict[str, str]]] = []  # (hash, news section?, item)
    for row in read_jsonl(path):
        title = " ".join((row.get("title") or "").split())
        if row["id"] in taken or heldout(row["id"]) != (split == "heldout"):
            continue
        if len(title.split()) < 4 or title in seen:
            continue  # short titles; the first text of a duplicate title
        seen.add(title)
        item = {"id": row["id"], "title": title, "lead": lead_sentence(row.get("text") or "")}
        key = hashlib.sha256(f"{salt}:{row['id']}".encode()).hexdigest()
        pool.append((key, row.get("category") in NEWS_SECTIONS, item))
    pool.sort(key=lambda p: p[0])
    if news_share is None:
        return [item for _, _, item in pool[:n]]
    n_news = round(news_share * n)
    news = [p for p in pool if p[1]][:n_news]
    rest = [p for p in pool if not p[1]][: n - n_news]
    return [item for _, _, item in sorted(news + rest, key=lambda p: p[0])]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("ant", type=Path)
    ap.add_argument("--salt", default="topics10")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--split", choices=("heldout", "train"), default="heldout")
    ap.add_argument("--news-share", type=float, default=None)
    args = ap.parse_args()
    for item in draw(args.ant, args.salt, args.n, args.split, args.news_share):
        print(json.dumps(item, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
