"""The cheaper story code computes exactly what the plain code did (issue 14's cost work): each
new helper against a straightforward reference, bit for bit, on tables of cases (ties, stop
words, prefixes, numbers, weights the model zeroes)."""

from __future__ import annotations

import heapq
import json
import math
import random
from collections.abc import Sequence
from typing import Any

import pytest

from streams.stories.cluster import (
    FEATURES,
    QUERY_TERMS,
    Clusterer,
    Query,
    Similarity,
    StoryIndex,
    StoryModel,
    StoryParams,
    _dot,
    _first_of,
    _heaviest,
    _places,
    _rare,
    add_member,
    article_vectors,
    compare,
    compare_first,
    copy_key,
    new_story,
    opener,
    probability,
    state_json,
)
from streams.stories.cluster import _numbers as _cluster_numbers
from streams.stories.docfreq import DocFreq
from streams.stories.features import (
    LEAD_WORDS,
    MAX_BODY_WORDS,
    MAX_NUMBERS,
    MAX_TERMS,
    StoryFeatures,
    _counts,
    _most_frequent,
    _numbers,
    story_features,
    term,
)
from streams.text.arabic import normalize, tokenize

from .test_stories import TEXTS, _assign, _features


# -------------------------------------------------------------- references: the plain code
def _ref_counts(words: Sequence[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for word in words:
        if t := term(word):
            out[t] = out.get(t, 0) + 1
    return out


def _ref_is_number(word: str) -> bool:
    return (
        word.isdigit()
        and 2 <= len(word) <= 12
        and not (len(word) == 4 and word[:2] in ("19", "20"))
    )


def _ref_features(title: str, body: str, places: Sequence[str] = ()) -> dict[str, Any]:
    """story_features as it was written before the cost work (one term lookup per word)."""
    title_words, body_words = tokenize(title).words, tokenize(body).words
    head = body_words[:MAX_BODY_WORDS]
    counts = _ref_counts(head)
    if len(counts) > MAX_TERMS:
        counts = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TERMS])
    numbers: list[str] = []
    for word in (*title_words, *head):
        if _ref_is_number(word) and word not in numbers:
            numbers.append(word)
    entities: list[str] = []
    for place in places:
        name = " ".join(filter(None, (term(w) for w in normalize(place).split())))
        if name and name not in entities:
            entities.append(name)
    return {
        "title": list(_ref_counts(title_words).items()),
        "lead": list(_ref_counts(body_words[:LEAD_WORDS]).items()),
        "body": list(counts.items()),
        "numbers": numbers[:MAX_NUMBERS],
        "entities": entities,
    }


def _ordered(features: StoryFeatures) -> dict[str, Any]:
    """The features with their dicts' order (what a JSON message and the float sums see)."""
    return {
        "title": list(features.title.items()),
        "lead": list(features.lead.items()),
        "body": list(features.body.items()),
        "numbers": list(features.numbers),
        "entities": list(features.entities),
    }


WORDS = ["والعراق", "بالعراق", "العراق", "في", "من", "وزاره", "الداخليه", "ال", "لل", "للبيت"]


def _random_text(rng: random.Random, n: int) -> str:
    vocab = [*WORDS, *(f"كلمه{i}" for i in range(150)), "45", "2018", "123456", "7", "٣٤"]
    return " ".join(rng.choice(vocab) for _ in range(n))


# ------------------------------------------------------------------------- features
@pytest.mark.parametrize(
    ("title", "body", "places"),
    [
        (TEXTS["story"][0], TEXTS["story"][1], ("العراق", "بغداد")),
        (TEXTS["rewrite"][0], TEXTS["rewrite"][1], ("العراق",)),
        (TEXTS["other"][0], TEXTS["other"][1], ()),
        ("", "", ()),
        ("", "في من على", ()),  # stop words only
        ("45 45 ٤٥", "قتل 45 واصيب 120 في 2018 و 1999 و 7", ()),  # numbers, years, digits
        ("", " ".join(f"كلمه{i}" for i in range(200)), ()),  # > MAX_TERMS, all tied at 1
        ("", " ".join(f"رقم {i + 10}" for i in range(50)), ()),  # > MAX_NUMBERS
        ("", "ا" * 80 + " والعراق", ()),  # a word past the length cap
        ("العراق", "العراق", ("محافظة البصرة", "محافظة البصرة", "البصرة")),  # places once each
    ],
)
def test_story_features_are_those_of_the_plain_code(
    title: str, body: str, places: tuple[str, ...]
) -> None:
    assert _ordered(story_features(title, body, places)) == _ref_features(title, body, places)


