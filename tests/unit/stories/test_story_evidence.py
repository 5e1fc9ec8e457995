"""bench/story_evidence.py's extraction (issue 14, round nine): the speakers and event days whose
features it measures. The figures it prints in docs/subscribers.md rest on these, so they are
checked here (the bench itself asserts nothing)."""

from __future__ import annotations

import datetime as dt

import pytest

from bench import story_evidence as ev
from streams.text.arabic import tokenize

# Tuesday 8 May 2018, 12:00 UTC
TUESDAY = dt.datetime(2018, 5, 8, 12, tzinfo=dt.UTC).timestamp()


def _day(y: int, m: int, d: int) -> int:
    return dt.date(y, m, d).toordinal()


def test_the_speaker_after_a_verb_is_kept_without_his_role() -> None:
    got = ev.speakers(
        "طهران ترد على واشنطن",
        "وقال وزير الخارجية الإيراني محمد جواد ظريف، إن بلاده لن تتفاوض.",
    )
    assert got == ("خارجيه", "ايراني", "محمد", "جواد", "ظريف")  # «وزير» dropped, stops at «إن»


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("ظريف: لن نتفاوض على الاتفاق", ("ظريف",)),  # «X: …»
        ("ترامب يعلن الانسحاب من الاتفاق", ("ترامب",)),  # speaker first, then the verb
        ("أعلن الرئيس الأمريكي دونالد ترامب أن بلاده ستنسحب", ("امريكي", "دونالد", "ترامب")),
        ("انفجار في بغداد", ()),  # nobody speaks
    ],
)
def test_title_speakers(title: str, expected: tuple[str, ...]) -> None:
    assert ev.speakers(title, "", with_body=False) == expected


def test_event_days_resolve_against_the_publication_day() -> None:
    words = tokenize("قال أمس الاثنين إن الهجوم وقع يوم الأحد، والاجتماع اليوم").words
    # أمس and الاثنين are the same day (listed once), then الأحد, then اليوم
    assert ev.event_days(words, TUESDAY) == (_day(2018, 5, 7), _day(2018, 5, 6), _day(2018, 5, 8))


def test_a_date_more_than_a_week_away_is_not_an_event_day() -> None:
    assert ev.event_days(tokenize("في 20 مايو").words, TUESDAY) == ()
    assert ev.event_days(tokenize("في 9 مايو").words, TUESDAY) == (_day(2018, 5, 9),)
    assert ev.event_days(tokenize("أول أمس").words, TUESDAY) == (_day(2018, 5, 6),)


def _story(*articles: ev.Evidence) -> ev.Counts:
    counts: ev.Counts = {}
    for article in articles:
        counts = ev._counted(counts, article)
    return counts


def test_features_tell_the_same_people_on_another_day() -> None:
    monday, sunday = _day(2018, 5, 7), _day(2018, 5, 6)
    story = _story({"s": ("بومبيو",), "t": ("بومبيو",), "days": (monday,)})
    same_day = ev.features({"s": ("بومبيو",), "t": (), "days": (monday,)}, story, lambda t: 1.0)
    assert same_day["s_sim"] == pytest.approx(1.0)
    assert (same_day["d_same"], same_day["d_diff"], same_day["sd_diff"]) == (1.0, 0.0, 0.0)
    other_day = ev.features({"s": ("بومبيو",), "t": (), "days": (sunday,)}, story, lambda t: 1.0)
    assert (other_day["d_diff"], other_day["dm_diff"], other_day["sd_diff"]) == (1.0, 1.0, 1.0)
    other_people = ev.features({"s": ("ظريف",), "t": (), "days": ()}, story, lambda t: 1.0)
    assert (other_people["s_both"], other_people["s_diff"], other_people["s_sim"]) == (
        1.0,
        1.0,
        0.0,
    )
    assert other_people["d_diff"] == other_people["d_same"] == 0.0  # no day given: no evidence


def test_the_story_main_day_is_its_most_mentioned() -> None:
    sunday, monday = _day(2018, 5, 6), _day(2018, 5, 7)
    e = {"t": ()}
    story = _story({**e, "s": (), "days": (monday,)}, {**e, "s": (), "days": (sunday, monday)})
    f = ev.features({"s": (), "t": (), "days": (sunday,)}, story, lambda t: 1.0)
    assert (f["d_same"], f["dm_same"], f["dm_diff"]) == (1.0, 0.0, 1.0)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("مقتل 5 في انفجار ببغداد", ("مقتل", "انفجار")),  # numbers and stop words skipped
        ("ترامب يعلن الانسحاب من الاتفاق", ("يعلن", "انسحاب")),  # the speaker is not the event
    ],
)
def test_the_title_head_is_its_first_event_terms(title: str, expected: tuple[str, ...]) -> None:
    assert ev.title_head(title) == expected


def test_title_heads_shared_or_not() -> None:
    story = _story({"s": (), "t": (), "days": (), "h": ("مقتل", "انفجار")})
    same = ev.features({"s": (), "t": (), "days": (), "h": ("انفجار", "بغداد")}, story, len)
    other = ev.features({"s": (), "t": (), "days": (), "h": ("يعلن", "انسحاب")}, story, len)
    assert (same["h_same"], same["h_diff"], other["h_same"], other["h_diff"]) == (1, 0, 0, 1)
