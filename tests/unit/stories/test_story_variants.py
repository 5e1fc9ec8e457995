"""bench/story_variants.py (issue 14, round thirteen): the levers measured and not shipped. The
figures docs/subscribers.md gives for them rest on these functions, so they are checked here
(the bench itself asserts nothing)."""

from __future__ import annotations

import math
import random

import pytest

from bench import story_variants as sv
from streams.stories.cluster import Clusterer, Query, StoryIndex, StoryParams, article_vectors
from streams.stories.features import StoryFeatures


@pytest.mark.parametrize(
    ("term", "key"),
    [
        ("اتلتيكو", "اتلتك"),  # two spellings of Atlético meet
        ("اتليتكو", "اتلتك"),
        ("ايتكينهيد", "اتكنهد"),  # the first letter is kept, even a long vowel
        ("ايتكنهيد", "اتكنهد"),
        ("لوبيتيغوي", "لبتغ"),
        ("لوبتيغي", "لبتغ"),
        ("بغداد", "بغدد"),
        ("كتاب", "كتاب"),  # shorter than SPELLING_MIN: as it is
        ("ويووي", "ويووي"),  # fewer than 3 letters would be left: as it is
    ],
)
def test_spelling_key(term: str, key: str) -> None:
    assert sv.spelling_key(term) == key


@pytest.mark.parametrize(
    ("p", "first", "prefer", "own", "expected"),
    [
        (0.9, 0.9, "joint", False, 2 * math.log(9)),
        (0.9, 0.5, "joint", False, math.log(9)),
        (0.9, 0.5, "product", False, 0.45),
        (0.9, 0.5, "outlet", False, math.log(9)),
        (0.9, 0.5, "outlet", True, math.log(9) - 1.0),
        (0.9, 0.5, "centroid", True, 0.9),
        (1.0, 1.0, "joint", False, 2 * math.log((1 - 1e-12) / 1e-12)),  # finite at the edge
    ],
)
def test_joint_score(p: float, first: float, prefer: str, own: bool, expected: float) -> None:
    assert sv.joint_score(p, first, prefer, own) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    ("prefer", "winner"),
    [
        ("centroid", "grown"),  # the more probable against the centroids
        ("product", "fresh"),  # 0.95 × 0.9 > 0.99 × 0.3
        ("joint", "fresh"),
    ],
)
def test_which_passing_story_wins(prefer: str, winner: str) -> None:
    scores = {"grown": (0.99, 0.3), "fresh": (0.95, 0.9)}
    assert max(scores, key=lambda s: sv.joint_score(*scores[s], prefer)) == winner


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        ("terms", ["اتلتيكو", "اتليتكو", "كتاب"]),
        ("spelling", ["اتلتك", "كتاب"]),  # two spellings, one key
        ("fallback", ["اتلتيكو", "اتليتكو", "كتاب", "~اتلتك"]),
    ],
)
def test_index_keys(keys: str, expected: list[str]) -> None:
    assert sv.index_keys(["اتلتيكو", "اتليتكو", "كتاب"], keys) == expected


@pytest.mark.parametrize(
    ("entities", "story", "expected"),
    [
        (("مارب", "يمن"), {"رياض": 2, "يمن": 3}, 1.0),  # its first place is not the story's
        (("رياض", "مارب"), {"رياض": 2, "يمن": 3}, 0.0),
        ((), {"رياض": 2}, 0.0),  # no place on one side: no evidence
        (("مارب",), {}, 0.0),
    ],
)
def test_place_miss(entities: tuple[str, ...], story: dict[str, int], expected: float) -> None:
    assert sv.place_miss(entities, story) == expected


def _query(body: dict[str, float]) -> Query:
    return Query.of({"title": {}, "lead": {}, "body": body}, 8)


@pytest.mark.parametrize(
    ("keys", "listed", "looked_up", "found"),
    [
        ("terms", "اتلتيكو", "اتليتكو", []),  # another spelling: not found
        ("spelling", "اتلتيكو", "اتليتكو", [("اتلتك", 1.0)]),
        ("fallback", "اتلتيكو", "اتليتكو", [("~اتلتك", 1.0)]),  # no story under the term
        ("fallback", "اتلتيكو", "اتلتيكو", [("اتلتيكو", 1.0)]),  # the term itself first
    ],
)
def test_spelling_index_lookup(
    keys: str, listed: str, looked_up: str, found: list[tuple[str, float]]
) -> None:
    index = StoryIndex() if keys == "terms" else sv.SpellingIndex(keys=keys)
    index.add("st-1", [listed], 100.0)
    assert index.lookup(_query({looked_up: 1.0}), 0.0, 8) == found
    params = StoryParams()
    assert index.listed_candidates(_query({looked_up: 1.0}), 0.0, params) == (
        ["st-1"] if found else []
    )


