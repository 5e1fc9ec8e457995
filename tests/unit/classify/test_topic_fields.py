"""Issue 15, short posts: the fields the model learnt little of (health, environment, culture,
justice). Every line is written for the test."""

from __future__ import annotations

import pytest

from streams.classify.topic_model import Guess, default_model
from streams.classify.topics import (
    FIELD_LEAD,
    FIELD_MIN,
    LEXICON_FIELDS,
    classify_topics,
    first_topic,
    lexicon_scores,
    lexicon_topics,
)
from streams.text.arabic import tokenize


# Words of each field the lexicons lacked: before, none of these lines had a lexicon topic.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("حملة لمكافحة الملاريا والحصبة في القرى", "health"),
        ("التدخين يضاعف خطر الإصابة بالجلطة والزهايمر", "health"),
        ("نصائح لتقوية المناعة والتخلص من الأرق والصداع", "health"),
        ("سيارات الإسعاف تنقل المصابين إلى العيادة", "health"),
        ("تسونامي يضرب الساحل بعد الزلازل", "environment"),
        ("ذوبان الجليد في القطب الشمالي يرفع مستوى سطح البحر", "environment"),
        ("الحيتان والسلاحف مهددة بالانقراض", "environment"),
        ("رسام كاريكاتير يسخر من الغلاء", "culture"),
        ("المغنية تطلق ألبوم جديد يضم عشر أغنيات", "culture"),
        ("الأديب الراحل ترك قصائد وروايات لم تنشر", "culture"),
        ("منظمة هيومن رايتس ووتش تندد بتعذيب السجناء", "justice"),
        ("الاختفاء القسري والتعذيب في السجون", "justice"),
        ("مراسلون بلا حدود: حرية الصحافة في تراجع", "justice"),
    ],
)
def test_field_words(text: str, expected: str) -> None:
    labels = lexicon_topics(text, "")
    assert labels and labels[0].code == expected
    assert all(text[e.start : e.end] == e.text for e in labels[0].evidence)


# Words left out or kept to their real forms because a normalised form is another word.
@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("تراجع العجز الكلي للموازنة", "health"),  # «الكلي» (overall), not «الكلى» (kidneys)
        ("اللغة الأم للطفل", "health"),  # «آلام» (pains) normalises to «الام» (the mother)
        ("قال مكتبه إن الوزير سافر", "culture"),  # «مكتبة» (library) is «مكتبه» (his office)
        ("أحرز أوسكار الهدف الثاني", "culture"),  # a footballer's name, not the award
        ("الغموض المحيط بالمفاوضات", "environment"),  # «المحيط»: surrounding, or the ocean
        ("قال في مؤتمره الصحفي إن الاتفاق قريب", "justice"),  # a press conference
    ],
)
def test_false_friends(text: str, absent: str) -> None:
    raw, _ = lexicon_scores(text, "")
    assert raw[absent] == 0.0


# A decisive term of a field outweighs the model's own field (the model said economy,
# technology or sports: ANT files environment news on its science pages) or the prior (the
# model said culture, by too little to overcome the politics prior).
@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("ذوبان الجليد في القطب الشمالي يرفع مستوى سطح البحر", "environment"),
        ("انقراض الدببة القطبية بسبب ذوبان الجليد", "environment"),
        ("تلوث الهواء يقتل الملايين سنويا", "environment"),
        ("رسام كاريكاتير يسخر من الغلاء", "culture"),
    ],
)
def test_the_lexicons_name_a_field(title: str, expected: str) -> None:
    raw, _ = lexicon_scores(title, "")
    model = default_model()
    assert model is not None
    guess = model.guess([("title", tokenize(title))])
    assert guess is not None and guess.topic not in {"politics", "security"}
    assert first_topic(raw, guess) == expected
    assert first_topic(raw, guess, fields=frozenset()) != expected  # the rule before
    labels = classify_topics(title, "")
    assert labels[0].code == expected
    assert labels[0].evidence and all(title[e.start : e.end] == e.text for e in labels[0].evidence)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        # the model says the news: a film about a war stays with the war
        ("فيلم وثائقي عن قصف المدنيين في الحرب", "security"),
        # the field's term is not the lexicons' best: the prices decide (a headline that
        # opens with «كاريكاتير:» is a caricature, culture: test_topic_genres.py)
        ("الأسعار ترتفع والرواتب لا في كاريكاتير اليوم", "economy"),
    ],
)
def test_a_field_word_alone_does_not_decide(title: str, expected: str) -> None:
    raw, _ = lexicon_scores(title, "")
    assert max(raw["culture"], raw["environment"]) > 0.0
    labels = classify_topics(title, "")
    assert labels[0].code == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"environment": FIELD_MIN}, "environment"),
        ({"environment": FIELD_MIN - 0.5}, None),  # no decisive term: the decision before
        ({"environment": FIELD_MIN, "technology": FIELD_MIN / FIELD_LEAD}, "environment"),
        ({"environment": FIELD_MIN, "technology": FIELD_MIN / FIELD_LEAD + 0.5}, None),
        ({"culture": 2 * FIELD_MIN, "environment": FIELD_MIN}, "culture"),
        ({"health": 2 * FIELD_MIN}, "health"),
        ({"health": FIELD_MIN, "environment": FIELD_MIN / FIELD_LEAD + 0.5}, None),
    ],
)
def test_a_field_needs_a_decisive_lead(raw: dict[str, float], expected: str | None) -> None:
    title = "انقراض الدببة القطبية بسبب ذوبان الجليد"  # the model: technology
    model = default_model()
    assert model is not None
    guess = model.guess([("title", tokenize(title))])
    assert guess is not None
    before = first_topic(raw, guess, fields=frozenset())
    assert before not in {"environment", "culture"}
    assert first_topic(raw, guess) == (expected or before)


