"""The hot stage's per-word memos reach their caps early and stay under them (issue 13: worker
RSS flat from 10,000 articles; docs/performance.md "Memory: round eleven"): the topic model's
words and forms, the story terms. The figures ANT gives after 10,000 articles are the bounds
the caps must stay below (so the memos are full, and flat, from there)."""

from __future__ import annotations

from itertools import islice, product

import pytest

from streams.classify import topic_model
from streams.classify.topic_model import TopicModel, default_model
from streams.stories import features

# distinct entries ANT's first 10,000 articles bring (bench/state_growth.py --structures)
ANT_10K_WORDS, ANT_10K_FORMS, ANT_10K_BODY_WORDS = 63_880, 41_972, 77_351
_LETTERS = "بتثجحخدذرزسشصضطظعغفقكلمنهي"


def _words(n: int, length: int = 5) -> list[str]:
    """`n` distinct made-up Arabic words of `length` letters (each its own model form)."""
    return ["".join(p) for p in islice(product(_LETTERS, repeat=length), n)]


@pytest.mark.parametrize(
    ("cap", "reached_by"),
    [
        (topic_model._CACHE_MAX, ANT_10K_WORDS),
        (topic_model._FORMS_MAX, ANT_10K_FORMS),
        (features.TERMS_CAP, ANT_10K_BODY_WORDS),
    ],
)
def test_each_cap_is_full_before_10000_articles(cap: int, reached_by: int) -> None:
    assert 10_000 <= cap < reached_by


def test_the_words_memo_does_not_keep_more_forms_alive_than_their_cap() -> None:
    # ANT's 1.58 words per form: a full words' memo refers to ~cap / 1.58 forms
    assert topic_model._CACHE_MAX / 1.58 <= topic_model._FORMS_MAX


@pytest.mark.parametrize("extra", [1, 45_000])
def test_the_topic_memos_never_pass_their_caps(extra: int) -> None:
    base = default_model()
    assert base is not None
    model = TopicModel(base.topics, base.bias, base.rows)  # fresh memos, the default caps
    assert (model._words.cap, model._forms.cap) == (
        topic_model._CACHE_MAX,
        topic_model._FORMS_MAX,
    )
    words = _words(topic_model._FORMS_MAX + extra)
    for i, word in enumerate(words):
        entry = model._word(word)
        if i % 997 == 0:
            assert entry == model._word_of(word)  # the memoised entry is the computed one
            assert len(model._words) <= model._words.cap
            assert len(model._forms) <= model._forms.cap
    assert len(model._words) <= model._words.cap and len(model._forms) <= model._forms.cap
    assert words[-1] in model._words  # the newest word is kept through the halvings


@pytest.mark.parametrize("extra", [1, 70_000])
def test_the_story_term_memo_never_passes_its_cap(extra: int) -> None:
    memo = features._terms
    words = _words(features.TERMS_CAP + extra, length=6)
    most = 0
    for i, word in enumerate(words):
        assert features.term(word) == features._term_of(word)
        if i % 997 == 0:
            most = max(most, len(memo))
    assert max(most, len(memo)) <= features.TERMS_CAP == memo.cap
    assert memo[words[-1]] == features._term_of(words[-1])  # the newest word is remembered
