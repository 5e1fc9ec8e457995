"""Topics of short posts (issue 15): social-media furniture, the article on lexicon terms, the
words of violent events a breaking line uses. Lines written for these tests."""

from __future__ import annotations

import pytest

from streams.classify.topics import (
    CLEAN_MAX_CHARS,
    _build,
    classify_topics,
    clean,
    definite,
    lexicon_scores,
    lexicon_topics,
)
from streams.text.arabic import tokenize


def _blank(text: str) -> str:
    return " " * len(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RT @AJABreaking: عاجل | قصف", _blank("RT @AJABreaking:") + " عاجل | قصف"),
        ("قال @someone_1 إن", "قال " + _blank("@someone_1") + " إن"),
        (
            "التفاصيل: https://t.co/x1Y2z3 هنا",
            "التفاصيل: " + _blank("https://t.co/x1Y2z3") + " هنا",
        ),
        ("عبر www.example.com اليوم", "عبر " + _blank("www.example.com") + " اليوم"),
        ("#هجوم_مسلح على #كأس_العالم", "#هجوم مسلح على #كأس العالم"),
        ("#قصف__مدفعي", "#قصف  مدفعي"),
        # «_» between a letter and a digit, or at a word's edge, is no join; nothing else moves
        ("رقم_1 و _قصف و قصف_", "رقم_1 و _قصف و قصف_"),
        ("RTL @ 10 مقتل", "RTL @ 10 مقتل"),
        ("", ""),
    ],
)
def test_clean_blanks_furniture_and_splits_hashtags(text: str, expected: str) -> None:
    cleaned = clean(text)
    assert cleaned == expected
    assert len(cleaned) == len(text)  # every offset still points into the original


def test_a_long_text_keeps_its_furniture() -> None:
    # an article's body: a hashtag is a few words of hundreds, and a cleaned body could not
    # share the tokens the regions made of it
    filler = "وقال المتحدث في بيان " * 60
    short = "#هجوم_مسلح " + filler[: CLEAN_MAX_CHARS - 20]
    long = "#هجوم_مسلح " + filler
    assert len(short) <= CLEAN_MAX_CHARS < len(long)
    assert clean(short).startswith("#هجوم مسلح ")
    assert clean(long) is long


def test_a_hashtags_words_count_and_their_evidence_is_the_original() -> None:
    joined = "عاجل | #غارة_جوية على #ريف_إدلب"
    spaced = joined.replace("_", " ")
    assert lexicon_scores(joined, "")[0] == lexicon_scores(spaced, "")[0]
    assert lexicon_scores(joined, "")[0]["security"] > 0
    for labels in (lexicon_topics(joined, ""), classify_topics(joined, "")):
        assert labels[0].code == "security"
        evidence = labels[0].evidence
        assert evidence and all(joined[e.start : e.end] == e.text for e in evidence)
    assert "غارة_جوية" in {e.text for e in lexicon_topics(joined, "")[0].evidence}


def test_furniture_counts_for_nothing() -> None:
    post = "RT @AJABreaking: عاجل | قصف مدفعي على حي سكني https://t.co/AbC123"
    bare = "عاجل | قصف مدفعي على حي سكني"
    assert lexicon_scores(post, "")[0] == lexicon_scores(bare, "")[0]
    assert [lb.code for lb in classify_topics(post, "")] == [
        lb.code for lb in classify_topics(bare, "")
    ]
    labels = classify_topics(post, "")
    assert all(post[e.start : e.end] == e.text for lb in labels for e in lb.evidence)


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("هجوم", "الهجوم"),
        ("غارات", "الغارات"),
        ("الجيش", None),  # has it already
        ("اشتباك*", None),  # a prefix term matches with the article already
        ("عبوة ناسفة", None),  # a phrase: where the article goes depends on the phrase
        ("قم", None),
    ],
)
def test_the_definite_form_of_a_term(term: str, expected: str | None) -> None:
    assert definite(term) == expected


