"""Story clustering (TF-IDF sub-vectors, a centroid per story, an inverted index) and the
story alert lifecycle: pure functions, no broker."""

from __future__ import annotations

import random
from typing import Any

import pytest

from streams.ids import alert_id
from streams.stories.cluster import (
    MAX_LISTED_ARTICLES,
    MAX_POSTINGS,
    MAX_STORY_SOURCES,
    Assignment,
    Clusterer,
    Similarity,
    StoryIndex,
    StoryParams,
    article_vectors,
    escalate,
    expired_keys,
    outlets,
    packaged_model,
    story_alert,
    story_id_for,
)
from streams.stories.docfreq import DocFreq
from streams.stories.features import StoryFeatures, story_features, term
from streams.stories.offline import StoryInput, cluster_in_order
from streams.validation import schema_errors

P = StoryParams()  # the defaults the worker uses unless configured

TITLE = "الداخلية العراقية تغلق المنافذ يوم الانتخابات"
STORY = (
    "أعلنت وزارة الداخلية العراقية اليوم إغلاق المنافذ البرية والجوية يوم التصويت في الانتخابات "
    "التشريعية، وقال المتحدث باسم الوزارة إن القرار يشمل جميع المحافظات وإن القوات الأمنية "
    "ستنتشر حول مراكز الاقتراع لضمان سير العملية الانتخابية بهدوء، ونشر 45 ألف عنصر."
)
# Another outlet's rewrite: same facts, other words, a different closing sentence.
REWRITE_TITLE = "العراق يغلق منافذه البرية والجوية في يوم الانتخابات التشريعية"
REWRITE = (
    "قررت وزارة الداخلية العراقية، اليوم الأربعاء، إغلاق المنافذ البرية والجوية يوم التصويت في "
    "الانتخابات التشريعية. وأوضح المتحدث باسم الوزارة أن القرار يشمل المحافظات كافة وأن 45 ألف "
    "عنصر من القوات الأمنية سينتشرون حول مراكز الاقتراع."
)
OTHER_TITLE = "المغرب يفوز على جنوب أفريقيا وديا"
OTHER = (
    "فاز المنتخب المغربي على نظيره الجنوب أفريقي في مباراة ودية أقيمت مساء الخميس على ملعب "
    "محمد الخامس في الدار البيضاء، وسجل الأهداف لاعبو خط الهجوم في الشوط الثاني."
)
TEXTS = {
    "story": (TITLE, STORY),
    "rewrite": (REWRITE_TITLE, REWRITE),
    "other": (OTHER_TITLE, OTHER),
}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("العراق", "عراق"),
        ("والعراق", "عراق"),
        ("بالعراق", "عراق"),
        ("للانتخابات", "انتخابات"),
        ("وزير", "وزير"),  # a word that merely starts with «و» keeps it
        ("الف", "الف"),  # too little would remain after «ال»: kept whole
        ("في", ""),  # stop word
        ("الذي", ""),  # stop word, written with its article
        ("2018", ""),  # digits are the numbers feature, not terms
        ("ب", ""),  # too short
    ],
)
def test_term(word: str, expected: str) -> None:
    assert term(word) == expected


def test_story_features_keep_fields_numbers_places_and_a_fingerprint() -> None:
    f = story_features(TITLE, STORY, ["بغداد", "العراق"])
    assert f.title["داخليه"] == 1 and "منافذ" in f.title
    assert set(f.lead) <= set(f.body) and f.body["انتخابات"] >= 1
    assert "في" not in f.body and "" not in f.body
    assert f.numbers == ("45",)  # years and one-digit numbers are not event numbers
    assert f.entities == ("بغداد", "عراق")
    again = story_features(TITLE, STORY, ["بغداد", "العراق"])
    assert again.fingerprint == f.fingerprint
    assert story_features(TITLE, STORY + " .").fingerprint == f.fingerprint  # same words
    assert story_features(TITLE, REWRITE).fingerprint != f.fingerprint
    assert StoryFeatures.from_message(f.as_message()) == f


