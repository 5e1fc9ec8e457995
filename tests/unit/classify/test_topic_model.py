"""The learned topic model (issue 15): hashed words, word pairs and character n-grams scored by
a sparse dot product, explained by the words that weigh most; the lexicons decide when it knows
too little."""

from __future__ import annotations

import base64
import math
from array import array
from itertools import pairwise

import pytest

from streams.classify.topic_model import (
    BODY_WORDS,
    BUCKETS,
    TopicModel,
    _readable,
    _word_buckets,
    default_model,
    feature,
    pack,
    pair_bucket,
    pair_buckets,
    stems,
    text_buckets,
    unpack,
    word_buckets,
)
from streams.classify.topics import MIN_RAW, classify_topics, first_topic, lexicon_topics
from streams.text.arabic import Tokens, tokenize

TOPICS = ("security", "sports")


def tiny(
    words: dict[str, tuple[float, float]], pairs: dict[tuple[str, str], tuple[float, float]]
) -> TopicModel:
    """A two-topic model whose weights sit on each word's own feature (not its n-grams)."""
    weights = {word_buckets(w)[0]: v for w, v in words.items()}
    weights.update({pair_bucket(p): v for p, v in pairs.items()})
    return TopicModel.of(TOPICS, (0.0, 0.0), weights)


TINY = tiny(
    {"انفجار": (3.0, -3.0), "مباراه": (-2.5, 2.5), "هدف": (-0.5, 0.5), "شرطه": (1.2, -1.2)},
    {("انفجار", "مباراه"): (4.0, -4.0)},
)


def _n(text: str) -> int:
    return len(text_buckets([("title", tokenize(text))]))


@pytest.mark.parametrize(
    ("text", "topic", "dot", "known"),
    [
        ("انفجار قرب مقر الشرطة", "security", 8.4, 2),
        ("المباراة انتهت بهدف", "sports", 6.0, 2),
        ("المباراة انفجار", "security", 1.0, 2),  # no weight for this pair
        ("انفجار المباراة", "security", 9.0, 2),  # a pair of neighbours weighs too
        ("انفجار في المباراة", "security", 9.0, 2),  # a stop word between them too
        ("انفجار انفجار انفجار", "security", 6.0, 1),  # a word counts once
    ],
)
def test_guess_is_a_dot_product_over_the_features(
    text: str, topic: str, dot: float, known: int
) -> None:
    guess = TINY.guess([("title", tokenize(text))])
    assert guess is not None
    assert (guess.topic, guess.known) == (topic, known)
    # scores are normalised by the number of features, as in training
    assert guess.margin == pytest.approx(dot / math.sqrt(_n(text)))
    assert sum(math.exp(x) for x in guess.scores.values()) == pytest.approx(1.0)


def test_no_known_word_no_guess() -> None:
    assert TINY.guess([("title", tokenize("قال إنه سيأتي غدا"))]) is None


def test_the_explanation_is_the_strongest_words_first() -> None:
    guess = TINY.guess([("title", tokenize("الشرطة تحقق في انفجار"))])
    assert guess is not None and guess.words() == (("title", 3), ("title", 0))
    assert guess.words("sports") == ()  # no word of the text weighs for sports


def test_only_the_body_lead_is_read() -> None:
    body = " ".join(["كلمة"] * 200 + ["انفجار"])
    assert TINY.guess([("body", tokenize(body))]) is None


def test_character_ngrams_are_hashed_features_of_the_word() -> None:
    buckets = word_buckets("انفجار")
    # the word, then its 3-, 4- and 5-grams of «<انفجار>» (8 characters: 6 + 5 + 4)
    assert len(buckets) == 1 + 6 + 5 + 4
    assert all(0 <= b < BUCKETS for b in buckets)
    assert word_buckets("انفجار") == buckets  # stable: CRC-32, not Python's salted hash


def _doc(ids: list[int], values: list[int], scale: float = 10.0) -> dict[str, object]:
    return {
        "topics": list(TOPICS),
        "buckets": BUCKETS,
        "scale": scale,
        "bias": [0.5, -0.5],
        "ids": base64.b64encode(array("I", ids).tobytes()).decode(),
        "weights": base64.b64encode(array("b", values).tobytes()).decode(),
    }


