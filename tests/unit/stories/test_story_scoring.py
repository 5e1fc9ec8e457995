"""The story stage's scoring and its cheap paths (issue 14): the features the model weighs
(cross, rare), the candidate ranking, the cached norms, the opener kept aside only
once a story grows, and the state and model files of the previous release still read."""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

import pytest

from streams.stories.cluster import (
    FEATURES,
    MAX_POSTINGS,
    Clusterer,
    Query,
    Similarity,
    StoryIndex,
    StoryModel,
    StoryParams,
    _dot,
    _places,
    _rare,
    add_member,
    article_vectors,
    compare,
    compare_first,
    index_terms,
    new_story,
    story_id_for,
)
from streams.stories.docfreq import DocFreq
from streams.stories.features import StoryFeatures, story_features

from .test_stories import TEXTS, _assign, _features

P = StoryParams()


def _vec(terms: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(w * w for w in terms.values())) or 1.0
    return {t: w / norm for t, w in terms.items()}


def _story_of(title: dict[str, float], lead: dict[str, float], body: dict[str, float]) -> Any:
    story = new_story(0.0)
    features = StoryFeatures({}, {}, {}, (), ("بغداد",), "fp")
    add_member(story, {"title": title, "lead": lead, "body": body}, features, 0.0)
    return story


@pytest.mark.parametrize(
    ("article", "story", "field", "expected"),
    [
        # the article's title says what the story's lead says: cross sees it, title does not
        (
            {"title": {"منافذ": 1.0}, "lead": {}, "body": {"x": 1.0}},
            ({"حدود": 1.0}, {"منافذ": 1.0}, {"y": 1.0}),
            "cross",
            0.5,
        ),
        (
            {"title": {"منافذ": 1.0}, "lead": {}, "body": {"x": 1.0}},
            ({"حدود": 1.0}, {"منافذ": 1.0}, {"y": 1.0}),
            "title",
            0.0,
        ),
        # both ways round: the article's lead against the story's title as well
        (
            {"title": {"منافذ": 1.0}, "lead": {"حدود": 1.0}, "body": {"x": 1.0}},
            ({"حدود": 1.0}, {"منافذ": 1.0}, {"y": 1.0}),
            "cross",
            1.0,
        ),
        # rare: the share of the article's heaviest body terms' weight the story has
        (
            {"title": {}, "lead": {}, "body": _vec({"صيدم": 3.0, "قدس": 1.0})},
            ({}, {}, {"صيدم": 1.0}),
            "rare",
            0.75,
        ),
        (
            {"title": {}, "lead": {}, "body": _vec({"صيدم": 3.0, "قدس": 1.0})},
            ({"قدس": 1.0}, {}, {"صيدم": 1.0}),  # a title term counts too
            "rare",
            1.0,
        ),
        (
            {"title": {}, "lead": {}, "body": _vec({"صيدم": 3.0})},
            ({}, {}, {"قدس": 1.0}),
            "rare",
            0.0,
        ),
    ],
)
def test_cross_and_rare_features(
    article: dict[str, dict[str, float]],
    story: tuple[dict[str, float], ...],
    field: str,
    expected: float,
) -> None:
    s = _story_of(*story)
    features = StoryFeatures({}, {}, {}, (), ("بغداد",), "fp")
    got = getattr(compare(article, features, s, 0.0), field)
    assert got == pytest.approx(expected)
    # the opener of a one-article story is the story: compare_first agrees (up to rounding)
    assert getattr(compare_first(article, features, s, 0.0), field) == pytest.approx(
        expected, abs=1e-3
    )


