"""Averaging topic model weight files of several seeds (issue 15, round twelve:
bench/average_topic_models.py): the mean per bucket over the union of buckets, the biases
averaged, one linear model in the worker's format; files that are not samples of one model
(another feature space, training set or option, the same seed twice) refused. Tiny weight files
written for the test, and the shipped file."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest

from bench import train_topics
from bench.average_topic_models import average, read_rows
from streams.classify.topic_model import TopicModel, data_file
from streams.classify.topics import TOPICS

K = len(TOPICS)
TRAINED = train_topics.trained_on((train_topics.HAND_LABELS,))


def _row(*pairs: tuple[int, float]) -> list[float]:
    """A centred row: +x on topic i, the same taken evenly from the others."""
    row = [0.0] * K
    for i, x in pairs:
        row[i] += x
        for j in range(K):
            if j != i:
                row[j] -= x / (K - 1)
    return row


def _options(seed: int, **changes: Any) -> dict[str, Any]:
    return {
        "seeds": [seed],
        "epochs": 3,
        "titles": True,
        "leads": True,
        "read_labels": None,
        "prune": 0.0,
        **changes,
    }


def _doc(rows: dict[int, list[float]], seed: int, **changes: Any) -> dict[str, Any]:
    bias = [0.1 * seed * (j - K / 2) for j in range(K)]
    doc = train_topics.weights_doc(rows, bias, TRAINED, 0.0, _options(seed, **changes))
    # what a worker reads: the file's bytes, not the dict the trainer built
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(doc))
    return loaded


A = {1: _row((0, 2.0)), 5: _row((6, 1.0)), 9: _row((1, 0.8))}
B = {1: _row((0, 1.0)), 7: _row((7, 3.0)), 9: _row((1, -0.4))}
C = {1: _row((0, 3.0)), 5: _row((6, -1.0)), 11: _row((8, 0.5))}


@pytest.mark.parametrize(
    ("files", "bucket", "topic", "mean", "union"),
    [
        ((A, B), 1, 0, 1.5, {1, 5, 7, 9}),  # in both files: the mean
        ((A, B), 5, 6, 0.5, {1, 5, 7, 9}),  # in one: the other counts 0 (pruned there)
        ((A, B), 7, 7, 1.5, {1, 5, 7, 9}),
        ((A, B), 9, 1, 0.2, {1, 5, 7, 9}),  # signs cancel
        ((A, B, C), 1, 0, 2.0, {1, 7, 9, 11}),
        ((A, B, C), 5, 6, 0.0, {1, 7, 9, 11}),  # cancels out: nothing left to store
        ((A, B, C), 11, 8, 0.5 / 3, {1, 7, 9, 11}),
        ((A,), 9, 1, 0.8, {1, 5, 9}),  # one file: itself
    ],
)
def test_the_average_is_the_mean_per_bucket(
    files: tuple[dict[int, list[float]], ...],
    bucket: int,
    topic: int,
    mean: float,
    union: set[int],
) -> None:
    docs = [_doc(rows, seed) for seed, rows in enumerate(files, start=20)]
    out = average(docs, prune=0.0)
    rows = read_rows(out)
    assert set(rows) == union
    top = max(abs(x) for r in rows.values() for x in r)
    step = top / 127  # int8 over one scale: each stored weight is within a step (twice rounded)
    expected = _row((topic, mean)) if mean else None
    if expected is None:
        assert bucket not in rows
    else:
        assert rows[bucket] == pytest.approx(expected, abs=1.5 * step)
    # the biases are averaged (centred: the softmax ignores a shift)
    biases = [[float(x) for x in d["bias"]] for d in docs]
    mean_bias = [sum(b[j] for b in biases) / len(docs) for j in range(K)]
    centre = sum(mean_bias) / K
    assert out["bias"] == pytest.approx([x - centre for x in mean_bias], abs=1e-3)
    assert out["training"]["seeds"] == list(range(20, 20 + len(files)))
    assert out["training"]["averaged"] == len(files)


def test_the_average_scores_as_the_mean_of_the_models() -> None:
    """One linear model: on the same features its scores are the mean of the files' scores
    (within the int8 steps), so the worker's dot product needs nothing new."""
    docs = [_doc(A, 1), _doc(B, 2), _doc(C, 3)]
    models = [TopicModel.from_doc(d) for d in docs]
    mean = TopicModel.from_doc(average(docs, prune=0.0))
    feats = [1, 5, 7, 9, 11, 13]  # 13: in no file
    for j in range(K):
        single = [m.bias[j] + sum((m.weight(f) or (0.0,) * K)[j] for f in feats) for m in models]
        got = mean.bias[j] + sum((mean.weight(f) or (0.0,) * K)[j] for f in feats)
        assert got == pytest.approx(sum(single) / len(single), abs=0.05)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"topics": list(reversed(TOPICS))}, "topics"),
        ({"buckets": 1 << 18}, "buckets"),
        ({"trained_on": TRAINED + ", bench/data/topic_train_labels.json"}, "trained_on"),
        ({"training": _options(2, epochs=2)}, "options"),
        ({"training": _options(2, read_labels="topic_train_labels.json")}, "options"),
        ({"training": _options(2, prune=0.164)}, "options"),  # raw with pruned
        ({"training": _options(1)}, "twice"),  # the same seed
        ({"training": {**_options(2), "averaged": 2}}, "options"),  # an average again
    ],
)
def test_files_that_are_not_one_models_samples_are_refused(
    change: dict[str, Any], message: str
) -> None:
    first, second = _doc(A, 1), {**_doc(B, 2), **change}
    with pytest.raises(ValueError, match=message):
        average([first, second])
    with pytest.raises(ValueError, match=message):
        average([second, first])
    average([first, _doc(B, 2)])  # the same two unchanged: averaged