@pytest.mark.parametrize("seed", range(6))
def test_story_features_match_the_plain_code_on_random_texts(seed: int) -> None:
    rng = random.Random(seed)
    title, body = _random_text(rng, 12), _random_text(rng, rng.choice((30, 300, 900)))
    assert _ordered(story_features(title, body)) == _ref_features(title, body)


@pytest.mark.parametrize(
    "words",
    [
        [],
        ["في", "من"],  # stop words: no term
        ["والعراق", "العراق", "بالعراق", "وزاره"],  # three words, one term, counted together
        ["وزاره", "والعراق", "وزاره", "العراق"],  # order: first occurrence of the term
    ],
)
def test_term_counts_merge_words_of_one_term_in_order(words: list[str]) -> None:
    assert list(_counts(map(term, words)).items()) == list(_ref_counts(words).items())


@pytest.mark.parametrize(
    ("counts", "n"),
    [
        ({"ب": 1, "ا": 1, "ج": 1}, 2),  # all tied: the smallest terms, in term order
        ({"ب": 1, "ا": 2, "ج": 3, "د": 2}, 3),  # by count, then term
        ({"ب": 5}, 3),
        ({f"t{i:03d}": i % 4 for i in range(100)}, 60),
    ],
)
def test_most_frequent_sorts_by_count_then_term(counts: dict[str, int], n: int) -> None:
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    assert list(_most_frequent(counts, n).items()) == expected


@pytest.mark.parametrize(
    ("title", "head", "expected"),
    [
        ([], [], ()),
        (["45"], ["45", "12", "2018", "1999", "2100", "7"], ("45", "12", "2100")),
        ([], [str(10 + i) for i in range(30)], tuple(str(10 + i) for i in range(MAX_NUMBERS))),
        (["12"], ["12", "12"], ("12",)),
    ],
)
def test_numbers_in_order_once_each_and_bounded(
    title: list[str], head: list[str], expected: tuple[str, ...]
) -> None:
    assert _numbers(title, head) == expected


# ------------------------------------------------------------------------- clustering
def _ref_heaviest(weights: dict[str, float], n: int) -> list[tuple[str, float]]:
    return [
        (t, w) for w, t in heapq.nlargest(n, zip(weights.values(), weights.keys(), strict=True))
    ]


@pytest.mark.parametrize(
    ("weights", "n"),
    [
        ({}, 3),
        ({"a": 1.0, "b": 1.0, "c": 1.0}, 2),  # ties: the larger term first
        ({"a": 0.5, "b": 2.0, "c": 1.0}, 5),
        ({f"t{i}": float(i % 7) for i in range(300)}, 100),
    ],
)
def test_heaviest_is_nlargest(weights: dict[str, float], n: int) -> None:
    assert _heaviest(weights, n) == _ref_heaviest(weights, n)


def _ref_article_vectors(features: StoryFeatures, df: DocFreq) -> dict[str, dict[str, float]]:
    """article_vectors as written before the table of logarithms."""
    base = 1.0 + math.log(df.docs + 1)
    out = {}
    for name, n in (("title", 20), ("lead", 40), ("body", 60)):
        counts = getattr(features, name)
        weighted = [
            ((1.0 + math.log(c)) * (base - math.log(df.counts.get(t, 0) + 1)), t)
            for t, c in counts.items()
            if c > 0
        ]
        top = heapq.nlargest(n, weighted) if len(weighted) > n else weighted
        norm = math.sqrt(sum([w * w for w, _ in top])) or 1.0
        out[name] = {t: w / norm for w, t in top}
    return out