def test_story_features_are_bounded() -> None:
    body = " ".join(f"كلمه{i} {i * 7}" for i in range(5000))
    f = story_features("عنوان", body, [f"مكان{i}" for i in range(100)])
    assert len(f.body) <= 120 and len(f.numbers) <= 20 and len(f.entities) <= 24
    message = {
        "schema_version": 3,
        "article_id": "a",
        "revision": 1,
        "source": "s",
        "at": "2024-12-01T10:00:00+00:00",
        "event_at": "2024-12-01T09:58:00+03:00",
        "title": "عنوان",
        "regions": ["IQ"],
        "topics": ["security"],
        "features": f.as_message(),
        "hits": [],
    }
    assert schema_errors("story-candidate", message) == []


def _features(kind: str) -> StoryFeatures:
    title, body = TEXTS[kind]
    return story_features(title, body, ["بغداد"] if kind != "other" else ["الدار البيضاء"])


def _assign(c: Clusterer, aid: str, source: str, kind: str, at: float) -> Assignment:
    return c.add(aid, source, _features(kind), at)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # (article id, source, text, at seconds) → (story opener, is_new)
        ([("a", "s1", "story", 0)], [("a", True)]),
        ([("a", "s1", "story", 0), ("b", "s2", "rewrite", 60)], [("a", True), ("a", False)]),
        ([("a", "s1", "story", 0), ("b", "s2", "other", 60)], [("a", True), ("b", True)]),
        # an exact copy from a third outlet joins too
        (
            [("a", "s1", "story", 0), ("b", "s2", "rewrite", 1), ("c", "s3", "story", 2)],
            [("a", True), ("a", False), ("a", False)],
        ),
        # the same article again: same story, not new, nothing else changes
        ([("a", "s1", "story", 0), ("a", "s1", "story", 5)], [("a", True), ("a", False)]),
        # after the window the story is closed: a copy opens a new one
        (
            [("a", "s1", "story", 0), ("b", "s2", "story", P.window_seconds + 1)],
            [("a", True), ("b", True)],
        ),
    ],
)
def test_assign_story(steps: list[tuple[str, str, str, float]], expected: list[Any]) -> None:
    c = Clusterer()
    got = [_assign(c, *step) for step in steps]
    assert [(a.story_id, a.is_new) for a in got] == [(story_id_for(o), n) for o, n in expected]


def test_story_records_sources_and_articles_once_and_same_outlet_copies_not_at_all() -> None:
    c = Clusterer()
    got = [
        _assign(c, aid, source, "story", 0)
        for aid, source in (("a", "s1"), ("b", "s2"), ("a", "s1"), ("c", "s1"))
    ]
    (story,) = c.stories.values()
    # "c": s1 filing the same text again (another section, another id): not news
    assert story["articles"] == ["a", "b"] and story["size"] == 2
    assert story["sources"] == ["s1", "s2"]
    assert [a.copy for a in got] == [False, False, False, True]
    assert (got[-1].story_id, got[-1].size, got[-1].sources) == (story_id_for("a"), 2, ("s1", "s2"))


def test_a_story_lists_its_first_outlets_and_counts_the_others() -> None:
    """`sources` holds the first MAX_STORY_SOURCES outlets; past them the story counts its
    distinct outlets in `outlets` (exact while each outlet's last report is among the story's
    last MAX_COPIES articles), and the state has no `outlets` until then."""
    c = Clusterer()
    n = MAX_STORY_SOURCES + 6
    got = [_assign(c, f"a{i}", f"s{i}", "story", i) for i in range(MAX_STORY_SOURCES)]
    (story,) = c.stories.values()
    assert story["sources"] == [f"s{i}" for i in range(MAX_STORY_SOURCES)]
    assert "outlets" not in story and outlets(story) == MAX_STORY_SOURCES
    assert [a.outlets for a in got] == [len(a.sources) for a in got] == list(range(1, 65))
    got = [_assign(c, f"a{i}", f"s{i}", "story", i) for i in range(MAX_STORY_SOURCES, n)]
    (story,) = c.stories.values()
    assert story["size"] == n and len(story["sources"]) == MAX_STORY_SOURCES
    assert story["sources"] == [f"s{i}" for i in range(MAX_STORY_SOURCES)]  # the first ones
    assert [a.outlets for a in got] == list(range(MAX_STORY_SOURCES + 1, n + 1))
    assert all(len(a.sources) == MAX_STORY_SOURCES for a in got)
    # an outlet past the cap with another text (not a copy), and a listed one: not new
    again = c.add("b1", f"s{n - 1}", _features("rewrite"), n)
    listed = c.add("b2", "s0", _features("rewrite"), n + 1)
    assert not again.copy and not listed.copy and again.story_id == listed.story_id
    assert (again.outlets, listed.outlets, c.stories[again.story_id]["outlets"]) == (n, n, n)
    # what `rasid stories` prints: `outlets` past the listed ones only
    lines = list(
        cluster_in_order(
            StoryInput(f"a{i}", f"s{i}", float(i), _features("story"))
            for i in range(MAX_STORY_SOURCES + 1)
        )
    )
    assert ["outlets" in line for line in lines] == [False] * MAX_STORY_SOURCES + [True]
    assert lines[-1]["outlets"] == MAX_STORY_SOURCES + 1
    assert len(lines[-1]["sources"]) == MAX_STORY_SOURCES