def test_a_model_file_without_the_new_features_still_loads_and_weighs_them_zero() -> None:
    old = {
        "bias": -2.7,
        "weights": {
            "title": 3.5,
            "lead": 9.1,
            "body": 5.5,
            "places": 1.3,
            "numbers": 1.1,
            "age_hours": -0.09,
        },
    }
    model = StoryModel.from_mapping(old)
    assert (model.cross, model.rare) == (0.0, 0.0)
    sim = Similarity(0.5, 0.5, 0.5, 1.0, 0.0, 2.0, cross=1.0, rare=1.0)
    bare = Similarity(0.5, 0.5, 0.5, 1.0, 0.0, 2.0)
    assert sim.probability(model) == bare.probability(model)
    # the packaged model weighs every feature, and knows each by name
    packaged = StoryModel.from_mapping({"bias": 0.0, "weights": dict.fromkeys(FEATURES, 1.0)})
    assert all(getattr(packaged, name) == 1.0 for name in FEATURES)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_dot_product_and_the_cached_place_norm_give_the_plain_formula(seed: int) -> None:
    rng = random.Random(seed)
    words = [f"t{i}" for i in range(80)]
    a = {w: rng.random() for w in rng.sample(words, 30)}
    b = {w: rng.random() for w in rng.sample(words, 50)}
    plain = sum(a[t] * b[t] for t in set(a) & set(b))
    assert _dot(a, b) == pytest.approx(plain, rel=1e-12)
    places = {w: rng.randint(1, 5) for w in rng.sample(words, 10)}
    entities = rng.sample(words, 6)
    norm = math.sqrt(sum(c * c for c in places.values()))
    plain_places = sum(places.get(e, 0) for e in entities) / (math.sqrt(len(entities)) * norm)
    assert _places(entities, places) == pytest.approx(plain_places)
    assert _places(entities, places, norm) == pytest.approx(plain_places)


def test_a_story_caches_its_place_norm_and_a_stored_story_without_it_scores_the_same() -> None:
    c = Clusterer()
    _assign(c, "a", "s1", "story", 0)
    _assign(c, "b", "s2", "rewrite", 60)
    (story,) = c.stories.values()
    counts = story["entities"]
    assert story["entities_norm"] == pytest.approx(math.sqrt(sum(v * v for v in counts.values())))
    older = {k: v for k, v in story.items() if k != "entities_norm"}  # a previous release's
    vectors = article_vectors(_features("rewrite"), c.df)
    features = _features("rewrite")
    assert compare(vectors, features, older, 90) == compare(vectors, features, story, 90)


def test_the_opener_is_copied_aside_only_when_a_second_article_joins() -> None:
    c = Clusterer()
    _assign(c, "a", "s1", "story", 0)
    sid = story_id_for("a")
    alone = c.stories[sid]
    assert "first" not in alone  # one article: the centroid is the opener
    opener = {name: dict(alone[name]) for name in ("title", "lead", "body")}
    assert _assign(c, "b", "s2", "rewrite", 60).story_id == sid
    first = c.stories[sid]["first"]
    for name, vector in opener.items():
        assert first[name] == {t: round(w, 4) for t, w in vector.items()}
    assert first["entities"] == list(alone["entities"])
    assert c.stories[sid]["body"] != opener["body"]  # while the centroid moved on


@pytest.mark.parametrize(
    ("listed", "horizon", "limit", "expected"),
    [
        # story → (the article's query terms it is listed under, its last_seen)
        # the story sharing more of the article's terms first, whatever its recency
        ({"st-a": ("منافذ", 5.0), "st-b": ("منافذ عراق", 1.0)}, 0.0, 12, ["st-b", "st-a"]),
        ({"st-a": ("منافذ عراق", 1.0), "st-b": ("منافذ", 5.0)}, 0.0, 12, ["st-a", "st-b"]),
        # as many terms shared: the most recently active first
        ({"st-a": ("منافذ", 5.0), "st-b": ("عراق", 1.0)}, 0.0, 12, ["st-a", "st-b"]),
        ({"st-a": ("منافذ", 1.0), "st-b": ("عراق", 5.0)}, 0.0, 12, ["st-b", "st-a"]),
        # as recent too: the larger id, so replays (and a rebuilt index) agree
        ({"st-a": ("منافذ", 1.0), "st-b": ("منافذ", 1.0)}, 0.0, 12, ["st-b", "st-a"]),
        ({"st-b": ("عراق", 1.0), "st-a": ("منافذ", 1.0)}, 0.0, 12, ["st-b", "st-a"]),
        # a story quiet since before the horizon is not a candidate, and does not take a place
        ({"st-a": ("منافذ عراق", 1.0), "st-b": ("منافذ", 5.0)}, 2.0, 1, ["st-b"]),
        # at most `limit`, the best ones
        (
            {"st-a": ("منافذ", 1.0), "st-b": ("منافذ عراق", 2.0), "st-c": ("عراق", 3.0)},
            0.0,
            2,
            ["st-b", "st-c"],
        ),
        # a term the article does not look up does not count
        ({"st-a": ("منافذ بصره", 1.0), "st-b": ("عراق", 2.0)}, 0.0, 12, ["st-b", "st-a"]),
        ({"st-a": ("بصره", 1.0)}, 0.0, 12, []),
    ],
)
def test_candidates_are_ranked_by_terms_shared_then_recency_then_id(
    listed: dict[str, tuple[str, float]], horizon: float, limit: int, expected: list[str]
) -> None:
    index = StoryIndex()
    for sid, (terms, seen) in listed.items():
        index.add(sid, terms.split(), seen)
    vectors = {"title": {"عراق": 1.0}, "lead": {}, "body": {"منافذ": 0.8, "نفط": 0.6}}
    # the release before's ranking (the listed one: tests/unit/stories/test_story_lookup.py)
    params = dataclasses.replace(P, max_candidates=limit, lookup="heaviest")
    assert index.candidates(vectors, horizon, params) == expected


