"""The word memos and the story stage hold one string per word (docs/performance.md, "Memory:
round ten"): a memo's keys, the story terms and the place names are interned when first
computed, so equal words met in different articles, and the terms the story stage decodes,
are the memo's own objects."""

from __future__ import annotations

import sys

import orjson
import pytest

from streams.classify.topic_model import default_model
from streams.stories import features
from streams.stories.features import StoryFeatures, story_features, term
from streams.text.arabic import tokenize
from streams.text.memo import Memo, WordMemo


def fresh(text: str) -> str:
    """An equal string that is another object (as a decoded message's or a new article's)."""
    out = text.encode().decode()
    assert out == text and out is not text
    return out


@pytest.mark.parametrize(
    "word", ["الانتخابات", "بغداد", "word", "والعراقيين", "x" * 40, "كلمة_لم_ترد_قط_1"]
)
def test_a_word_memo_keeps_one_string_per_word(word: str) -> None:
    first: WordMemo[int] = WordMemo(cap=10)
    second: WordMemo[int] = WordMemo(cap=10)
    first.remember(fresh(word), 1)
    second.remember(fresh(word), 2)
    (a,), (b,) = list(first), list(second)
    assert a is b is sys.intern(fresh(word))
    assert first.get(fresh(word)) == 1 and second.get(fresh(word)) == 2  # lookups as before


def test_a_memo_of_other_keys_keeps_them_as_given() -> None:
    memo: Memo[bytes, int] = Memo(cap=4)
    key = "كلمة".encode()
    memo.remember(key, 1)
    assert next(iter(memo)) is key


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("والعراقيون", "عراقيون"),  # prefix dropped: a new string, interned
        ("الموصل", "موصل"),
        ("بغداد", "بغداد"),  # no prefix: the word itself, interned
        ("في", ""),  # a stop word (the empty string is one object anyway)
    ],
)
def test_story_terms_are_interned_so_the_story_stage_shares_them(word: str, expected: str) -> None:
    features._terms.pop(word, None)
    got = term(fresh(word))
    assert got == expected
    assert got is sys.intern(fresh(expected) if expected else expected)
    # the story stage decodes a candidate and interns its terms: it gets the memo's object
    decoded = orjson.loads(orjson.dumps({"t": {got: 1}}))["t"]
    (shared,) = StoryFeatures.from_message(
        {
            "title": decoded,
            "lead": {},
            "body": {},
            "numbers": [],
            "entities": [],
            "fingerprint": "-",
        }
    ).title
    assert shared is got


def test_an_articles_features_use_the_memos_strings() -> None:
    title = fresh("انفجار في سوق الموصل القديمة يوقع ضحايا")
    body = fresh("قالت الشرطة إن انفجارا وقع في سوق الموصل القديمة صباح اليوم")
    got = story_features(title, body, [fresh("الموصل")])
    for counts in (got.title, got.lead, got.body):
        for t in counts:
            assert t is sys.intern(fresh(t))
    assert got.entities and all(e is sys.intern(fresh(e)) for e in got.entities)


def test_the_topic_models_word_memo_interns_its_words() -> None:
    model = default_model()
    if model is None:
        pytest.skip("no packaged topic model")
    word = fresh("المفاوضات")
    model._words.pop(word, None)
    model.guess([("title", tokenize(fresh("المفاوضات النووية")))])
    key = next(k for k in model._words if k == word)
    assert key is sys.intern(fresh(word))
