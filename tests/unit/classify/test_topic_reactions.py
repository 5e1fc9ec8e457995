"""Security on one-line news (issue 15, round ten): a reaction to violence, or talks about it, is
politics by Rasid's definition (a government's condemnation, welcome, call, mediation, talks,
summit or conference about a conflict), so when the model and its prior put security first, a
headline holding a word of the lexicons' `reactions` and no decisive security term
(`REACTION_MAX`) puts politics first, the word its first evidence; and the words of accidents
and violent crime the lexicons lacked. Lines written for these tests: the reaction lines come
out security without the rule (checked against the tree before it)."""

from __future__ import annotations

import pytest

from streams.classify import topics
from streams.classify.topics import REACTION_MAX, TITLE_WEIGHT, classify_topics, lexicon_scores
from streams.text.arabic import tokenize


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("البحرين تدين تحليق طائرات إيرانية فوق الحدود", "تدين"),
        ("والبحرين تدين تحليق طائرات إيرانية فوق الحدود", "تدين"),  # a proclitic first
        ("عاجل | البحرين تدين تحليق طائرات إيرانية فوق الحدود", "تدين"),
        ("البحرين تندد بالمناورات العسكرية في مضيق هرمز", "تندد"),
        ("طهران ترحب بانتهاء المناورات العسكرية في مضيق هرمز", "ترحب"),
        ("البحرين تدعو إلى وقف الحشود العسكرية على الحدود", "تدعو"),
        ("مساع لوقف نشر صواريخ قرب الحدود", "مساع"),
        ("وساطة لوقف تحليق طائرات إيرانية فوق الحدود", "وساطة"),
        ("تفاهمات حول نشر صواريخ قرب الحدود", "تفاهمات"),
        ("مؤتمر حول المناورات العسكرية في مضيق هرمز", "مؤتمر"),
        ("مفاوضات حول المناورات العسكرية في مضيق هرمز", "مفاوضات"),
        ("قمة خليجية حول المناورات العسكرية في مضيق هرمز", "قمة"),
        ("الإدانة الخليجية للمناورات العسكرية في مضيق هرمز", "الإدانة"),
        ("الكويت تقدم التعازي في ضحايا الحشود العسكرية على الحدود", "التعازي"),
    ],
)
def test_a_reaction_or_talks_about_military_matters_is_politics(text: str, word: str) -> None:
    found = classify_topics(text, "")
    assert found[0].code == "politics"
    assert found[0].evidence[0].text == word
    assert found[0].evidence[0].field == "title"
    assert lexicon_scores(text, "")[0]["security"] < REACTION_MAX  # no decisive term


@pytest.mark.parametrize(
    "text",
    [
        # no reaction word: the same matters stay security
        "تحليق طائرات إيرانية فوق الحدود",
        "الحشود العسكرية على الحدود",
        "البحرين ترفض تحليق طائرات إيرانية فوق الحدود",  # a refusal is no reaction word
        "البحرين تحذر من تحليق طائرات إيرانية فوق الحدود",  # a warning: a threat is security
        # a reaction to an event reported with a decisive term
        "مقتل جنديين في قصف على الحدود والبحرين تدين",
        "البحرين تدين غارات جوية على الحدود",
    ],
)
def test_security_stays_first_without_a_reaction_or_with_an_event(text: str) -> None:
    assert classify_topics(text, "")[0].code == "security"


def test_only_the_headline_is_read_for_a_reaction() -> None:
    title = "الحشود العسكرية على الحدود"
    assert classify_topics(title, "البحرين تدين تحليق طائرات إيرانية فوق الحدود")[0].code == (
        "security"
    )
    # without a title the body is the headline
    assert classify_topics("", "البحرين تدين تحليق طائرات إيرانية فوق الحدود")[0].code == (
        "politics"
    )


@pytest.mark.parametrize(
    ("text", "index"),
    [
        ("البحرين تدين الهجوم", 1),
        ("وتدين البحرين الهجوم", 0),
        ("بدء المفاوضات اليوم", 1),
        ("عقد المؤتمر في الدوحة", 1),
        ("أمسك الطفل اليدين", None),  # «اليدين», the hands: no article form of a verb
        ("الهجوم على الحدود", None),
    ],
)
def test_reaction_finds_the_words_as_the_lexicons_match_them(text: str, index: int) -> None:
    assert topics.reaction(tokenize(text)) == index


def test_reactions_are_single_words() -> None:
    with pytest.raises(ValueError, match="single words"):
        topics._build({"topics": {}, "reactions": ["وقف إطلاق"]})
    with pytest.raises(ValueError, match="single words"):
        topics._build({"topics": {}, "reactions": ["تدين*"]})


def _security_terms(text: str) -> list[str]:
    _, found = lexicon_scores(text, "")
    out = []
    for _, tokens, original, first, end, found_topics in found:
        if "security" in found_topics:
            start, stop = tokens.span(first, end)
            out.append(original[start:stop])
    return out


@pytest.mark.parametrize(
    ("text", "term", "weight"),
    [
        ("تحطم طائرة ركاب بعد إقلاعها", "تحطم طائرة", 3),
        ("ستة قتلى في تحطم مروحية", "تحطم مروحية", 3),
        ("سقوط طائرة تدريب في الصحراء", "سقوط طائرة", 2),
        ("هبوط اضطراري لطائرة ركاب", "هبوط اضطراري", 2),
        ("وفاة ثلاثة في حادث سير", "حادث سير", 2),
        ("إصابة خمسة في حادث مروري", "حادث مروري", 2),
        ("خروج قطار عن القضبان", "خروج قطار", 3),
        ("غرق قارب يقل مهاجرين", "غرق قارب", 2),
        ("عملية طعن في محطة قطارات", "عملية طعن", 3),
        ("حادث طعن في سوق المدينة", "حادث طعن", 3),
        ("حادثة طعن في سوق المدينة", "حادثة طعن", 3),
        ("هاجم المارة بسكين", "بسكين", 2),
        ("إطلاق النار على سفارة", "إطلاق النار", 3),
        ("حادث إطلاق نار في مدرسة", "حادث إطلاق نار", 3),
        ("عشرة لقوا حتفهم في الحادث", "لقوا حتفهم", 2),
        ("سائق لقي حتفه على الطريق", "لقي حتفه", 2),
        ("اندلاع حريق في مبنى", "اندلاع حريق", 2),
        ("تصادم سفينتين في البحر", "تصادم", 1),
        ("اصطدام سيارة بحاجز", "اصطدام", 1),
    ],
)
def test_words_of_accidents_and_violent_crime_are_security(
    text: str, term: str, weight: int
) -> None:
    assert term in _security_terms(text)  # the whole phrase, not a word of it
    assert lexicon_scores(text, "")[0]["security"] >= weight * TITLE_WEIGHT
