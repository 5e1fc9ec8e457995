"""The ANT titles labelled for security (issue 15, round eight: bench/data/security_labels*.json)
and what bench/eval_classify.py prints from them and from ASND's repeated posts: the figures
docs/classification.md reports rest on these, so they are checked here (the bench itself
asserts nothing). Corpora are never needed: the texts below are written for the test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import draw_topic_block, eval_classify
from streams.classify.topics import TOPICS


def _doc(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return doc


@pytest.mark.parametrize(
    "path", eval_classify.TITLE_LABELS + eval_classify.LEAD_LABELS, ids=lambda p: p.name
)
def test_a_label_file_holds_ids_and_topics_only(path: Path) -> None:
    doc = _doc(path)
    assert set(doc) == {"about", "labels"}
    labels = doc["labels"]
    assert isinstance(labels, dict) and len(labels) == 200
    assert set(labels.values()) <= set(TOPICS)
    assert "security" in labels.values() and "politics" in labels.values()
    # ANT ids are short tokens, never a title: no text of the corpus is kept
    assert all(len(k) < 40 and " " not in k for k in labels)


def test_the_fresh_block_shares_no_id_with_the_first() -> None:
    first, fresh = (set(_doc(p)["labels"]) for p in eval_classify.SECURITY_LABELS)
    assert not first & fresh


def test_the_third_block_shares_no_id_with_the_others() -> None:
    first, fresh, third = (set(_doc(p)["labels"]) for p in eval_classify.TITLE_LABELS)
    assert not third & (first | fresh)


def test_the_fourth_block_shares_no_id_with_any_other_file() -> None:
    (fourth,) = (set(_doc(p)["labels"]) for p in eval_classify.LEAD_LABELS)
    others = draw_topic_block.labelled_ids()  # every ANT id of bench/data/ but the block's own
    assert others and not fourth & others
    assert fourth <= draw_topic_block.labelled_ids(skip="")  # the pattern finds its ids too


def _jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_asnd_agreement_compares_the_copies_of_one_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"text": "قصف على المدينة", "label": "crime-war-conflict", "split": "train"},
        {"text": "قصف  على المدينة", "label": "crime-war-conflict", "split": "dev"},  # spaces
        {"text": "بيان الوزير", "label": "crime-war-conflict", "split": "train"},
        {"text": "بيان الوزير", "label": "politics", "split": "train"},
        {"text": "بيان الوزير", "label": "politics", "split": "train"},
        {"text": "خبر واحد", "label": "politics", "split": "train"},  # once: no pair
        {"text": "خبر آخر", "label": "others", "split": "train"},  # unmapped: left out
        {"text": "خبر آخر", "label": "politics", "split": "train"},
    ]
    eval_classify.asnd_agreement(_jsonl(tmp_path / "asnd.jsonl", rows))
    out = capsys.readouterr().out
    # pairs: (sec, sec); (sec, pol) twice, (pol, pol): 4 pairs, 2 the same; security both 1,
    # one only 2: F1 2 / (2 + 2)
    assert "2 texts held twice or more, 4 pairs of copies; same label 50.0%" in out
    assert "security both 1, one only 2: F1 0.500" in out


def test_security_labels_are_scored_title_by_title(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"id": "a1", "title": "مقتل عشرة في قصف مدفعي وهجوم مسلح على قرية", "text": "…"},
        {"id": "a2", "title": "البرلمان يصادق على الموازنة والحكومة تعلن موعد الانتخابات"},
        {"id": "a3", "title": "غارات جوية وقصف صاروخي ومقتل جنود في اشتباكات على الحدود"},
        {"id": "zz", "title": "مقتل خمسة في انفجار عبوة ناسفة"},  # not labelled: not scored
    ]
    ant = _jsonl(tmp_path / "ant.jsonl", rows)
    labels = tmp_path / "labels.json"
    # a3 is labelled politics on purpose: one false positive
    doc = {"about": "test", "labels": {"a1": "security", "a2": "politics", "a3": "politics"}}
    labels.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    eval_classify.eval_security_labels(ant, labels)
    out = capsys.readouterr().out
    assert "labels.json): 3 items" in out
    assert "security on 3 ANT titles (ours): P 0.500 R 1.000 F1 0.667" in out
    assert "first topic right 66.7%" in out


def test_a_missing_label_file_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eval_classify.eval_security_labels(tmp_path / "ant.jsonl", tmp_path / "none.json")
    assert "skip:" in capsys.readouterr().out


def test_the_fourth_block_is_also_scored_with_its_leads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # titles that name no topic; their leads (first sentences of at least six words) do
    rows = [
        {
            "id": "b1",
            "title": "ماذا حدث هناك صباح اليوم؟",
            "text": "قتل عشرة أشخاص في قصف مدفعي وهجوم مسلح على قرية حدودية. وقال شهود إن…",
        },
        {
            "id": "b2",
            "title": "ماذا حدث هناك مساء اليوم؟",
            "text": "سجل المهاجم هدفين في مباراة الدوري وفاز فريقه بالبطولة والكأس. وقال المدرب…",
        },
    ]
    ant = _jsonl(tmp_path / "ant.jsonl", rows)
    labels = tmp_path / "labels.json"
    doc = {"about": "test", "labels": {"b1": "security", "b2": "sports"}}
    labels.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    eval_classify.eval_security_labels(ant, labels, lead=True)
    out = capsys.readouterr().out
    assert "ANT titles with their leads, labelled by reading (labels.json): 2 items" in out
    assert "security on 2 ANT titles with leads (ours): P 1.000 R 1.000 F1 1.000" in out
    assert "first topic right 100.0%" in out


def test_a_candidate_model_file_is_what_the_evaluation_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`eval_classify.py --model FILE` scores a model before it is shipped: `classify_topics`
    then reads that file's model (here the shipped one with another bias), not the package's."""
    from streams.classify import topics

    monkeypatch.setattr(topics, "default_model", topics.default_model)  # undone after the test
    shipped = topics.default_model()
    assert shipped is not None
    path = Path(topics.__file__).resolve().parent.parent / "data" / "topic_model.json"
    doc = json.loads(path.read_text("utf-8"))
    doc["bias"] = [b + 1.0 for b in doc["bias"]]
    candidate = tmp_path / "m.json"
    candidate.write_text(json.dumps(doc), "utf-8")
    eval_classify.use_model(candidate)
    used = topics.default_model()
    assert used is not None and used is not shipped
    assert used.bias == tuple(b + 1.0 for b in shipped.bias)