def _guess(title: str) -> Guess:
    model = default_model()
    assert model is not None
    guess = model.guess([("title", tokenize(title))])
    assert guess is not None
    return guess


# Health is a field too: the model, trained on ANT whose science section files health news,
# says technology (or the prior says politics) where a decisive health term says health.
@pytest.mark.parametrize(
    "title",
    [
        "تفشي الكوليرا في القرى ونقص اللقاحات",
        "حملة تطعيم ضد شلل الأطفال تستهدف مليون طفل",
        "دراسة: التدخين يضاعف خطر الإصابة بالسرطان",
        "الصحة العالمية تحذر من انتشار الحصبة",
        "ارتفاع الإصابات بالملاريا في المناطق الريفية",
        "مرضى السكري أكثر عرضة للجلطة",
        "علاج جديد لمرض الزهايمر يبطئ فقدان الذاكرة",
    ],
)
def test_health_is_a_field(title: str) -> None:
    raw, _ = lexicon_scores(title, "")
    guess = _guess(title)
    assert guess.topic not in {"health", "politics", "security"}
    assert first_topic(raw, guess, fields=LEXICON_FIELDS - {"health"}) != "health"
    assert first_topic(raw, guess) == "health"
    labels = classify_topics(title, "")
    assert labels[0].code == "health"
    assert labels[0].evidence and all(title[e.start : e.end] == e.text for e in labels[0].evidence)


# Health words in the news stay with the news: a health minister's politics, a hospital bombed
# (the model itself says politics or security), and a hospital stormed, where the model's own
# topic is health or technology but security comes first once the prior is added. Two of the
# bombed and stormed hospitals no longer need that: since the security words of issue 15's
# short posts («تقصف», «طائرات حربية», «الرصاص»), the lexicons themselves no longer name health
# there, and the model retrained with them says security for security forces storming one (and,
# retrained with first sentences too in round five, for gunmen storming one).
@pytest.mark.parametrize(
    ("title", "expected", "model_says_news", "health_leads"),
    [
        ("وزير الصحة: الحكومة لن تستقيل والانتخابات في موعدها", "politics", True, False),
        ("وزير الصحة يتهم المعارضة بعرقلة الإصلاحات في البرلمان", "politics", True, False),
        ("قصف مستشفى في إدلب يقتل خمسة مدنيين", "security", True, False),
        ("غارة جوية تدمر مستشفى ميدانيا ومقتل ممرضين", "security", True, False),
        ("صاروخ يصيب مستشفى الأطفال ويقتل ثلاثة", "security", True, False),
        ("طائرات حربية تقصف مستشفى الولادة في حلب", "security", False, False),
        ("قوات الأمن تقتحم مستشفى وتطلق الرصاص الحي على الأطباء", "security", True, False),
        ("مسلحون يقتحمون مستشفى ويطلقون النار على المرضى", "security", True, True),
    ],
)
def test_health_words_in_the_news_stay(
    title: str, expected: str, model_says_news: bool, health_leads: bool
) -> None:
    raw, _ = lexicon_scores(title, "")
    assert raw["health"] >= FIELD_MIN  # a decisive health term is there
    lead = raw["health"] >= FIELD_LEAD * max(v for t, v in raw.items() if t != "health")
    assert lead == health_leads
    guess = _guess(title)
    assert (guess.topic in {"politics", "security"}) == model_says_news
    if not model_says_news:  # the model says health or technology, the prior's security holds
        assert first_topic(raw, guess, fields=frozenset()) == expected
    assert first_topic(raw, guess) == expected
    assert classify_topics(title, "")[0].code == expected