def test_the_file_format_round_trips() -> None:
    b = word_buckets("انفجار")[0]
    model = TopicModel.from_doc(_doc([b], [30, -30]))
    assert list(model.rows) == [b] and model.weight(b) == (3.0, -3.0)
    assert model.bias == (0.5, -0.5) and model.weight(b + 1) is None


@pytest.mark.parametrize(
    "doc",
    [
        _doc([1], [1]),  # a weight vector does not match the topics
        {**_doc([1], [1, 2]), "buckets": 1024},  # hashed for another table size
        {**_doc([1], [1, 2]), "bias": [0.0]},
    ],
)
def test_a_model_that_does_not_fit_is_refused(doc: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        TopicModel.from_doc(doc)


@pytest.mark.parametrize(
    ("word", "expected"),
    [("والانفجار", "انفجار"), ("2024", None), ("في", None), ("من", None), ("ال", None)],
)
def test_features(word: str, expected: str | None) -> None:
    assert feature(tokenize(word).words[0]) == expected


def test_first_topic_mixes_model_and_lexicons() -> None:
    guess = TINY.guess([("title", tokenize("انفجار قرب مقر الشرطة"))])
    assert guess is not None
    none: dict[str, float] = {}
    assert first_topic({}, guess, mix=0.0, min_margin=0.1, offsets=none) == "security"
    too_close = guess.margin + 0.1  # the model cannot tell: the lexicons' topic decides …
    lexicons = {"politics": MIN_RAW}
    assert first_topic(lexicons, guess, mix=0.0, min_margin=too_close, offsets=none) is None
    # … and when they report none, the model's leader all the same (not no topic at all)
    assert first_topic({}, guess, mix=0.0, min_margin=too_close, offsets=none) == "security"
    weak = {"politics": MIN_RAW - 0.5}
    assert first_topic(weak, guess, mix=0.0, min_margin=too_close, offsets=none) == "security"
    assert first_topic({}, guess, mix=0.0, min_margin=0.1, min_known=3, offsets=none) is None
    # a prior (offset) or the lexicons can outweigh the model, but a topic no word of the text
    # weighs for is never put first by the model
    assert first_topic({"sports": 50.0}, guess, mix=1.0, min_margin=0.1, offsets=none) is None
    sporty = TINY.guess([("title", tokenize("انفجار قرب الشرطة بعد هدف"))])
    assert sporty is not None and sporty.topic == "security"
    assert first_topic({"sports": 50.0}, sporty, mix=1.0, min_margin=0.1, offsets=none) == "sports"
    assert first_topic({}, sporty, mix=0.0, min_margin=0.1, offsets={"sports": 9.0}) == "sports"


# The packaged model on texts it was not trained on (written for these tests), one per kind.
@pytest.mark.parametrize(
    ("title", "body", "expected"),
    [
        ("عاجل | مقتل ثلاثة جنود بانفجار عبوة ناسفة استهدفت دورية للجيش", "", "security"),
        ("مسلحون يهاجمون نقطة تفتيش ويقتلون خمسة من عناصر الأمن", "", "security"),
        ("البنك المركزي يرفع سعر الفائدة والتضخم يواصل الارتفاع", "", "economy"),
        ("أسعار النفط تتراجع مع زيادة المخزونات الأمريكية", "", "economy"),
        ("المنتخب يفوز على ضيفه بهدفين في تصفيات كأس العالم", "", "sports"),
        ("شركة آبل تطلق هاتفا جديدا بمعالج أسرع وكاميرا محسنة", "", "technology"),
        ("البرلمان يصوت على منح الثقة للحكومة الجديدة", "", "politics"),
        ("مهرجان السينما يكرم المخرج في حفل الافتتاح بحضور نجوم الفن", "", "culture"),
    ],
)
def test_the_packaged_model_puts_its_topic_first_with_words_as_evidence(
    title: str, body: str, expected: str
) -> None:
    assert default_model() is not None
    labels = classify_topics(title, body)
    assert labels and labels[0].code == expected
    assert labels[0].evidence
    for evidence in labels[0].evidence:  # every explanation word is in the text, where it says
        assert title[evidence.start : evidence.end] == evidence.text


def test_the_outlets_section_keeps_the_lexicons_verdict() -> None:
    assert classify_topics("خبر قصير", "", section="رياضة") == lexicon_topics(
        "خبر قصير", "", section="رياضة"
    )


# -- the worker's memo and C-level sums give what a direct computation gives (issue 13) ------

PACKAGED_WORDS = [
    "انفجار",  # a known word
    "والانفجار",  # the same model form after a proclitic and the article
    "الاقتصاديه",
    "مباراه",
    "في",  # a stop word: ignored
    "2024",  # a number: ignored
    "ال",  # too short: ignored
    "قزحبلوطيات",  # a word no one writes: only its n-grams may weigh
    "",  # a word blanked for being too long
]


def _row(model: TopicModel, bucket: int) -> tuple[float, ...]:
    row = model.weight(bucket)
    assert row is not None
    return row


def _direct(model: TopicModel, word: str) -> tuple[str | None, tuple[float, ...] | None, int]:
    """A word's model form, summed vector and feature count, from the weights table."""
    stem = feature(word) if word else None
    if stem is None:
        return None, None, 0
    return stem, _summed(model, stem), len(word_buckets(stem))


def _summed(model: TopicModel, stem: str) -> tuple[float, ...] | None:
    """The weights of a model form's features summed per topic, in the buckets' order."""
    rows = [_row(model, b) for b in word_buckets(stem) if b in model.rows]
    return tuple(sum(row[j] for row in rows) for j in range(len(model.topics))) if rows else None


@pytest.mark.parametrize("word", PACKAGED_WORDS)
def test_a_words_memoised_contribution_is_its_direct_sum(word: str) -> None:
    model = default_model()
    assert model is not None
    direct = _direct(model, word)
    assert model.word(word) == direct  # the same floats, summed in the same order
    model.guess([("title", tokenize(f"{word} انفجار قرب مقر الشرطة"))])  # memoised now
    again = model.guess([("title", tokenize(f"{word} انفجار قرب مقر الشرطة"))])
    assert again is not None
    if word:  # (a blanked word is no token)
        assert _readable(model._words[word]) == direct  # what the memo keeps, packed


@pytest.mark.parametrize(
    ("first", "second"),
    [("انفجار", "مباراه"), ("رييس", "وزراء"), ("a", "b"), ("اقتصاد", "اقتصاد")],
)
def test_the_workers_pair_buckets_are_the_reference_ones(first: str, second: str) -> None:
    pair = (first.encode(), second.encode())
    assert list(pair_buckets([pair, pair[::-1]])) == [
        pair_bucket((first, second)),
        pair_bucket((second, first)),
    ]


def _reference_scores(model: TopicModel, fields: list[tuple[str, Tokens]]) -> dict[str, float]:
    """Log-probabilities straight from `text_buckets` (what training sees), no memo."""
    buckets = text_buckets(fields)
    dot = [
        sum(_row(model, b)[j] for b in buckets if b in model.rows) for j in range(len(model.topics))
    ]
    total = [b + x / math.sqrt(len(buckets)) for b, x in zip(model.bias, dot, strict=True)]
    log_z = math.log(sum(math.exp(x) for x in total))
    return {t: x - log_z for t, x in zip(model.topics, total, strict=True)}


@pytest.mark.parametrize(
    ("title", "body"),
    [
        ("انفجار قرب مقر الشرطة", ""),
        ("", "البنك المركزي يرفع سعر الفائدة والبنك المركزي يرفع سعر الفائدة مرة أخرى"),
        ("المنتخب يفوز", "المنتخب يفوز على ضيفه بهدفين في تصفيات كأس العالم " * 10),
        ("قزحبلوطيات مباراه", "مباراه قزحبلوطيات انفجار انفجار انفجار"),  # unseen words
    ],
)
def test_guess_is_the_dot_product_of_the_text_buckets(title: str, body: str) -> None:
    model = default_model()
    assert model is not None
    fields = [(f, tokenize(t)) for f, t in (("title", title), ("body", body)) if t]
    expected = _reference_scores(model, fields)
    for _ in range(2):  # words not memoised, then memoised
        guess = model.guess(fields)
        assert guess is not None
        assert guess.scores == pytest.approx(expected, abs=1e-12)
        assert guess.topic == max(expected, key=expected.__getitem__)


def _ordered_scores(model: TopicModel, fields: list[tuple[str, Tokens]]) -> dict[str, float]:
    """Log-probabilities with every float added in the order the worker adds them, over
    tuples in Python: each distinct word's summed weights (its buckets' rows in order) in the
    order the words first occur, then each distinct pair's row in the order pairs first occur.
    """
    seen, _ = stems(fields)
    pairs: dict[tuple[str, str], None] = {}
    for name, tokens in fields:
        words = tokens.words if name == "title" else tokens.words[:BODY_WORDS]
        forms = [f for f in map(feature, words) if f is not None]
        pairs.update(dict.fromkeys(pairwise(forms)))
    rows = [v for v in (_summed(model, w) for w in seen) if v is not None]
    rows += [_row(model, pair_bucket(p)) for p in pairs if pair_bucket(p) in model.rows]
    n = sum(len(word_buckets(w)) for w in seen) + len(pairs)
    norm = 1.0 / math.sqrt(n)
    total = [
        b + x * norm for b, x in zip(model.bias, map(sum, zip(*rows, strict=True)), strict=True)
    ]
    top = max(total)
    log_z = top + math.log(sum(math.exp(x - top) for x in total))
    return {t: x - log_z for t, x in zip(model.topics, total, strict=True)}


@pytest.mark.parametrize(
    ("title", "body"),
    [
        ("انفجار قرب مقر الشرطة", ""),
        ("المنتخب يفوز", "المنتخب يفوز على ضيفه بهدفين في تصفيات كأس العالم " * 10),
        ("البنك المركزي يرفع سعر الفائدة", "قال البنك المركزي إن التضخم تراجع والبنك يرفع"),
        ("قزحبلوطيات مباراه", "مباراه قزحبلوطيات انفجار انفجار انفجار"),  # unseen words
    ],
)
def test_the_packed_sums_are_the_same_floats_as_sums_over_tuples(title: str, body: str) -> None:
    """Bit for bit (issue 13: the memo keeps packed doubles, not tuples of floats)."""
    model = default_model()
    assert model is not None
    fields = [(f, tokenize(t)) for f, t in (("title", title), ("body", body)) if t]
    expected = _ordered_scores(model, fields)
    for _ in range(2):  # words not memoised, then memoised
        guess = model.guess(fields)
        assert guess is not None and guess.scores == expected


def test_the_word_memo_stays_bounded_and_right() -> None:
    weights = {"انفجار": (3.0, -3.0), "مباراه": (-2.5, 2.5)}
    model, unbounded = tiny(weights, {}), tiny(weights, {})
    model._words.cap, model._forms.cap = 4, 2
    # unseen words, some of them twice in the text
    text = "انفجار مباراه " + " ".join(f"كلمه{i}" for i in range(30)) + " مباراه والانفجار"
    expected = unbounded.guess([("title", tokenize(text))])
    first = model.guess([("title", tokenize(text))])
    again = model.guess([("title", tokenize(text))])
    assert len(model._words) <= 4 and len(model._forms) <= 2
    assert first is not None and again is not None and expected is not None
    assert first.scores == again.scores == expected.scores
    assert first.words() == again.words() == expected.words() == (("title", 0),)


def test_the_words_of_one_model_form_share_its_memoised_entry() -> None:
    model = tiny({"انفجار": (3.0, -3.0)}, {})
    entry = model._word("انفجار")
    assert model._word("والانفجار") is entry  # a new word, a known form: nothing recomputed
    assert _readable(entry) == model.word("والانفجار") == model.word("انفجار")
    assert model.word("انفجار") == ("انفجار", (3.0, -3.0), len(word_buckets("انفجار")))
    assert list(model._words) == ["انفجار", "والانفجار"]
    assert list(model._forms) == ["انفجار".encode()]  # a form is kept as its UTF-8 bytes
    assert _readable(model._word("في")) == model.word("في") == (None, None, 0)  # ignored
    assert len(model._forms) == 1


@pytest.mark.parametrize(
    "stem",
    [
        "انفجار",
        "اقتصاديه",
        "رييس",
        "ابل",  # 3 letters: «<ابل>» has one 5-gram
        "اب",
        "قزحبلوطيات",
        "ٱلله",  # a letter outside the basic Arabic block, still two bytes
        "ﻻعب",  # a presentation form: three bytes, the reference way
        "iphone",  # one byte a letter
        "كوفيد19",  # mixed widths
        "€uro",
    ],
)
def test_the_workers_ngram_buckets_are_the_reference_ones(stem: str) -> None:
    assert _word_buckets(stem, stem.encode()) == word_buckets(stem)


def test_the_explanation_points_at_each_words_first_occurrence_title_first() -> None:
    fields = [
        ("title", tokenize("الشرطة تحقق")),
        ("body", tokenize("قال مصدر إن انفجار وقع قرب مقر الشرطة")),
    ]
    guess = TINY.guess(fields)
    assert guess is not None and guess.words("security") == (("body", 3), ("title", 0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("انفجار شرطه", (("title", 0), ("title", 1))),  # strongest first
        ("شرطه انفجار", (("title", 1), ("title", 0))),
        ("شرطه أمن انفجار", (("title", 2), ("title", 0), ("title", 1))),  # equal: text order
        ("أمن شرطه انفجار", (("title", 2), ("title", 0), ("title", 1))),
        ("والانفجار ثم انفجار", (("title", 0),)),  # one word (one model form): first place
    ],
)
def test_the_explanation_keeps_the_texts_order_for_equal_weights(
    text: str, expected: tuple[tuple[str, int], ...]
) -> None:
    model = tiny({"انفجار": (3.0, -3.0), "شرطه": (1.2, -1.2), "امن": (1.2, -1.2)}, {})
    guess = model.guess([("title", tokenize(text))])
    assert guess is not None and guess.words("security") == expected
    assert guess.words("security") is guess.words("security")  # worked out once


def _sequential(rows: list[tuple[float, ...]]) -> tuple[float, ...]:
    """Each column summed left to right, as Python's `sum` adds (no pairwise summation)."""
    return tuple(sum(column) for column in zip(*rows, strict=True))


@pytest.mark.parametrize("count", [1, 2, 7, 9, 16, 129, 1000])
def test_the_column_sums_add_the_rows_in_order(count: int) -> None:
    """A memoised word's packed sum adds its rows one after the other (issue 13, round eight:
    a compiled sum, pairwise or blocked, rounds differently on these rows)."""
    cycle = [(1e16, 0.1, -3.0), (1.0, 0.2, 1e-17), (-1e16, 0.3, 3.0), (1.0, 1e10, -1e-17)]
    rows = [tuple(x * (1 + i % 3) for x in cycle[i % 4]) for i in range(count)]
    model = TopicModel.of(("a", "b", "c"), (0.0, 0.0, 0.0), {})
    assert unpack(model._sum([pack(row) for row in rows])) == _sequential(rows)


def test_a_guess_adds_its_rows_in_the_texts_order() -> None:
    """A text whose words' rows cancel (1e16, then -1e16, …, then small weights): its scores
    are bit for bit those of every row added in the text's order."""
    candidates = [f"مدين{c}ات" for c in "بتثجحخدذرزسشصضطظعغفقمن"]
    words = [w for w in candidates if feature(w) == w][:20]
    assert len(words) == 20
    weights = {w: ((1e16, -1e16) if i % 2 else (-1e16, 1e16)) for i, w in enumerate(words[:10])}
    weights.update({w: (0.1 * (i + 1), 1.0 / (i + 3)) for i, w in enumerate(words[10:])})
    model = tiny(weights, {})
    fields = [("title", tokenize(" ".join(words)))]
    for _ in range(2):  # words not memoised, then memoised
        guess = model.guess(fields)
        assert guess is not None and guess.scores == _ordered_scores(model, fields)
