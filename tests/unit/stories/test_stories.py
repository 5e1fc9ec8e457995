"""Story grouping (MinHash + LSH) and the story alert lifecycle: pure functions, no broker."""

from __future__ import annotations

from typing import Any

import pytest

from streams.ids import alert_id
from streams.stories.cluster import (
    StoryParams,
    assign_story,
    band_index,
    band_keys,
    candidate_message,
    escalate,
    expired_keys,
    minhash,
    shingles,
    signature,
    similarity,
    story_alert,
    story_id_for,
)
from streams.validation import schema_errors

P = StoryParams()  # the defaults the worker uses unless configured

STORY = (
    "أعلنت وزارة الداخلية العراقية اليوم إغلاق المنافذ البرية والجوية يوم التصويت في الانتخابات "
    "التشريعية، وقال المتحدث باسم الوزارة إن القرار يشمل جميع المحافظات وإن القوات الأمنية "
    "ستنتشر حول مراكز الاقتراع لضمان سير العملية الانتخابية بهدوء."
)
# Another outlet's copy: same facts, a few words changed, a different closing sentence.
REWRITE = (
    "أعلنت وزارة الداخلية العراقية، اليوم الأربعاء، إغلاق المنافذ البرية والجوية يوم التصويت في "
    "الانتخابات التشريعية. وقال المتحدث باسم الوزارة إن القرار يشمل جميع المحافظات وإن القوات "
    "الأمنية ستنتشر حول مراكز الاقتراع لضمان سير العملية الانتخابية."
)
OTHER = (
    "فاز المنتخب المغربي على نظيره الجنوب أفريقي في مباراة ودية أقيمت مساء الخميس على ملعب "
    "محمد الخامس في الدار البيضاء، وسجل الأهداف لاعبو خط الهجوم في الشوط الثاني."
)


@pytest.mark.parametrize(
    ("text", "size", "expected"),
    [
        ("", 3, set()),
        ("كلمة", 3, {"كلمه"}),  # ta marbuta folded; short text: one shingle of all words
        ("أ ب ج", 2, set()),  # one-letter tokens carry nothing
        ("الخطُّ الأحمرُ هنا", 2, {"الخط الاحمر", "الاحمر هنا"}),  # harakat, hamza folded
        ("واحد اثنان ثلاثة", 1, {"واحد", "اثنان", "ثلاثه"}),
    ],
)
def test_shingles(text: str, size: int, expected: set[str]) -> None:
    assert shingles(text, size) == expected


@pytest.mark.parametrize(
    ("a", "b", "low", "high"),
    [
        (STORY, STORY, 1.0, 1.0),
        (STORY, REWRITE, 0.5, 1.0),
        (STORY, OTHER, 0.0, 0.15),
    ],
)
def test_similarity_estimates_jaccard(a: str, b: str, low: float, high: float) -> None:
    sa, sb = signature("", a, P), signature("", b, P)
    assert len(sa) == P.num_perm
    assert low <= similarity(sa, sb) <= high


@pytest.mark.parametrize(
    ("a", "b", "jaccard"),
    [
        (range(0, 200), range(100, 300), 1 / 3),
        (range(0, 300), range(0, 300), 1.0),
        (range(0, 100), range(100, 200), 0.0),
        (range(0, 50), range(10, 60), 40 / 60),
        (range(0, 3), range(0, 3), 1.0),  # fewer items than bins: densified, still equal
    ],
)
def test_one_permutation_minhash_estimates_jaccard(a: range, b: range, jaccard: float) -> None:
    sa = minhash({f"w{i}" for i in a}, P.num_perm)
    sb = minhash({f"w{i}" for i in b}, P.num_perm)
    assert abs(similarity(sa, sb) - jaccard) <= 0.12


def test_signatures_are_stable_across_processes() -> None:
    # fixed permutations: a restarted worker must compute the same values
    assert minhash({"ا ب"}, 4) == minhash({"ا ب"}, 4)
    assert minhash(set(), 3) == (2**32 - 1,) * 3
    assert band_keys(list(range(8)), 4, 2) == band_keys(list(range(8)), 4, 2)
    assert len(set(band_keys(list(range(8)), 4, 2))) == 4