def test_candidates_keep_the_story_most_terms_list_among_many() -> None:
    """With 2,000 stories under the article's common terms, the one listed under all of them
    (the oldest, so no recency helps it) is still the first candidate; a rebuilt index (stories
    re-added in another order) ranks alike."""
    rng = random.Random(7)
    common = ["عراق", "حكومه", "وزير", "نفط"]
    index = StoryIndex()
    index.add("st-target", common, 1.0)
    listed = {"st-target": (common, 1.0)}
    for n in range(2000):
        terms = rng.sample(common, 2)
        index.add(f"st-{n:05d}", terms, 2.0 + n)
        listed[f"st-{n:05d}"] = (terms, 2.0 + n)
    vectors = {"title": {}, "lead": {}, "body": {t: 0.5 for t in common}}
    # postings keep the 40 most recent stories per term: the target was pushed out of them
    assert "st-target" not in index.candidates(vectors, 0.0, P)
    small = StoryIndex()
    for sid, (terms, seen) in sorted(listed.items(), key=lambda kv: -kv[1][1])[:30]:
        small.add(sid, terms, seen)
    small.add("st-target", common, 1.0)
    rebuilt = StoryIndex()
    for sid, (terms, seen) in sorted(listed.items(), key=lambda kv: -kv[1][1])[:30][::-1]:
        rebuilt.add(sid, terms, seen)
    rebuilt.add("st-target", common, 1.0)
    got = small.candidates(vectors, 0.0, P)
    assert got[0] == "st-target"
    assert got == rebuilt.candidates(vectors, 0.0, P)
    assert len(got) == P.max_candidates


def test_a_story_is_indexed_under_its_heaviest_terms_and_a_new_story_under_its_query() -> None:
    df = DocFreq()
    features = _features("story")
    vectors = article_vectors(features, df)
    story = new_story(0.0)
    add_member(story, vectors, features, 0.0)
    terms = index_terms(story, P.index_terms)
    query = Query.of(vectors, P.index_terms)
    assert terms == query.terms()  # a story of one article: its query
    assert len(set(terms)) == len(terms)  # each term once
    # its heaviest body terms, then those of its heaviest title terms the body lacks
    body = [t for t, _ in query.body]
    assert terms[: len(body)] == body
    assert terms[len(body) :] == [t for t, _ in query.title if t not in body]
    assert len(body) == min(P.index_terms, len(vectors["body"]))
    heavy = sorted(vectors["body"].values(), reverse=True)[: len(body)]
    assert [vectors["body"][t] for t in body] == heavy
    add_member(story, vectors, features, 1.0)  # the centroid doubles: the same terms in order
    assert index_terms(story, P.index_terms) == terms
    index = StoryIndex()
    index.add("s", terms, 5.0)
    index.add("t", index_terms(story, P.index_terms), 7.0)
    assert {t: dict(p) for t, p in index.postings.items()} == {
        t: {"s": 5.0, "t": 7.0} for t in terms
    }