def test_a_story_state_of_the_previous_release_counts_its_outlets() -> None:
    """A state read back from the table (JSON lists, no `outlets`) with more sources than the
    cap (the previous release listed them all): counted as listed, and not listed further."""
    c = Clusterer()
    _assign(c, "a0", "s0", "story", 0)
    _assign(c, "a1", "s1", "story", 1)
    sid = story_id_for("a0")
    old = {**c.stories[sid], "copies": [["s0", "f"], ["s1", "g"]]}
    old["sources"] = [f"s{i}" for i in range(MAX_STORY_SOURCES + 10)]
    c.stories[sid] = old
    got = c.add("a2", "t2", _features("story"), 2)
    assert (got.story_id, got.outlets) == (sid, MAX_STORY_SOURCES + 11)
    assert c.stories[sid]["sources"] == old["sources"]


BREAKING = "عاجل | الداخلية العراقية تغلق المنافذ"  # the one-line first version


@pytest.mark.parametrize("opener", [True, False])
def test_a_revision_updates_its_story_instead_of_joining_as_another_article(
    opener: bool,
) -> None:
    """A one-line breaking item grown into a full article (revision 2) stays in its story,
    whether it opened the story or joined one, even when its new text would have matched
    another story: the story learns the fuller text, and counts the article once."""
    c = Clusterer()
    _assign(c, "x", "s9", "other", 0)  # an unrelated live story
    aid = "a" if opener else "b"
    if opener:
        c.add("a", "s1", story_features(BREAKING, BREAKING, ["بغداد"]), 10)
    else:
        _assign(c, "a", "s1", "story", 10)
        _assign(c, "b", "s2", "rewrite", 20)
    sid = story_id_for("a")
    before = dict(c.stories[sid])
    got = c.add(aid, "s1" if opener else "s2", _features("other"), 60, revision=2)
    assert (got.story_id, got.revised, got.is_new, got.copy) == (sid, True, False, False)
    story = c.stories[sid]
    assert story["size"] == before["size"] and story["articles"] == before["articles"]
    assert story["sources"] == before["sources"]
    assert story["revisions"] == {aid: 2}
    assert term("المغربي") in story["body"]  # the new text is in the centroid
    # the same revision again (a replay) changes nothing; a later one is folded in
    again = c.add(aid, "s1", _features("other"), 70, revision=2)
    assert not again.revised and c.stories[sid] == story
    assert c.add(aid, "s1", _features("story"), 80, revision=3).revised


def test_a_revision_finds_its_story_after_the_index_is_rebuilt() -> None:
    c = Clusterer()
    _assign(c, "a", "s1", "story", 0)
    _assign(c, "b", "s2", "rewrite", 10)
    c.index = StoryIndex.build(c.stories, P, horizon=0)
    assert c.index.members == {"a": story_id_for("a"), "b": story_id_for("a")}
    got = c.add("b", "s2", _features("other"), 20, revision=2)
    assert (got.story_id, got.revised) == (story_id_for("a"), True)


def test_a_revision_after_its_story_closed_is_clustered_as_an_article() -> None:
    c = Clusterer()
    _assign(c, "a", "s1", "story", 0)
    _assign(c, "b", "s2", "rewrite", 10)
    later = P.window_seconds + 100
    c.index.forget(later - P.window_seconds)
    assert c.index.members == {} and c.index.seen == {}
    got = c.add("b", "s2", _features("other"), later, revision=2)
    assert (got.story_id, got.is_new, got.revised) == (story_id_for("b"), True, False)