def _assign(
    tables: tuple[dict[str, Any], dict[str, Any]], aid: str, source: str, text: str, at: float
) -> Any:
    bands, stories = tables
    return assign_story(
        aid, source, signature("", text, P), at, bands=bands, stories=stories, params=P
    )


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # (article id, source, text, at seconds) → (story opener, is_new)
        ([("a", "s1", STORY, 0)], [("a", True)]),
        ([("a", "s1", STORY, 0), ("b", "s2", REWRITE, 60)], [("a", True), ("a", False)]),
        ([("a", "s1", STORY, 0), ("b", "s2", OTHER, 60)], [("a", True), ("b", True)]),
        # exact copy from a third outlet joins too
        (
            [("a", "s1", STORY, 0), ("b", "s2", REWRITE, 1), ("c", "s3", STORY, 2)],
            [("a", True), ("a", False), ("a", False)],
        ),
        # the same article again: same story, not new, nothing else changes
        ([("a", "s1", STORY, 0), ("a", "s1", STORY, 5)], [("a", True), ("a", False)]),
        # after the window the story is closed: a copy opens a new one
        (
            [("a", "s1", STORY, 0), ("b", "s2", STORY, P.window_seconds + 1)],
            [("a", True), ("b", True)],
        ),
    ],
)
def test_assign_story(steps: list[tuple[str, str, str, float]], expected: list[Any]) -> None:
    tables: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    got = [_assign(tables, *step) for step in steps]
    assert [(a.story_id, a.is_new) for a in got] == [(story_id_for(o), n) for o, n in expected]


def test_story_records_sources_and_articles_once() -> None:
    tables: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    for aid, source in (("a", "s1"), ("b", "s2"), ("a", "s1"), ("c", "s1")):
        _assign(tables, aid, source, STORY, 0)
    (story,) = tables[1].values()
    assert story["articles"] == ["a", "b", "c"]
    assert story["sources"] == ["s1", "s2"]


def test_expired_keys() -> None:
    table = {"old": {"at": 1.0}, "new": {"at": 10.0}}
    assert expired_keys(table, "at", 5.0) == ["old"]


@pytest.mark.parametrize(
    ("severity", "sources", "at", "expected"),
    [
        ("high", 1, 3, "high"),
        ("high", 2, 3, "high"),
        ("high", 3, 3, "critical"),
        ("medium", 5, 3, "high"),
        ("critical", 9, 3, "critical"),
        ("low", 9, 0, "low"),  # 0 disables escalation
    ],
)
def test_escalate(severity: str, sources: int, at: int, expected: str) -> None:
    assert escalate(severity, sources, at) == expected


def _hit(article: str, source: str, **extra: Any) -> dict[str, Any]:
    hit = {
        "schema_version": 1,
        "id": alert_id("red-line", 1, article),
        "rule": "red-line",
        "rule_version": 1,
        "rule_title": "Red line",
        "severity": "high",
        "article": {
            "id": article,
            "source": source,
            "url": None,
            "title": "عنوان",
            "published_at": None,
        },
        "regions": ["IQ"],
        "topics": ["security"],
        "explanation": {"regions": [], "topics": []},
        "matches": [
            {
                "term": "خط احمر",
                "text": "خط أحمر",
                "field": "body",
                "start": 0,
                "end": 7,
                "snippet": "خط أحمر",
            }
        ],
        "published_at": None,
        "ingested_at": "2024-12-01T10:00:00+00:00",
        "alerted_at": "2024-12-01T10:00:01+00:00",
    }
    hit.update(extra)
    assert schema_errors("alert-hit", hit) == []
    return hit


