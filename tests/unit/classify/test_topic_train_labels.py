"""Training labels read by a person on ANT titles (issue 15, round eleven:
bench/data/topic_train_labels.json, `train_topics.py --read-labels`) and the draw that chose
them (`draw_topic_block.py --split train`). The file must hold ids and topics only, every id of
ANT's training fifths and none of an evaluation block; the short examples it adds are checked
on texts written for the test (no corpus needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import draw_topic_block, train_topics
from streams.classify.topic_model import heldout, text_buckets
from streams.classify.topics import TOPICS

LABELS = train_topics.READ_LABELS


def _doc(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return doc


def test_the_read_labels_are_ids_and_topics_only() -> None:
    doc = _doc(LABELS)
    assert set(doc) == {"about", "labels"}
    labels = doc["labels"]
    assert len(labels) == 400
    assert set(labels.values()) <= set(TOPICS)
    # ANT ids, never a title: no text of the corpus is kept
    assert all(draw_topic_block.ANT_ID.fullmatch(k) for k in labels)


def test_the_read_labels_are_of_the_training_fifths_and_no_evaluation_block() -> None:
    ids = set(_doc(LABELS)["labels"])
    assert not any(heldout(i) for i in ids)  # never the fifth the evaluation scores
    others = draw_topic_block.labelled_ids(skip=LABELS.name)  # every other file of bench/data/
    assert others and not ids & others
    assert train_topics.load_read_labels(LABELS) == _doc(LABELS)["labels"]


def _ids(held: bool, n: int, section: str = "middleEast") -> list[str]:
    """ANT-shaped ids on the chosen side of `heldout`."""
    out = [f"XX-{section}-{k}-20180101" for k in range(200)]
    return [i for i in out if heldout(i) == held][:n]


@pytest.mark.parametrize(
    ("labels", "ok"),
    [
        ({_ids(False, 1)[0]: "security"}, True),
        ({_ids(True, 1)[0]: "security"}, False),  # a held-out id would leak the evaluation
        ({_ids(False, 1)[0]: "war"}, False),  # not a topic
        ({_ids(False, 1)[0]: "politics", _ids(True, 1)[0]: "politics"}, False),
    ],
)
def test_load_read_labels_refuses_held_out_ids_and_unknown_topics(
    tmp_path: Path, labels: dict[str, str], ok: bool
) -> None:
    path = tmp_path / "labels.json"
    path.write_text(json.dumps({"about": "", "labels": labels}), "utf-8")
    if ok:
        assert train_topics.load_read_labels(path) == labels
    else:
        with pytest.raises(ValueError, match="held-out ids or unknown topics"):
            train_topics.load_read_labels(path)


TITLE = "الجيش يصد هجوما على مواقعه شرق المدينة"
LEAD = "قالت مصادر عسكرية إن القوات صدت هجوما عنيفا فجر اليوم على مواقعها في الجبهة الشرقية"


@pytest.mark.parametrize(
    ("title", "body", "texts"),
    [
        # the title alone, and the title with the body's first sentence as its body
        (TITLE, LEAD + ". وتابعت المصادر أن الاشتباكات استمرت ساعات", [(TITLE, ""), (TITLE, LEAD)]),
        (TITLE, "", [(TITLE, "")]),  # no body: the title once
        (TITLE, "قصف عنيف", [(TITLE, "")]),  # a first sentence under LEAD_MIN_WORDS: none
        ("", LEAD, []),  # no title: nothing (the regular copies hold the lead)
        ("   ", LEAD, []),
    ],
)
def test_read_examples_are_the_title_and_the_title_with_its_lead(
    title: str, body: str, texts: list[tuple[str, str]]
) -> None:
    got = train_topics.read_examples(title, body, 3, 7.0)
    assert [(list(f), y, w) for f, y, w in got] == [
        (text_buckets(train_topics.fields(t, b)), 3, 7.0) for t, b in texts
    ]


def _ant(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


@pytest.mark.parametrize(
    ("read", "weight", "n_examples", "topic", "weights"),
    [
        ({}, 3.0, 3, "sports", [1.0, 1.0, 1.0]),  # no read labels: the section's label
        # read: the read topic on the regular copies, two short copies at the read weight
        ("security", 3.0, 5, "security", [1.0, 1.0, 1.0, 3.0, 3.0]),
        ("security", 10.0, 5, "security", [1.0, 1.0, 1.0, 10.0, 10.0]),
    ],
)
def test_load_ant_adds_the_read_examples(
    tmp_path: Path,
    read: dict[str, str] | str,
    weight: float,
    n_examples: int,
    topic: str,
    weights: list[float],
) -> None:
    train_id = _ids(False, 1, "sport")[0]
    held_id = _ids(True, 1, "sport")[0]
    body = LEAD + ". وتابعت المصادر أن الاشتباكات استمرت ساعات"
    rows = [
        {"id": i, "category": "sport", "title": TITLE, "text": body} for i in (train_id, held_id)
    ]
    labels = {train_id: read} if isinstance(read, str) else read
    examples, counts, held = train_topics.load_ant(
        _ant(tmp_path / "ant.jsonl", rows), {}, True, False, True, labels, weight
    )
    assert len(held) == 1  # the held-out article is scored, never trained on
    assert len(examples) == n_examples
    assert {y for _, y, _ in examples} == {TOPICS.index(topic)}
    assert [w for _, _, w in examples] == weights
    assert counts == {topic: 1}


def _rows(n: int) -> list[dict[str, str]]:
    rows = []
    for section in ("middleEast", "sport"):
        for held in (False, True):
            for i in _ids(held, n, section):
                rows.append({"id": i, "category": section, "title": f"عنوان خبر رقم {i} هنا"})
    return rows


@pytest.mark.parametrize(
    ("split", "share", "n", "news"),
    [
        ("train", None, 8, None),  # hash order alone
        ("train", 0.75, 8, 6),
        ("train", 0.5, 8, 4),
        ("heldout", 0.75, 8, 6),
        ("heldout", None, 8, None),
    ],
)
def test_draw_takes_the_split_and_the_news_share(
    tmp_path: Path, split: str, share: float | None, n: int, news: int | None
) -> None:
    path = _ant(tmp_path / "ant.jsonl", _rows(10))
    items = draw_topic_block.draw(path, "t11", n, split, share)
    assert len(items) == n
    assert all(heldout(it["id"]) == (split == "heldout") for it in items)
    if news is not None:
        assert sum("middleEast" in it["id"] for it in items) == news
    assert items == draw_topic_block.draw(path, "t11", n, split, share)  # reproducible
    assert not {it["id"] for it in items} & {
        it["id"]
        for it in draw_topic_block.draw(
            path, "t11", n, "train" if split == "heldout" else "heldout", share
        )
    }