def test_a_rebuilt_index_assigns_like_the_live_one() -> None:
    """A worker that restarts (or takes the story partition over) rebuilds its index from the
    stories table (and its document frequencies from their snapshot) before every step here;
    it must assign exactly as one that never did."""
    steps = [
        ("a", "s1", "story", 0),
        ("b", "s2", "other", 30),
        ("c", "s3", "rewrite", 60),
        ("d", "s4", "other", 90),
        ("e", "s1", "story", P.window_seconds + 100),
    ]
    live, rebuilt = Clusterer(), Clusterer()
    for aid, source, kind, at in steps:
        rebuilt.index = StoryIndex.build(rebuilt.stories, P, at - P.window_seconds)
        rebuilt.df = DocFreq.load(rebuilt.df.shards())
        want, got = _assign(live, aid, source, kind, at), _assign(rebuilt, aid, source, kind, at)
        assert got == want
    assert rebuilt.stories == live.stories


def test_index_build_and_forget_keep_only_live_stories() -> None:
    c = Clusterer()
    _assign(c, "a", "s1", "story", 0)
    _assign(c, "b", "s2", "other", 10 * 3600)
    index = StoryIndex.build(c.stories, P, horizon=5 * 3600)
    assert {sid for posting in index.postings.values() for sid in posting} == {story_id_for("b")}
    assert c.index.forget(5 * 3600) > 0
    assert {sid for posting in c.index.postings.values() for sid in posting} == {story_id_for("b")}


def test_the_work_per_article_does_not_grow_with_live_stories() -> None:
    """10,000 live stories that all share a term: an article looks at MAX_POSTINGS of them at
    most per term, and scores max_candidates."""
    index = StoryIndex()
    for i in range(10_000):
        index.add(f"st-{i}", ["عراق", f"t{i}"], float(i))
    assert len(index.postings["عراق"]) == MAX_POSTINGS
    assert "st-9999" in index.postings["عراق"]  # the most recently active stay
    vectors = {"title": {"عراق": 1.0}, "lead": {}, "body": {"عراق": 1.0}}
    assert len(index.candidates(vectors, 0.0, P)) == P.max_candidates


def test_replays_are_deterministic() -> None:
    rng = random.Random(7)
    kinds = ["story", "rewrite", "other"]
    inputs = [
        StoryInput(f"id{i}", f"s{i % 4}", 1_700_000_000 + 60 * i, _features(rng.choice(kinds)))
        for i in range(40)
    ]
    first = list(cluster_in_order(inputs))
    assert first == list(cluster_in_order(list(reversed(inputs))))  # publication order wins
    assert len({r["story_id"] for r in first}) < len(first)


def test_document_frequencies_weigh_common_terms_down_and_survive_snapshots() -> None:
    df = DocFreq(horizon=10)
    for _ in range(6):
        df.add({"عراق", "انتخابات"})
    df.add({"منافذ"})
    assert df.idf("منافذ") > df.idf("عراق") and df.idf("جديد") > df.idf("منافذ")
    restored = DocFreq.load(df.shards(), horizon=10)
    assert (restored.counts, restored.docs) == (df.counts, df.docs)
    shards = df.shards()
    del shards["df-00"]  # a missing shard: its terms start again, nothing fails
    assert DocFreq.load(shards).docs == df.docs
    for _ in range(3):  # the 10th document halves every count: old news fades
        df.add({"عراق"})
    assert df.docs == 5 and df.counts["عراق"] == 4 and "منافذ" not in df.counts


def test_article_vectors_are_unit_length_and_prefer_rare_terms() -> None:
    df = DocFreq()
    for _ in range(20):
        df.add({"داخليه", "عراقيه"})
    vectors = article_vectors(_features("story"), df)
    for vector in vectors.values():
        assert abs(sum(w * w for w in vector.values()) - 1.0) < 1e-9
    body = vectors["body"]
    assert body["منافذ"] > body["داخليه"]


def test_the_packaged_model_prefers_similar_recent_stories() -> None:
    model, threshold, anchor = packaged_model()
    assert 0 < anchor < threshold < 1
    close = Similarity(0.8, 0.8, 0.7, 1.0, 0.5, 1.0)
    far = Similarity(0.05, 0.1, 0.1, 0.0, 0.0, 1.0)
    late = Similarity(0.8, 0.8, 0.7, 1.0, 0.5, 40.0)
    assert close.probability(model) >= threshold > far.probability(model)
    assert late.probability(model) < close.probability(model)


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