def test_story_alert_lifecycle() -> None:
    sid = story_id_for("a1")
    t = [f"2024-12-01T10:00:0{i}+00:00" for i in range(5)]
    first = story_alert(_hit("a1", "s1"), sid, None, now=t[1], escalate_at=3)
    assert first is not None
    assert (first["status"], first["revision"], first["severity"]) == ("new", 1, "high")
    assert first["id"] == alert_id("red-line", 1, sid)  # rule + story, not article
    assert schema_errors("alert", first) == []
    second = story_alert(_hit("a2", "s2", regions=["SY"]), sid, first, now=t[2], escalate_at=3)
    assert second is not None
    assert second["id"] == first["id"]
    assert (second["status"], second["revision"]) == ("updated", 2)
    assert second["sources"] == ["s1", "s2"]
    assert [a["id"] for a in second["articles"]] == ["a1", "a2"]
    assert second["regions"] == ["IQ", "SY"]
    assert second["created_at"] == t[1] and second["updated_at"] == t[2]
    assert second["severity"] == "high" and not second["escalated"]
    # the same article again (re-publish, replay): nothing, not an update
    assert story_alert(_hit("a2", "s2"), sid, second, now=t[3], escalate_at=3) is None
    # a second article of a source already listed: updated, sources unchanged
    third = story_alert(_hit("a3", "s2"), sid, second, now=t[3], escalate_at=3)
    assert third is not None and third["sources"] == ["s1", "s2"] and third["revision"] == 3
    assert third["severity"] == "high"
    fourth = story_alert(_hit("a4", "s3"), sid, third, now=t[4], escalate_at=3)
    assert fourth is not None
    assert (fourth["severity"], fourth["rule_severity"], fourth["escalated"]) == (
        "critical",
        "high",
        True,
    )
    for alert in (second, third, fourth):
        assert schema_errors("alert", alert) == []


def test_candidate_message_is_valid() -> None:
    enriched = {
        "id": "a1",
        "source": "s1",
        "title": "عنوان",
        "body": STORY,
        "ingested_at": "2024-12-01T10:00:00+00:00",
    }
    message = candidate_message(enriched, [_hit("a1", "s1")], P)
    assert schema_errors("story-candidate", message) == []
    assert len(message["signature"]) == P.num_perm


@pytest.mark.parametrize(
    "steps",
    [
        [("a", "s1", STORY, 0), ("b", "s2", REWRITE, 60)],
        [("a", "s1", STORY, 0), ("b", "s2", OTHER, 60), ("c", "s3", REWRITE, 120)],
        [("a", "s1", STORY, 0), ("b", "s2", STORY, P.window_seconds + 1)],
        [("a", "s1", STORY, 0), ("a", "s1", STORY, 5)],
    ],
)
def test_a_rebuilt_band_index_assigns_like_the_live_one(
    steps: list[tuple[str, str, str, float]],
) -> None:
    """A worker that restarts (or takes the story partition over) rebuilds its band index from
    the stories table before every step here; it must assign exactly as one that never did."""
    live: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    rebuilt: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    for aid, source, text, at in steps:
        rebuilt[0].clear()
        rebuilt[0].update(band_index(rebuilt[1], P, at - P.window_seconds))
        want, got = _assign(live, aid, source, text, at), _assign(rebuilt, aid, source, text, at)
        assert (got.story_id, got.is_new) == (want.story_id, want.is_new)
    assert rebuilt[1] == live[1]


def test_band_index_keeps_live_stories_and_the_latest_owner_of_a_band() -> None:
    sig = list(signature("", STORY, P))
    stories = {
        "old": {"sigs": [sig], "last_seen": 10.0},
        "new": {"sigs": [sig], "last_seen": 20.0},
        "closed": {"sigs": [list(signature("", OTHER, P))], "last_seen": 1.0},
    }
    index = band_index(stories, P, horizon=5.0)
    assert set(index) == set(band_keys(sig, P.bands, P.rows))  # "closed" is past the horizon
    assert all(entry == {"story": "new", "at": 20.0} for entry in index.values())
    assert band_index({}, P, 0.0) == {}
