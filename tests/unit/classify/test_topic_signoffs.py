"""An outlet's call to follow it (issue 15, round six): «لمتابعتنا على تويتر … للاشتراك في
قناتنا …» closes many posts and captions whatever they are about; `topics.clean` blanks it like
the links, so its platform names no longer make a post technology. Lines written for these
tests."""

from __future__ import annotations

import pytest
import yaml

from streams.classify.topics import _build, classify_topics, clean
from streams.resources import data_file

SIGNOFF = (
    " لمتابعتنا على تويتر https://twitter.com/exampledesk"
    " للتواصل معنا على فيسبوك https://www.facebook.com/exampledesk"
    " لتصفح موقعنا الإلكتروني http://example.net/ar/"
    " للاشتراك في قناتنا https://www.youtube.com/channel/EXAMPLE"
)


def _signoffs() -> dict[str, list[str]]:
    doc = yaml.safe_load(data_file("topic_lexicons.yaml").read_text("utf-8"))
    return {k: [str(w) for w in v] for k, v in doc["signoffs"].items()}


@pytest.mark.parametrize("cue", _signoffs()["cues"])
def test_every_cue_is_blanked(cue: str) -> None:
    text = f"خبر اليوم. {cue} https://example.com/x"
    cleaned = clean(text)
    assert len(cleaned) == len(text)
    assert cleaned.strip() == "خبر اليوم."


@pytest.mark.parametrize("platform", _signoffs()["platforms"])
def test_the_platform_after_a_cue_is_blanked(platform: str) -> None:
    text = f"خبر اليوم. تابعونا على {platform} https://example.com/x"
    assert clean(text).strip() == "خبر اليوم."


LINK = " https://example.com/x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # spelt as posts spell it: tanween, hamza forms, tatweel, several spaces
        ("كن جزءاً من مجتمعنا", ""),
        ("لمتابعتـنا علي  انستغرام", ""),
        ("إشترك في قناتنا الآن", "الآن"),
        # the platform only right after a cue; the rest of the line stays
        ("تابعونا على تويتر وفيسبوك", "وفيسبوك"),
        # news that names a platform, and a cue's word alone, stay
        ("قال الوزير على تويتر إن المفاوضات فشلت", "قال الوزير على تويتر إن المفاوضات فشلت"),
        ("حذف تويتر آلاف الحسابات المزيفة", "حذف تويتر آلاف الحسابات المزيفة"),
        ("تابعونا الليلة في حلقة جديدة", "تابعونا الليلة في حلقة جديدة"),
        ("أطلقت قناتنا موقعها الإلكتروني", "أطلقت قناتنا موقعها الإلكتروني"),
        ("لمتابعتناعلى", "لمتابعتناعلى"),
    ],
)
def test_signoffs_and_their_controls(text: str, expected: str) -> None:
    linked = text + LINK  # the link blanked as furniture
    cleaned = clean(linked)
    assert len(cleaned) == len(linked)
    assert cleaned.strip() == expected


def test_a_signoff_without_a_link_stays() -> None:
    # every sign-off on ASND carries its link: the pattern runs on texts with one only
    text = "خبر اليوم. تابعونا على تويتر"
    assert clean(text) == text
    assert clean(text + LINK).strip() == "خبر اليوم."


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("البرلمان يصوت على قانون الانتخابات الجديد وسط مقاطعة أحزاب المعارضة", "politics"),
        ("الشرطة تعتقل عشرات المحتجين في العاصمة بعد مواجهات أمام مقر الحكومة", "politics"),
        ("طفل يتحدى الإعاقة ويصبح بطلا في السباحة", "politics"),
        ("لاجئون يعيشون في خيام بلا تدفئة مع اقتراب الشتاء", "politics"),
        ("مغنية شابة تحيي حفلا غنائيا في دار الأوبرا وتقدم أغاني من ألبومها الأول", "culture"),
        ("منظمة حقوقية تطالب بالإفراج عن الصحفيين المعتقلين", "justice"),
    ],
)
def test_a_signoff_changes_no_topic(text: str, topic: str) -> None:
    # before, the sign-off's platform names made the first four technology
    alone, signed = classify_topics(text, ""), classify_topics(text + SIGNOFF, "")
    assert alone[0].code == topic
    assert [lb.code for lb in signed] == [lb.code for lb in alone]
    post = text + SIGNOFF
    assert all(post[e.start : e.end] == e.text for lb in signed for e in lb.evidence)


def test_lexicons_without_signoffs_blank_none() -> None:
    assert _build({"topics": {"technology": {"تويتر": 2}}}).signoff is None
    built = _build({"topics": {}, "signoffs": {"cues": ["تابعونا على"]}})
    assert built.signoff is not None
    assert built.signoff.sub("", "تابعونا على تويتر").strip() == "تويتر"  # no platforms listed
