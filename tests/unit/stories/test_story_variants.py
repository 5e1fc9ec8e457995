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


# Round fifteen: decisions that can be revised (merges, a second pass, detaching a member).


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(
    "variant",
    [
        sv.Variant("join-never", merge="join", merge_at=1.1),
        sv.Variant("centroid-never", merge="centroid", merge_at=1.1),
        sv.Variant("window-never", merge="window", merge_at=1.1, window_hours=6, window_every=5),
        sv.Variant("detach-never", detach=1e-300),
        sv.Variant("link-never", merge="centroid", merge_at=1.1, link=True),
    ],
)
def test_a_revision_that_never_fires_assigns_as_the_worker(seed: int, variant: sv.Variant) -> None:
    """With a merge threshold no probability reaches (and a detach floor none is below), every
    revising variant clusters as the worker: what they change is the revision alone."""
    worker = Clusterer(StoryParams())
    revising = sv.VariantClusterer(StoryParams(), index=sv.MergeIndex(), variant=variant)
    want = [worker.add(a, s, f, t).story_id for a, s, f, t in _stream(seed)]
    got = [revising.add(a, s, f, t).story_id for a, s, f, t in _stream(seed)]
    assert got == want
    assert (revising.merges, revising.detached) == (0, 0)


@pytest.mark.parametrize(
    "variant",
    [
        sv.Variant("join", merge="join", merge_at=0.5),
        sv.Variant("centroid", merge="centroid", merge_at=0.5),
        sv.Variant("window", merge="window", merge_at=0.5, window_hours=48, window_every=5),
        sv.Variant("detach", detach=0.9),
        sv.Variant("link", merge="centroid", merge_at=0.5, link=True),
        sv.Variant("link-small", merge="join", merge_at=0.5, link=True, merge_young_max=2),
    ],
)
def test_revisions_fire_and_the_final_stories_resolve(variant: sv.Variant) -> None:
    """On a stream of neighbouring events each variant revises something, every article ends
    in a live story (a merged id resolves to the story it went into), and the result is the
    same on a second run (deterministic)."""
    inputs = [sv.StoryInput(a, s, t, f) for a, s, f, t in _stream(1, 120)]
    story_of, counts = sv.clustered(inputs, variant, StoryParams())
    again, _ = sv.clustered(inputs, variant, StoryParams())
    assert story_of == again
    assert counts["merges"] + counts["detached"] > 0
    assert len(story_of) == len(inputs)


def _two_stories() -> sv.VariantClusterer:
    """Two one-article stories of the same event (the outlet threshold keeps them apart) and
    a third article joining the younger one."""
    params = StoryParams(outlet_threshold=1.0)
    c = sv.VariantClusterer(
        params, index=sv.MergeIndex(), variant=sv.Variant("m", merge="join", merge_at=1.1)
    )
    c.add("a0", "AL", _same(0), 0.0)
    c.add("a1", "AL", _same(1), 3600.0)
    c.add("a2", "BB", _same(2), 7200.0)
    return c


def test_a_merge_keeps_the_older_id_and_aliases_the_younger() -> None:
    c = _two_stories()
    older, younger = sv.c.story_id_for("a0"), sv.c.story_id_for("a1")
    assert {older, younger} <= set(c.stories)
    sizes = c.stories[older]["size"] + c.stories[younger]["size"]
    assert c.merge(younger, older) == older  # whichever is named first, the older survives
    assert younger not in c.stories and c.aliases == {younger: older}
    story = c.stories[older]
    assert story["size"] == sizes
    assert set(story["articles"]) == {"a0", "a1", "a2"}
    assert story["sources"] == ["AL", "BB"]
    assert (story["first_seen"], story["last_seen"]) == (0.0, 7200.0)
    assert all(younger not in posting for posting in c.index.postings.values())
    assert {c.index.members[a] for a in ("a0", "a1", "a2")} == {older}
    assert c.resolve(younger) == older and c.merge(older, younger) == older  # no second merge
    assert c.merges == 1


