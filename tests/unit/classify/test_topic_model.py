"""The learned topic model (issue 15): a sparse dot product over known words, explained by the
words that weigh most; the lexicons decide when it knows too little."""

from __future__ import annotations

import pytest

from streams.classify.topic_model import TopicModel, default_model, feature
from streams.classify.topics import classify_topics, lexicon_topics
from streams.text.arabic import tokenize

TINY = TopicModel.from_doc(
    {
        "topics": ["security", "sports"],
        "weights": {
            "انفجار": [300, -300],
            "مباراه": [-250, 250],
            "هدف": [-50, 50],
            "شرطه": [120, -120],
        },
    }
)


@pytest.mark.parametrize(
    ("text", "topic", "margin", "known"),
    [
        ("انفجار قرب مقر الشرطة", "security", 8.4, 2),
        ("المباراة انتهت بهدف", "sports", 6.0, 2),
        ("انفجار في المباراة", "security", 1.0, 2),
        ("انفجار انفجار انفجار", "security", 6.0, 1),  # a word counts once
    ],
)
def test_guess(text: str, topic: str, margin: float, known: int) -> None:
    guess = TINY.guess([("title", tokenize(text))])
    assert guess is not None
    assert (guess.topic, round(guess.margin, 2), guess.known) == (topic, margin, known)


def test_no_known_word_no_guess() -> None:
    assert TINY.guess([("title", tokenize("قال إنه سيأتي غدا"))]) is None


def test_the_explanation_is_the_strongest_words_first() -> None:
    guess = TINY.guess([("title", tokenize("الشرطة تحقق في انفجار"))])
    assert guess is not None and guess.words == (("title", 3), ("title", 0))


def test_a_weight_vector_must_match_the_topics() -> None:
    with pytest.raises(ValueError):
        TopicModel.from_doc({"topics": ["a", "b"], "weights": {"x": [1]}})


@pytest.mark.parametrize(
    ("word", "expected"),
    [("والانفجار", "انفجار"), ("2024", None), ("في", None), ("من", None), ("ال", None)],
)
def test_features(word: str, expected: str | None) -> None:
    assert feature(tokenize(word).words[0]) == expected


def test_the_packaged_model_puts_its_topic_first_with_words_as_evidence() -> None:
    assert default_model() is not None
    title = "مقتل ثلاثة جنود بانفجار عبوة ناسفة استهدفت دورية للجيش"
    labels = classify_topics(title, "")
    assert labels[0].code == "security"
    for evidence in labels[0].evidence:
        assert title[evidence.start : evidence.end] == evidence.text


def test_the_outlets_section_keeps_the_lexicons_verdict() -> None:
    assert classify_topics("خبر قصير", "", section="رياضة") == lexicon_topics(
        "خبر قصير", "", section="رياضة"
    )