def _stream(seed: int, n: int = 80) -> list[tuple[str, str, StoryFeatures, float]]:
    """Articles of eight events over a day and a half, four outlets: neighbouring events share
    some terms and each article has words of its own, so the probabilities spread over the
    thresholds (0.5-1.0) and ~15-20 stories form."""
    rng = random.Random(seed)
    events = [[f"ك{k}" for k in range(4 * e, 4 * e + 10)] for e in range(8)]
    out = []
    for i in range(n):
        words = [*rng.sample(events[rng.randrange(8)], 5), *(f"ض{i}{j}" for j in range(3))]
        counts = {w: rng.randint(1, 3) for w in words}
        features = StoryFeatures(
            dict(list(counts.items())[:3]),
            counts,
            counts,
            (),
            tuple(rng.sample(["بغداد", "بصره", "عمان"], rng.randint(0, 2))),
            f"fp{i}",
        )
        out.append((f"a{i}", rng.choice(["AL", "BB", "CN", "SK"]), features, 1800.0 * i))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_the_variant_path_with_the_workers_rule_assigns_as_the_worker(seed: int) -> None:
    """`assign` (the bench's copy of `assign_story`'s choice) with the worker's choice and no
    outlet window joins every article where `assign_story` does: the variants differ from the
    control in what they change alone."""
    worker = Clusterer(StoryParams())
    forced = sv.VariantClusterer(StoryParams(), variant=sv.Variant("same", outlet_hours=1e9))
    got, want = [], []
    for article_id, source, features, at in _stream(seed):
        want.append(worker.add(article_id, source, features, at).story_id)
        got.append(forced.add(article_id, source, features, at).story_id)
    assert got == want
    assert len(set(want)) < len(want)  # some articles joined a story


def test_the_outlet_window_lets_an_outlets_late_article_join() -> None:
    """With `outlet_hours`, the outlet threshold no longer applies once the outlet's last
    article in the story is older than that: the same stream, one assignment apart."""
    base = StoryParams(outlet_threshold=1.0)  # the outlet's own stories are closed to it
    stream = [("a0", "AL", _same(0), 0.0), ("a1", "AL", _same(1), 3 * 3600.0)]
    for hours, joins in ((0.0, False), (1.0, True), (5.0, False)):
        c = sv.VariantClusterer(base, variant=sv.Variant("h", outlet_hours=hours or 0.0))
        ids = [c.add(a, s, f, t).story_id for a, s, f, t in stream]
        assert (ids[0] == ids[1]) is joins, hours


def _same(i: int) -> StoryFeatures:
    counts = {"انفجار": 2, "مرفا": 2, "بيروت": 1, "ضحايا": 1}
    return StoryFeatures(counts, counts, counts, (), ("بيروت",), f"fp{i}")


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        ({}, 1.0),  # nothing known of the outlet's articles: the rule applies as in the worker
        ({"a0": ("BB", 0)}, 1.0),  # another outlet's article is not its own
        ({"a0": ("AL", 0)}, "high"),  # its own earlier article, the same text
    ],
)
def test_own_best(members: dict[str, tuple[str, int]], expected: float | str) -> None:
    c = Clusterer(StoryParams())
    c.add("a0", "AL", _same(0), 0.0)
    story = c.stories[next(iter(c.stories))]
    vectors = article_vectors(_same(1), c.df)
    known = {a: (s, _same(i), 0.0) for a, (s, i) in members.items()}
    got = sv.own_best(vectors, _same(1), 3600.0, story, "AL", known, c.df, c.params)
    if expected == "high":
        assert 0.9 < got < 1.0
    else:
        assert got == expected


def test_spelled_features_add_up_the_counts_of_one_key() -> None:
    features = StoryFeatures(
        {"اتلتيكو": 1, "مدريد": 1},
        {"اتلتيكو": 2, "اتليتكو": 1, "كتاب": 1},
        {"اتليتكو": 3, "اتلتيكو": 1},
        ("12",),
        ("مدريد",),
        "fp",
    )
    got = sv.spelled(features)
    assert got.title == {"اتلتك": 1, "مدرد": 1}
    assert got.lead == {"اتلتك": 3, "كتاب": 1}
    assert got.body == {"اتلتك": 4}
    assert (got.numbers, got.entities, got.fingerprint) == (("12",), ("مدريد",), "fp")