def test_pruning_keeps_the_rows_that_move_a_topic_enough() -> None:
    docs = [_doc({1: _row((0, 2.0)), 2: _row((0, 0.1)), 3: _row((0, 0.3))}, 1)]
    assert set(read_rows(average(docs, prune=0.0))) == {1, 2, 3}
    assert set(read_rows(average(docs, prune=0.2))) == {1, 3}
    assert set(read_rows(average(docs, prune=0.5))) == {1}


def test_the_shipped_file_averaged_alone_is_itself_and_scores() -> None:
    doc: dict[str, Any] = orjson.loads(data_file("topic_model.json").read_bytes())
    rows = read_rows(doc)
    again = average([doc], prune=0.0)
    assert math.isclose(again["scale"], doc["scale"], rel_tol=0.01)
    step = 1 / doc["scale"]
    back = read_rows(again)
    assert set(back) == set(rows)
    for b in list(rows)[:: max(1, len(rows) // 2000)]:
        assert back[b] == pytest.approx(rows[b], abs=1.5 * step)
    model = TopicModel.from_doc(again)
    assert len(model.rows) == len(rows)
    assert model.bias == pytest.approx(TopicModel.from_doc(doc).bias, abs=1e-3)


def test_the_trainer_records_its_options() -> None:
    args = train_topics.argparse.Namespace(
        seed=16,
        epochs=3,
        no_titles=False,
        no_leads=False,
        science_fields=False,
        read_labels=None,
        read_weight=3.0,
    )
    options = train_topics.training_options(args)
    assert options["seeds"] == [16]
    assert options["read_weight"] is None  # without read labels the weight means nothing
    assert options["lexicons"] == train_topics.training_options(args)["lexicons"]
    read = train_topics.training_options(
        train_topics.argparse.Namespace(**{**vars(args), "read_labels": train_topics.READ_LABELS})
    )
    assert read["read_labels"] == "topic_train_labels.json" and read["read_weight"] == 3.0
