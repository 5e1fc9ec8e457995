"""The index's "listed" lookup (`StoryParams.lookup`, round twelve, the default): the article's
heaviest terms that some live story is listed under, the candidates ranked by the article's
weight of the terms that list them. Each piece against a table of cases or a plain reference;
"heaviest" (the release before: the heaviest terms, ranked by terms shared) is still there."""

from __future__ import annotations

import dataclasses
import random

import pytest

from streams.stories.cluster import (
    QUERY_TERMS,
    Clusterer,
    Query,
    StoryIndex,
    StoryParams,
    _heaviest,
)

from .test_stories import _features

LISTED = StoryParams(lookup="listed")


def _query(body: dict[str, float], title: dict[str, float], n: int = QUERY_TERMS) -> Query:
    return Query.of({"title": title, "lead": {}, "body": body}, n)


def _index(listed: list[tuple[str, list[str], float]]) -> StoryIndex:
    index = StoryIndex()
    for sid, terms, at in listed:
        index.add(sid, terms, at)
    return index


def test_the_default_lookup_is_the_listed_one() -> None:
    assert StoryParams().lookup == "listed"


@pytest.mark.parametrize(
    ("body", "title", "n", "expected"),
    [
        # the heaviest terms no story is listed under are passed over for the next ones
        ({"x": 0.9, "a": 0.5, "b": 0.4, "c": 0.3}, {}, 2, [("a", 0.5), ("b", 0.4)]),
        # a term whose most recently listed story is closed (seen 1 < horizon 5) is passed over
        ({"old": 0.9, "a": 0.5, "b": 0.4}, {}, 2, [("a", 0.5), ("b", 0.4)]),
        # n body terms, n // 2 title terms; a term of both once, at its larger weight, in the
        # body's place
        (
            {"a": 0.5, "b": 0.4, "c": 0.3},
            {"b": 0.8, "t": 0.6, "u": 0.2},
            4,
            [("a", 0.5), ("b", 0.8), ("c", 0.3), ("t", 0.6)],
        ),
        ({"a": 0.5}, {"a": 0.1}, 2, [("a", 0.5)]),
        # nothing listed: nothing looked up
        ({"x": 0.9, "y": 0.1}, {"z": 1.0}, 8, []),
        ({}, {}, 8, []),
    ],
)
def test_lookup_takes_the_heaviest_listed_terms(
    body: dict[str, float], title: dict[str, float], n: int, expected: list[tuple[str, float]]
) -> None:
    index = _index(
        [
            ("st-old", ["old"], 1.0),
            ("st-1", ["a", "b", "t"], 6.0),
            ("st-2", ["c", "u"], 7.0),
        ]
    )
    assert index.lookup(_query(body, title, n), 5.0, n) == expected


def _ref_listed(index: StoryIndex, query: Query, horizon: float, limit: int) -> list[str]:
    """`listed_candidates` the plain way: every live story listed under a looked-up term, by the
    sum of those terms' weights (in the terms' order), then last seen, then id."""
    scores: dict[str, float] = {}
    for t, w in index.lookup(query, horizon, QUERY_TERMS):
        for sid in index.postings[t]:
            scores[sid] = scores.get(sid, 0.0) + w
    live = [s for s in scores if index.seen[s] >= horizon]
    return sorted(live, key=lambda s: (scores[s], index.seen[s], s), reverse=True)[:limit]


@pytest.mark.parametrize("seed", range(12))
def test_listed_candidates_are_the_plain_ranking(seed: int) -> None:
    """Random indexes: ties, stories closed by the horizon (some among the best), full
    postings; and the same candidates from an index filled in another order (a rebuilt one)."""
    rng = random.Random(seed)
    vocab = [f"ك{i}" for i in range(30)]
    listed = [
        (f"st-{n:04d}", rng.sample(vocab, rng.randint(1, 8)), float(rng.randint(0, 20)))
        for n in range(rng.choice([5, 60, 400]))
    ]
    index = _index(listed)
    for _ in range(20):
        body = {t: round(rng.random(), 1) for t in rng.sample(vocab, 12)}  # ties
        title = {t: rng.random() for t in rng.sample(vocab, 3)}
        horizon, limit = float(rng.randint(0, 15)), rng.choice([1, 2, 6, 12])
        query = _query(body, title)
        params = dataclasses.replace(LISTED, max_candidates=limit)
        got = index.candidates({"title": title, "lead": {}, "body": body}, horizon, params, query)
        assert got == _ref_listed(index, query, horizon, limit)


def test_listed_candidates_add_each_story_s_weights_in_the_terms_order() -> None:
    """The same stories listed in another order (as `StoryIndex.build` lists them) rank the
    same: a story's sum does not depend on the postings' order."""
    weights = {"a": 0.1, "b": 0.2, "c": 0.7}
    one = _index([("st-1", ["a", "b", "c"], 3.0), ("st-2", ["c"], 3.0), ("st-3", ["a"], 3.0)])
    two = _index([("st-3", ["a"], 3.0), ("st-2", ["c"], 3.0), ("st-1", ["c", "b", "a"], 3.0)])
    query = _query(weights, {})
    vectors = {"title": {}, "lead": {}, "body": weights}
    assert (
        one.candidates(vectors, 0.0, LISTED, query)
        == two.candidates(vectors, 0.0, LISTED, query)
        == ["st-1", "st-2", "st-3"]
    )


@pytest.mark.parametrize(
    ("lookup", "expected"),
    [
        # the 3 heaviest terms: one no story is listed under, two rare ones; the stories of
        # those tie at one term each and go by recency
        ("heaviest", ["st-rare2", "st-rare1"]),
        # the 3 heaviest listed terms: the story of the lighter shared name is found too, and
        # the stories rank by the article's weight of their terms
        ("listed", ["st-rare1", "st-rare2", "st-name"]),
    ],
)
def test_the_listed_lookup_finds_a_story_listed_under_a_lighter_term(
    lookup: str, expected: list[str]
) -> None:
    index = _index(
        [("st-name", ["name"], 5.0), ("st-rare1", ["rare1"], 1.0), ("st-rare2", ["rare2"], 2.0)]
    )
    vectors = {
        "title": {},
        "lead": {},
        "body": {"unseen": 0.9, "rare1": 0.8, "rare2": 0.7, "name": 0.5},
    }
    params = StoryParams(index_terms=3, lookup=lookup)
    assert index.candidates(vectors, 0.0, params) == expected


def test_query_keeps_every_term_heaviest_first() -> None:
    body = {f"b{i}": 1.0 / (i + 1) for i in range(20)}
    title = {"t1": 0.2, "t2": 0.9, "t3": 0.5}
    query = _query(body, title, 8)
    assert query.ranked_body == _heaviest(body, 20)
    assert query.ranked_title == _heaviest(title, 3)
    assert query.body == query.ranked_body[:8] and query.title == query.ranked_title[:4]


def test_the_listed_lookup_still_groups_a_rewrite_and_replays_the_same() -> None:
    def run() -> list[str]:
        c = Clusterer(LISTED)
        out = []
        for n, (kind, source) in enumerate((("story", "s1"), ("rewrite", "s2"), ("other", "s3"))):
            out.append(c.add(f"a{n}", source, _features(kind), 1000.0 + 60 * n).story_id)
        return out

    first = run()
    assert first[0] == first[1] != first[2]
    assert run() == first
