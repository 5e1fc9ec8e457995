from __future__ import annotations

from pathlib import Path

import pytest

from streams.classify.topics import TOPICS, classify_topics

FIXTURE = Path(__file__).parents[2] / "fixtures" / "baghdadtoday-2024-12-01-sayyida-zaynab.txt"
TITLE = "الفصائل تعلق على أحداث سوريا: منطقة السيدة زينب خط احمر ولن نتوانى بالدفاع عنها"


def sample_body() -> str:
    return FIXTURE.read_text(encoding="utf-8").split("بغداد اليوم - بغداد", 1)[1].strip()


@pytest.mark.parametrize("section", [None, "أمن"])
def test_reference_article(section: str | None) -> None:
    body = sample_body()
    labels = classify_topics(TITLE, body, section=section)
    assert labels[0].code == "security"
    texts = {"title": TITLE, "body": body}
    for lb in labels:
        assert lb.code in TOPICS
        for e in lb.evidence:
            assert texts[e.field][e.start : e.end] == e.text


@pytest.mark.parametrize(
    ("title", "body", "expected"),
    [
        ("مقتل ثلاثة جنود بهجوم مسلح", "قصف واشتباكات عنيفة وسقوط قتلى وجرحى", "security"),
        ("البرلمان يصوت على تشكيل الحكومة", "الكتل السياسية تتفاوض قبل الانتخابات", "politics"),
        (
            "ارتفاع أسعار النفط",
            "البنك المركزي يرفع الفائدة والدولار يتراجع والتضخم يرتفع",
            "economy",
        ),
        (
            "المحكمة تقضي بالسجن على متهم بالفساد",
            "النيابة العامة أحالت الدعوى إلى القاضي",
            "justice",
        ),
        ("وزارة الصحة تعلن إصابات بالكوليرا", "المستشفيات تستقبل المرضى وتوزيع اللقاحات", "health"),
        ("الطلاب يعودون إلى المدارس", "وزارة التعليم تعلن مواعيد الامتحانات للطلبة", "society"),
        ("المنتخب يفوز في المباراة", "المدرب أشاد باللاعبين بعد الفوز بهدفين في الدوري", "sports"),
        ("غوغل تطلق تطبيق ذكاء اصطناعي", "الهواتف الذكية والإنترنت والبيانات", "technology"),
        ("مهرجان السينما يكرم الفنان", "عرض الفيلم والمسلسل ومعرض الكتاب والرواية", "culture"),
        ("موجة جفاف وارتفاع درجات الحرارة", "التغير المناخي والتلوث والفيضانات", "environment"),
    ],
)
def test_each_topic(title: str, body: str, expected: str) -> None:
    labels = classify_topics(title, body)
    assert labels[0].code == expected
    texts = {"title": title, "body": body}
    for e in labels[0].evidence:
        assert texts[e.field][e.start : e.end] == e.text


@pytest.mark.parametrize(
    ("section", "expected"),
    [("أمن", "security"), ("اقتصاد", "economy"), ("رياضة", "sports"), ("ثقافة وفنون", "culture")],
)
def test_section_hint(section: str, expected: str) -> None:
    labels = classify_topics("خبر قصير", "", section=section)
    assert labels[0].code == expected


def test_clitics_and_prefix_terms() -> None:
    labels = classify_topics("والاقتصاديون يحذرون من الأزمة الاقتصادية", "")
    assert labels[0].code == "economy"


def test_title_weighs_more_than_body() -> None:
    labels = classify_topics("مباراة المنتخب", "وزير المالية حضر")
    assert labels[0].code == "sports"


def test_multilabel_and_sorted() -> None:
    labels = classify_topics("المحكمة تحاكم متهمين بتفجير إرهابي", "قتلى في الهجوم والتحقيق مستمر")
    got = {lb.code for lb in labels}
    assert {"justice", "security"} <= got
    assert [lb.score for lb in labels] == sorted((lb.score for lb in labels), reverse=True)


@pytest.mark.parametrize("title", ["", "ذهب إلى هناك"])
def test_no_topic_below_threshold(title: str) -> None:
    assert classify_topics(title, "") == []


def test_a_sentence_about_nothing_gets_at_most_a_weak_topic() -> None:
    # the model's prior (most news is politics) may name one, with a low score and the words
    # that lean to it as evidence
    labels = classify_topics("قال إنه سيأتي غدا", "")
    assert len(labels) <= 1
    assert all(lb.score < 0.2 and lb.evidence for lb in labels)