def test_rare_uses_the_article_s_heaviest_terms_whatever_the_index_size() -> None:
    """The model was trained with the 8 heaviest terms: a worker indexing more or fewer terms
    per story must still give the model the same feature."""
    c = Clusterer()
    _assign(c, "a", "s1", "story", 0)
    story = c.stories[story_id_for("a")]
    features = _features("rewrite")
    vectors = article_vectors(features, c.df)
    want = compare(vectors, features, story, 60).rare
    assert want == _rare(Query.of(vectors, 8), story["body"], story["title"])
    for n in (4, 12):
        wide = Clusterer(StoryParams(index_terms=n))
        _assign(wide, "a", "s1", "story", 0)
        got = _assign(wide, "b", "s2", "rewrite", 60)
        assert got.story_id == story_id_for("a")


def test_every_text_of_the_test_set_scores_alike_through_either_entry_point() -> None:
    """assign_story passes the query it already made to compare; compare makes its own when
    called without (the training script): the same similarity either way."""
    df = DocFreq()
    for title, body in TEXTS.values():
        df.add(story_features(title, body).terms())
    base = _features("story")
    story = new_story(0.0)
    add_member(story, article_vectors(base, df), base, 0.0)
    for kind in TEXTS:
        features = _features(kind)
        vectors = article_vectors(features, df)
        query = Query.of(vectors, P.index_terms)
        assert compare(vectors, features, story, 5.0, query) == compare(
            vectors, features, story, 5.0
        )


@pytest.mark.parametrize(
    ("kind", "gate", "scored"),
    [
        # another outlet's rewrite shares the lead and the rare terms: always scored
        ("rewrite", True, True),
        ("rewrite", False, True),
        # a story found only through a shared common term: skipped with the gate, not without
        ("unrelated", True, False),
        ("unrelated", False, True),
    ],
)
def test_the_gate_skips_candidates_that_share_almost_nothing(
    kind: str, gate: bool, scored: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streams.stories.cluster as cluster

    calls: list[str] = []
    real = cluster.probability

    def counting(*args: Any, **kwargs: Any) -> float:
        calls.append("probability")
        return real(*args, **kwargs)

    monkeypatch.setattr(cluster, "probability", counting)
    c = Clusterer(StoryParams(gate=gate))
    _assign(c, "a", "s1", "story", 0)
    if kind == "rewrite":
        got = _assign(c, "b", "s2", "rewrite", 60)
        assert got.story_id == story_id_for("a")
    else:  # found under «داخليه» (one of the story's index terms), sharing nothing else
        body = {"ملعب": 3, "مباراه": 3, "منتخب": 3, "هدف": 3, "داخليه": 1}
        features = StoryFeatures({}, {"ملعب": 1, "مباراه": 1}, body, (), (), "fp")
        assert "داخليه" in index_terms(c.stories[story_id_for("a")], 8)
        got = c.add("b", "s2", features, 60)
        assert got.is_new
    assert bool(calls) is scored


def test_the_gate_does_not_change_what_joins_what() -> None:
    rng = random.Random(11)
    kinds = list(TEXTS)
    steps = [(f"id{i}", f"s{i % 3}", rng.choice(kinds), 60.0 * i) for i in range(30)]
    with_gate, without = Clusterer(), Clusterer(StoryParams(gate=False))
    for aid, source, kind, at in steps:
        assert _assign(with_gate, aid, source, kind, at) == _assign(without, aid, source, kind, at)


@pytest.mark.parametrize("crowd", [0, 5, MAX_POSTINGS - 1])
@pytest.mark.parametrize("limit", [1, 6, 12])
def test_a_rewrite_finds_its_story_among_many_sharing_its_common_terms(
    crowd: int, limit: int
) -> None:
    """A rewrite joins its story when `crowd` later stories per term (more recent, so first by
    recency; as many as the postings hold beside the story) are listed under the story's terms
    one each: the capped comparison still reaches it, as it shares more of the rewrite's
    terms than any of them."""
    params = dataclasses.replace(P, max_candidates=limit)
    c = Clusterer(params)
    opener = _features("story")
    sid = c.add("a", "s1", opener, 0.0).story_id
    terms = sorted(c.index.postings.keys() & set(opener.terms()))
    for n, t in enumerate(terms * crowd):
        c.index.add(f"st-crowd-{n:05d}", [t], 60.0 + n)  # listed, never compared in full
        c.stories[f"st-crowd-{n:05d}"] = new_story(60.0 + n)
    assert all(sid in c.index.postings[t] for t in terms)
    got = c.add("b", "s2", _features("rewrite"), 120.0 + len(terms) * crowd)
    assert (got.story_id, got.is_new) == (sid, False)