# A term written without the article matches with it, with its proclitics too; the words of
# `bare_only` do not («الهدف»: the aim; «الإبل»: camels), while their bare form still counts.
@pytest.mark.parametrize(
    ("text", "topic", "counts"),
    [
        ("القصف", "security", True),
        ("بالقصف", "security", True),
        ("والغارات", "security", True),
        ("المفاوضات", "politics", True),
        ("الهاتف", "technology", True),
        ("الهدف", "sports", False),
        ("الأهداف", "sports", False),
        ("الإبل", "technology", False),
        ("هدف", "sports", True),
        ("أبل", "technology", True),
    ],
)
def test_terms_match_with_the_article(text: str, topic: str, counts: bool) -> None:
    assert (lexicon_scores(text, "")[0][topic] > 0) == counts


def test_a_definite_form_written_in_the_lexicon_keeps_its_weight() -> None:
    # «جيش» weighs 1 and «الجيش» 2: the written form wins over the made one
    assert (
        lexicon_scores("الجيش", "")[0]["security"] == 2 * lexicon_scores("جيش", "")[0]["security"]
    )


# Words of violent events (issue 15), each alone in a line, and the false friends left out.
@pytest.mark.parametrize(
    "text",
    [
        "سقوط عشرين قتيلا",
        "طائرات حربية تقصف البلدة",
        "مجزرة في القرية",
        "قذائف على الحي",
        "متفجرات في سيارة",
        "مقاتلو المعارضة",
        "مداهمات ليلية",
        "حادث دهس",
    ],
)
def test_words_of_violent_events(text: str) -> None:
    raw, _ = lexicon_scores(text, "")
    assert raw["security"] > 0
    assert max(raw, key=lambda t: raw[t]) == "security"


@pytest.mark.parametrize(
    "text",
    [
        "الحكومة تستهدف خفض العجز",  # an economy's target
        "الموازنة يستهدف نمو الناتج",
        "قذيفة من المهاجم تهز الشباك",  # a shot
        "القناص يسجل هدفين",  # a striker
    ],
)
def test_false_friends_of_violent_events(text: str) -> None:
    raw, _ = lexicon_scores(text, "")
    assert raw["security"] == 0


def test_a_bare_only_word_must_be_a_term() -> None:
    doc = {"topics": {"sports": {"هدف": 3}}, "bare_only": ["هدف"]}
    assert _build(doc).index.matches(tokenize("الهدف")) == []
    assert _build({"topics": {"sports": {"هدف": 3}}}).index.matches(tokenize("الهدف"))
    with pytest.raises(ValueError, match="bare_only"):
        _build({"topics": {"sports": {"هدف": 3}}, "bare_only": ["أبل"]})


# A post or a breaking line reads like an article's lead (issue 15, round five: the model is
# trained on each ANT article's first sentence alone too). Leads written for this test, one per
# topic the model decides; the first topic and the model's evidence, quoted from the line.
@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("أعلنت وزارة الداخلية مقتل ثلاثة من عناصر الشرطة في هجوم مسلح على نقطة تفتيش", "security"),
        ("قال البنك المركزي إنه رفع سعر الفائدة نصف نقطة مئوية لكبح التضخم", "economy"),
        ("فاز المنتخب الوطني على نظيره بهدفين دون رد في المباراة التي أقيمت مساء أمس", "sports"),
        ("أطلقت الشركة هاتفها الذكي الجديد بشاشة أكبر وبطارية تدوم يومين", "technology"),
        (
            "التقى وزير الخارجية نظيره الفرنسي وبحثا العلاقات الثنائية والأوضاع في المنطقة",
            "politics",
        ),
        ("افتتح المهرجان السينمائي دورته الجديدة بعرض فيلم عن الهجرة بحضور نجوم عرب", "culture"),
        ("حذرت منظمة الصحة العالمية من تفشي وباء الكوليرا في المخيمات بعد الفيضانات", "health"),
        ("قضت المحكمة بسجن الصحفي خمس سنوات بتهمة نشر أخبار كاذبة", "justice"),
    ],
)
def test_a_lead_sentence_alone(text: str, topic: str) -> None:
    labels = classify_topics(text, "")
    assert labels and labels[0].code == topic
    assert labels[0].evidence
    assert all(text[e.start : e.end] == e.text for e in labels[0].evidence)