@pytest.mark.parametrize(
    "counts",
    [
        {"نادر": 1, "شائع": 5000, "وسط": 300, "كثير": 4095, "اكثر": 4096},  # around the table end
        {f"ك{i}": i * 97 for i in range(80)},  # more terms than a vector keeps
        {},
    ],
)
def test_article_vectors_are_those_of_the_plain_code(counts: dict[str, int]) -> None:
    """The table of logarithms gives the same doubles as `math.log`, inside it and past it."""
    df = DocFreq()
    df.docs = 100_000
    df.counts = dict(counts)
    terms = list(counts) or ["غائب"]
    features = StoryFeatures(
        dict.fromkeys(terms[:3], 1),
        {t: 1 + i % 3 for i, t in enumerate(terms[:50])},
        {t: 1 + i % 70 for i, t in enumerate(terms)},
        (),
        (),
        "fp",
    )
    got = article_vectors(features, df)
    assert {k: list(v.items()) for k, v in got.items()} == {
        k: list(v.items()) for k, v in _ref_article_vectors(features, df).items()
    }


def _ref_compare_first(
    vectors: dict[str, dict[str, float]], features: StoryFeatures, story: Any, at: float
) -> Similarity:
    """`compare_first` as written before the anchor went through `probability`."""
    first = story.get("first") or _first_of(story)
    title, lead = vectors["title"], vectors["lead"]
    return Similarity(
        _dot(title, first["title"]),
        _dot(lead, first["lead"]),
        _dot(vectors["body"], first["body"]),
        _places(features.entities, dict.fromkeys(first["entities"], 1)),
        _cluster_numbers(features.numbers, dict.fromkeys(first["numbers"], 1)),
        max(0.0, at - story["first_seen"]) / 3600.0,
        (_dot(title, first["lead"]) + _dot(lead, first["title"])) / 2,
        _rare(Query.of(vectors, QUERY_TERMS), first["body"], first["title"]),
    )


def _vector(rng: random.Random, vocab: list[str], n: int) -> dict[str, float]:
    raw = {t: rng.random() for t in rng.sample(vocab, n)}
    norm = math.sqrt(sum(w * w for w in raw.values())) or 1.0
    return {t: w / norm for t, w in raw.items()}