def test_merged_state_adds_the_centroids_and_counts() -> None:
    older = sv.c.new_story(0.0)
    sv.c.add_member(
        older,
        {"title": {"x": 1.0}, "lead": {"x": 1.0}, "body": {"x": 1.0}},
        StoryFeatures({}, {}, {}, ("5",), ("بغداد",), "f0"),
        0.0,
    )
    older.update(articles=["a0"], sources=["AL"], copies=[("AL", 1)])
    younger = sv.c.new_story(60.0)
    sv.c.add_member(
        younger,
        {"title": {"x": 0.6, "y": 0.8}, "lead": {"y": 1.0}, "body": {"x": 0.6, "y": 0.8}},
        StoryFeatures({}, {}, {}, ("5", "7"), ("بغداد", "بصره"), "f1"),
        60.0,
    )
    younger.update(articles=["a1"], sources=["BB"], copies=[("BB", 2)])
    got = sv.merged_state(older, younger)
    assert dict(got["title"]) == {"x": 1.6, "y": 0.8}
    assert dict(got["body"].items()) == {"x": 1.6, "y": 0.8}
    assert got["norms"]["lead"] == pytest.approx(math.sqrt(2))
    assert got["entities"] == {"بغداد": 2, "بصره": 1} and got["numbers"] == {"5": 2, "7": 1}
    assert got["first"]["title"] == {"x": 1.0}  # the older's first article stays the anchor
    assert (got["size"], got["articles"], got["sources"]) == (2, ["a0", "a1"], ["AL", "BB"])
    assert got["copies"] == [("AL", 1), ("BB", 2)]
    assert older["size"] == 1 and "first" not in older  # the inputs are not changed


def test_frozen_docfreq_weighs_without_counting() -> None:
    live = sv.DocFreq()
    live.add(["x", "y"])
    live.add(["x"])
    frozen = sv.FrozenDocFreq(live)
    weights = frozen.add_weighed(["x", "z"])
    assert weights == {"x": 1.0 + math.log(3) - math.log(3), "z": 1.0 + math.log(3)}
    frozen.add(["x"])
    assert (live.counts, live.docs) == ({"x": 2, "y": 1}, 2)


def test_without_takes_one_member_out() -> None:
    c = Clusterer(StoryParams())
    c.add("a0", "AL", _same(0), 0.0)
    c.add("a1", "BB", _same(1), 60.0)
    story = c.stories[sv.c.story_id_for("a0")]
    assert story["size"] == 2
    vectors = article_vectors(_same(1), c.df)
    rest = sv.without(story, vectors, _same(1))
    assert rest["entities"] == {"بيروت": 1}
    for name in ("title", "lead", "body"):  # about one member's unit vector is left
        assert rest["norms"][name] == pytest.approx(1.0, abs=0.2)


def test_story_vectors_are_unit_length() -> None:
    c = _two_stories()
    for story in c.stories.values():
        for vector in sv.story_vectors(story).values():
            assert sum(w * w for w in vector.values()) == pytest.approx(1.0)


def _sized(size: int, sources: list[str]) -> dict[str, object]:
    return {"size": size, "sources": sources}


@pytest.mark.parametrize(
    ("variant", "older", "younger", "smaller", "expected"),
    [
        (sv.Variant("any"), _sized(9, ["AL"]), _sized(9, ["AL"]), 0, True),
        (
            sv.Variant("d", merge_disjoint=True),
            _sized(2, ["AL"]),
            _sized(1, ["AL", "BB"]),
            0,
            False,
        ),
        (sv.Variant("d", merge_disjoint=True), _sized(2, ["AL"]), _sized(1, ["BB"]), 0, True),
        (sv.Variant("s", merge_young_max=2), _sized(9, ["AL"]), _sized(2, ["BB"]), 0, True),
        (sv.Variant("s", merge_young_max=2), _sized(2, ["AL"]), _sized(9, ["BB"]), 0, True),
        (sv.Variant("s", merge_young_max=2), _sized(3, ["AL"]), _sized(9, ["BB"]), 0, False),
        (sv.Variant("s", merge_young_max=2), _sized(1, ["AL"]), _sized(1, ["BB"]), 5, False),
    ],
)
def test_mergeable(
    variant: sv.Variant,
    older: dict[str, object],
    younger: dict[str, object],
    smaller: int,
    expected: bool,
) -> None:
    """The guards: no shared outlet; the smaller story (or linked group, `smaller`) small."""
    assert sv.mergeable(older, younger, variant, smaller) is expected


def test_a_link_keeps_both_states_and_resolves_to_the_older() -> None:
    """A link makes two stories one for subscribers and leaves their states and the index as
    they were, so later articles join as in the worker."""
    params = StoryParams(outlet_threshold=1.0)
    variant = sv.Variant("l", merge="join", merge_at=1.1, link=True)
    c = sv.VariantClusterer(params, index=sv.MergeIndex(), variant=variant)
    c.add("a0", "AL", _same(0), 0.0)
    c.add("a1", "AL", _same(1), 3600.0)
    older, younger = sv.c.story_id_for("a0"), sv.c.story_id_for("a1")
    before = {sid: dict(story) for sid, story in c.stories.items()}
    postings = {t: dict(p) for t, p in c.index.postings.items()}
    assert c.merge(younger, older) == older
    assert c.stories == before and c.index.postings == postings
    assert c.resolve(younger) == older and c.groups == {older: [older, younger]}
    assert c.merge(older, younger) == older and c.merges == 1
