"""A post's genre mark (issue 15, round seven): a caricature is a drawing, culture whatever it
draws; a headline opening with «#كاريكاتير |» puts culture first (`topics.genre_mark`, the
lexicons' `genres`). Lines written for these tests."""

from __future__ import annotations

import pytest
import yaml

from streams.classify.topics import _build, classify_topics, genre_mark
from streams.resources import data_file


def _genres() -> dict[str, list[str]]:
    doc = yaml.safe_load(data_file("topic_lexicons.yaml").read_text("utf-8"))
    return {str(k): [str(w) for w in v] for k, v in doc["genres"].items()}


MARKS = [(topic, mark) for topic, marks in _genres().items() for mark in marks]


@pytest.mark.parametrize(("topic", "mark"), MARKS)
def test_every_mark_opening_a_headline_puts_its_topic_first(topic: str, mark: str) -> None:
    text = f"#{mark} | قمة الرؤساء والانتخابات البرلمانية"
    found = genre_mark(text)
    assert found is not None and found[0] == topic
    assert text[found[1] : found[2]] == mark
    labels = classify_topics(text, "")
    assert labels[0].code == topic
    assert labels[0].evidence[0].text == mark


@pytest.mark.parametrize(
    ("text", "news"),
    [
        # what the model says without the mark: politics, security; with it, culture
        ("#كاريكاتير | قمة الرؤساء والانتخابات البرلمانية", "politics"),
        ("كاريكاتير: الحكومة والبرلمان وموازنة العام الجديد", "politics"),
        ("RT @desk: \u200f#كاريكاتير | الحرب على غزة", "security"),
        ("#كاريكاتير_اليوم | قمة الرؤساء والانتخابات البرلمانية", "politics"),
        ("الكاريكاتير - الحرب على غزة", "security"),
        ("كاريكاتـير الحرب على غزة", "security"),  # tatweel, no separator
    ],
)
def test_a_caricature_is_culture_whatever_it_draws(text: str, news: str) -> None:
    mark = genre_mark(text)
    assert mark is not None
    without = text[: mark[1]] + " " * (mark[2] - mark[1]) + text[mark[2] :]
    assert classify_topics(without, "")[0].code == news  # the drawing's subject
    labels = classify_topics(text, "")
    assert labels[0].code == "culture"
    assert labels[0].evidence[0].field == "title"
    assert news in [label.code for label in labels[1:]]  # its subject still reported
    assert len({(e.start, e.end) for e in labels[0].evidence}) == len(labels[0].evidence)


def test_a_mark_in_a_body_without_a_title() -> None:
    labels = classify_topics("", "#كاريكاتير | الحرب على غزة")
    assert labels[0].code == "culture"
    assert labels[0].evidence[0].field == "body"


@pytest.mark.parametrize(
    "text",
    [
        "رسام كاريكاتير معارض يعتقل بعد انتقاد الحكومة",  # not at the start
        "قال في كاريكاتير: الجيش يقصف المدينة",
        "كاريكاتيرات الصحف عن الانتخابات",  # another word, not the mark
        "الحرب على غزة",
    ],
)
def test_a_mark_only_when_it_opens_the_text(text: str) -> None:
    assert genre_mark(text) is None


def test_a_section_that_names_a_topic_still_decides() -> None:
    text = "#كاريكاتير | قمة الرؤساء والانتخابات البرلمانية"
    assert classify_topics(text, "", section="سياسة")[0].code == "politics"


def test_genres_of_unknown_topics_are_refused() -> None:
    with pytest.raises(ValueError, match="genres"):
        _build({"topics": {}, "genres": {"cartoons": ["كاريكاتير"]}})
    built = _build({"topics": {}, "genres": {"culture": ["كاريكاتير"]}})
    assert [topic for _, topic in built.genres] == ["culture"]
    assert _build({"topics": {}}).genres == ()  # no genres: no mark