MODELS = [
    StoryModel(-2.7, 3.5, 9.1, 5.5, 1.3, 1.1, -0.09),  # the shipped kind: cross, rare weigh 0
    StoryModel(-2.0, 3.0, 8.0, 5.0, 1.0, 1.0, -0.1, 1.5, 2.0),  # all eight features
    StoryModel(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("seed", range(5))
def test_probability_is_compare_bit_for_bit(model: StoryModel, seed: int) -> None:
    """The scoring path of `assign_story` gives exactly `compare(...).probability(model)`,
    with and without the lead dot product the gate computed, on stories of 1–3 articles."""
    rng = random.Random(seed)
    vocab = [f"ك{i}" for i in range(60)]
    places = ["بغداد", "البصره", "عمان"]

    def article() -> tuple[dict[str, dict[str, float]], StoryFeatures]:
        vectors = {
            "title": _vector(rng, vocab, rng.randint(1, 8)),
            "lead": _vector(rng, vocab, rng.randint(0, 20)),
            "body": _vector(rng, vocab, rng.randint(1, 40)),
        }
        features = StoryFeatures(
            {},
            {},
            {},
            tuple(rng.sample(["12", "45", "300"], rng.randint(0, 2))),
            tuple(rng.sample(places, rng.randint(0, 2))),
            "fp",
        )
        return vectors, features

    story = new_story(0.0)
    for k in range(rng.randint(1, 3)):
        vectors, features = article()
        add_member(story, vectors, features, 600.0 * k)
    vectors, features = article()
    at = 3600.0 * rng.randint(0, 30)
    query = Query.of(vectors, QUERY_TERMS)
    expected = compare(vectors, features, story, at).probability(model)
    assert probability(vectors, features, story, at, model) == expected
    assert probability(vectors, features, story, at, model, query) == expected
    lead_dot = sum(w * story["lead"].get(t, 0.0) for t, w in vectors["lead"].items())
    if len(vectors["lead"]) > len(story["lead"]):  # summed over the smaller side, as `_dot`
        lead_dot = sum(w * vectors["lead"].get(t, 0.0) for t, w in story["lead"].items())
    assert probability(vectors, features, story, at, model, query, lead_dot) == expected
    # the anchor: the same against the story's first article
    first = _ref_compare_first(vectors, features, story, at).probability(model)
    assert compare_first(vectors, features, story, at) == _ref_compare_first(
        vectors, features, story, at
    )
    assert probability(vectors, features, opener(story), at, model) == first
    assert probability(vectors, features, opener(story), at, model, query) == first


def test_the_model_features_the_fast_path_may_skip_are_the_zero_weighted_ones() -> None:
    """`probability` leaves out only `cross` and `rare`, and only when they weigh 0: a model
    weighing them changes the result (so the path does compute them then)."""
    assert FEATURES[-2:] == ("cross", "rare")
    story = new_story(0.0)
    title = {"منافذ": 1.0}
    add_member(story, {"title": {"حدود": 1.0}, "lead": title, "body": {"x": 1.0}}, _NONE, 0.0)
    vectors = {"title": title, "lead": {}, "body": {"x": 1.0}}
    base = StoryModel(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    with_cross = StoryModel(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0)
    assert probability(vectors, _NONE, story, 0.0, base) == 0.5
    assert probability(vectors, _NONE, story, 0.0, with_cross) == pytest.approx(
        1 / (1 + math.exp(-1.0))
    )


_NONE = StoryFeatures({}, {}, {}, (), (), "fp")


@pytest.mark.parametrize(
    ("docs", "counts", "horizon", "max_terms"),
    [
        (100, {"نادر": 1, "شائع": 90}, 200_000, 400_000),  # the plain case
        (100, {"كثير": 4094, "اكثر": 5000}, 200_000, 400_000),  # around the table's end
        (9, {"شائع": 9, "نادر": 1}, 10, 400_000),  # this article halves the counts
        (50, {f"ك{i}": 1 + i % 2 for i in range(6)}, 200_000, 7),  # ... trims the rarest
        (0, {}, 200_000, 400_000),  # the first article
    ],
)
def test_add_weighed_is_add_then_the_plain_weights(
    docs: int, counts: dict[str, int], horizon: int, max_terms: int
) -> None:
    """`DocFreq.add_weighed` counts as `add` does and returns the weights `article_vectors`
    computed from the counts afterwards, bit for bit, also when the counts are halved or
    trimmed by this article."""
    article = ["نادر", "شائع", "كثير", "اكثر", "جديد", "ك0", "ك1"]
    fast, plain = DocFreq(horizon, max_terms), DocFreq(horizon, max_terms)
    for df in (fast, plain):
        df.docs, df.counts = docs, dict(counts)
    weights = fast.add_weighed(set(article))
    plain.add(set(article))
    assert (fast.docs, fast.counts) == (plain.docs, plain.counts)
    base = 1.0 + math.log(plain.docs + 1)
    assert weights == {t: base - math.log(plain.counts.get(t, 0) + 1) for t in article}
    features = StoryFeatures({"جديد": 1}, {"نادر": 2}, {"شائع": 3, "كثير": 1}, (), (), "fp")
    assert article_vectors(features, fast, weights) == article_vectors(features, plain)


def _ref_candidates(
    index: StoryIndex, vectors: dict[str, dict[str, float]], horizon: float, limit: int
) -> list[str]:
    """`StoryIndex.candidates` the plain way: every story sharing a query term, ranked by terms
    shared, then last seen, then id; closed ones left out; the first `limit`."""
    query = Query.of(vectors, QUERY_TERMS)
    shared: dict[str, int] = {}
    for t in query.terms():
        for sid in index.postings.get(t, {}):
            shared[sid] = shared.get(sid, 0) + 1
    live = [s for s in shared if index.seen[s] >= horizon]
    return sorted(live, key=lambda s: (shared[s], index.seen[s], s), reverse=True)[:limit]


@pytest.mark.parametrize("seed", range(12))
def test_candidates_are_the_plain_ranking(seed: int) -> None:
    """The counted, pre-filtered ranking of `StoryIndex.candidates` is the plain one on random
    indexes: many ties, stories closed by the horizon (some among the best), postings full."""
    rng = random.Random(seed)
    vocab = [f"ك{i}" for i in range(30)]
    index = StoryIndex()
    for n in range(rng.choice([5, 60, 400])):
        index.add(f"st-{n:04d}", rng.sample(vocab, rng.randint(1, 8)), float(rng.randint(0, 20)))
    for _ in range(20):
        vectors = {
            "title": {t: rng.random() for t in rng.sample(vocab, 3)},
            "lead": {},
            "body": {t: rng.random() for t in rng.sample(vocab, 10)},
        }
        horizon, limit = float(rng.randint(0, 15)), rng.choice([1, 2, 6, 12])
        params = StoryParams(max_candidates=limit, lookup="heaviest")
        assert index.candidates(vectors, horizon, params) == _ref_candidates(
            index, vectors, horizon, limit
        )


@pytest.mark.parametrize("seed", range(8))
def test_dot_is_the_plain_sum_over_the_smaller_side(seed: int) -> None:
    """`_dot` sums only the shared terms, in C: bit for bit the plain loop over every term of
    the smaller side (a term the other lacks adds exactly 0.0), disjoint and empty sides too."""
    rng = random.Random(seed)
    vocab = [f"ك{i}" for i in range(80)]
    for _ in range(50):
        a = _vector(rng, vocab, rng.randint(0, 40))
        b = _vector(rng, vocab, rng.randint(0, 60))
        for x, y in ((a, b), (b, a)):
            small, big = (y, x) if len(x) > len(y) else (x, y)  # x's side when the same size
            assert _dot(x, y) == sum([w * big.get(t, 0.0) for t, w in small.items()])


def test_decoded_features_share_one_string_per_term() -> None:
    """Two candidates decoded from JSON hold the same string objects for their terms, places
    and numbers (interned), so the stories built from them do not each keep a copy."""
    message = json.dumps(story_features(*TEXTS["story"], ["بغداد"]).as_message())
    one, two = (StoryFeatures.from_message(json.loads(message)) for _ in range(2))
    assert one == two and one.body
    for name in ("title", "lead", "body"):
        for a, b in zip(getattr(one, name), getattr(two, name), strict=True):
            assert a is b
    assert all(
        a is b for a, b in zip(one.entities + one.numbers, two.entities + two.numbers, strict=True)
    )


def test_anchor_copies_share_their_rounded_weights() -> None:
    """The anchor copy of a story's first article has each weight rounded to 4 decimals, as
    stored, and two stories' copies hold one float object per rounded value."""
    rng = random.Random(3)
    vocab = [f"ك{i}" for i in range(40)]
    stories = []
    for _ in range(2):
        story = new_story(0.0)
        vectors = {name: _vector(rng, vocab, 30) for name in ("title", "lead", "body")}
        add_member(story, vectors, StoryFeatures({}, {}, {}, (), (), "fp"), 0.0)
        first = _first_of(story)
        for name in ("title", "lead", "body"):
            assert list(first[name].items()) == [(t, round(w, 4)) for t, w in story[name].items()]
        stories.append(first)
    values = {}
    for first in stories:
        for name in ("title", "lead", "body"):
            for w in first[name].values():
                assert values.setdefault(w, w) is w


def test_a_same_outlet_copy_is_found_in_a_state_read_back_or_of_an_earlier_release() -> None:
    """A story remembers its copies as (outlet, digest) pairs; a state read back from the table
    (JSON lists) or written by an earlier release (the fingerprint itself) still spots the
    outlet filing the same text again, and is converted when the story is next updated."""
    for earlier in (False, True):
        c = Clusterer()
        _assign(c, "a", "s1", "story", 0)
        _assign(c, "b", "s2", "rewrite", 10)
        ((sid, story),) = c.stories.items()
        assert story["copies"] == [
            copy_key(s, _features(k).fingerprint) for s, k in (("s1", "story"), ("s2", "rewrite"))
        ]
        state = json.loads(json.dumps(story, default=state_json))  # as the table gives it back
        if earlier:
            state["copies"] = [["s1", _features("story").fingerprint], ["s2", "0f" * 12]]
        c.stories[sid] = state
        again = _assign(c, "c", "s1", "story", 20)  # s1's text again, under another id
        assert (again.story_id, again.copy, again.size) == (sid, True, 2)
        joined = _assign(c, "d", "s3", "rewrite", 30)
        assert (joined.story_id, joined.copy, joined.size) == (sid, False, 3)
        copies = c.stories[sid]["copies"]
        assert all(type(p) is tuple and isinstance(p[1], int) for p in copies)
        assert [s for s, _ in copies] == ["s1", "s2", "s3"]