def test_a_story_alert_lists_its_first_outlets() -> None:
    """An alert lists the first MAX_STORY_SOURCES outlets that fired its rule; later ones
    still update it (article, revision), and escalation counts the listed ones."""
    sid = story_id_for("a0")
    now = "2024-12-01T10:00:01+00:00"
    alert = story_alert(_hit("a0", "s0"), sid, None, now=now, escalate_at=MAX_STORY_SOURCES)
    for i in range(1, MAX_STORY_SOURCES + 3):
        alert = story_alert(
            _hit(f"a{i}", f"s{i}"), sid, alert, now=now, escalate_at=MAX_STORY_SOURCES
        )
        assert alert is not None
        assert alert["escalated"] == (i + 1 >= MAX_STORY_SOURCES)
    assert alert is not None and alert["revision"] == MAX_STORY_SOURCES + 3
    assert alert["sources"] == [f"s{i}" for i in range(MAX_STORY_SOURCES)]
    assert alert["articles"][-1]["id"] == f"a{MAX_STORY_SOURCES + 2}"
    assert schema_errors("alert", alert) == []


def test_a_story_alert_takes_a_later_revision_of_a_listed_article_in_place() -> None:
    sid = story_id_for("a1")
    t = [f"2024-12-01T10:00:0{i}+00:00" for i in range(6)]
    first = story_alert(_hit("a1", "s1"), sid, None, now=t[1], escalate_at=3)
    second = story_alert(_hit("a2", "s2"), sid, first, now=t[2], escalate_at=3)
    assert second is not None and "revision" not in second["articles"][0]  # 1: as before
    grown = _hit("a1", "s1", regions=["IQ", "SY"])
    grown["article"]["title"] = "العنوان الكامل"
    third = story_alert(grown, sid, second, now=t[3], escalate_at=3, revision=2)
    assert third is not None
    assert (third["status"], third["revision"], third["sources"]) == ("updated", 3, ["s1", "s2"])
    assert [(a["id"], a.get("revision", 1), a["title"]) for a in third["articles"]] == [
        ("a1", 2, "العنوان الكامل"),
        ("a2", 1, "عنوان"),
    ]
    assert third["regions"] == ["IQ", "SY"] and third["updated_at"] == t[3]
    assert schema_errors("alert", third) == []
    # a replay of revision 2, or of the first version: nothing happened
    for revision in (1, 2):
        assert story_alert(grown, sid, third, now=t[4], escalate_at=3, revision=revision) is None
    fourth = story_alert(grown, sid, third, now=t[5], escalate_at=3, revision=3)
    assert fourth is not None and fourth["revision"] == 4
    assert [a.get("revision", 1) for a in fourth["articles"]] == [3, 1]


@pytest.mark.parametrize(("anchor", "joins"), [(0.0, True), (0.2, True), (0.999999, False)])
def test_the_anchor_checks_the_story_s_first_article_too(anchor: float, joins: bool) -> None:
    c = Clusterer(StoryParams(anchor=anchor))
    first = _assign(c, "a", "s1", "story", 0)
    second = _assign(c, "b", "s2", "rewrite", 60)
    assert (second.story_id == first.story_id) is joins
    opened = c.stories[first.story_id]
    # the opener is copied aside (rounded) once a second article joins, not before
    assert ("first" in opened) is joins
    if joins:  # kept rounded (test_story_scoring.py checks it is the opener's vectors)
        kept = opened["first"]["body"]
        assert kept and all(w == round(w, 4) for w in kept.values())


def test_members_stay_bounded_by_the_listed_articles() -> None:
    """A story keeps listing its last MAX_LISTED_ARTICLES articles; the index's members (article
    → story) lose the ones that fall off, as an index rebuilt from the stories has them."""
    c = Clusterer()
    n = MAX_LISTED_ARTICLES + 25
    for i in range(n):
        _assign(c, f"a{i}", f"s{i}", "story" if i % 2 else "rewrite", float(i))
    (sid,) = c.stories
    listed = c.stories[sid]["articles"]
    assert len(listed) == MAX_LISTED_ARTICLES and listed[-1] == f"a{n - 1}"
    assert c.index.members == dict.fromkeys(listed, sid)
    assert StoryIndex.build(c.stories, P, horizon=0).members == c.index.members
