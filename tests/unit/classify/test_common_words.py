"""Place names that are also ordinary words (issue 15): used as words they make no region;
after a place cue, or with another firm mention of the country, they do. One case per word
of `common_words` in streams/data/places_curated.yaml (a word added there needs one here)."""

from __future__ import annotations

import pytest
import yaml

from streams.classify.places import classify_regions, locate
from streams.resources import data_file

# word: (as a word, in a story about somewhere else; as a place; the place's country)
CASES = {
    "دوما": (
        "أكد مدير الشركة أنها تسعى دوما إلى تقديم أفضل الخدمات في الأسواق الأوروبية",
        "قصفت الطائرات مدينة دوما صباح اليوم",
        "SY",
    ),
    "حديثة": (
        "اشترت الشركة معدات حديثة لتطوير مصانعها في ألمانيا",
        "سيطر المسلحون على قضاء حديثة بعد اشتباكات عنيفة",
        "IQ",
    ),
    "بصرية": (
        "أطلقت الشركة شبكة ألياف بصرية جديدة في اليابان",
        "وصل الوفد إلى البصرة لبحث مشاريع الشركات البصرية",
        "IQ",
    ),
    "القائم": (
        "قال الوزير إن الخلاف القائم بين الشركتين في فرنسا سيحل قريبا",
        "عبرت الشاحنات الحدود في القائم غربي البلاد",
        "IQ",
    ),
    "حماة": (
        "أشاد الرئيس الفرنسي بدور حماة البيئة في حماية الغابات",
        "وصلت التعزيزات إلى ريف حماة الشمالي",
        "SY",
    ),
    "القصير": (
        "يعرض الفيلم القصير في مهرجان كان السينمائي في فرنسا",
        "عاد مئات النازحين إلى مدينة القصير",
        "SY",
    ),
    "الميادين": (
        "امتلأت الميادين بالمحتفلين في القاهرة بعد فوز المنتخب المصري",
        "قصفت طائرات مسيرة مواقع في الميادين شرقي البلاد",
        "SY",
    ),
    "العمارة": (
        "فاز المهندس الياباني بجائزة العمارة الدولية في طوكيو",
        "خرج المتظاهرون في العمارة مطالبين بتحسين الخدمات",
        "IQ",
    ),
    "هيت": (
        "تصدرت الأغنية قوائم الهيت في بريطانيا هذا الأسبوع بعد أن غناها هيت مع فرقته",
        "أعلنت الشرطة فرض حظر التجوال في قضاء هيت غربي الأنبار",
        "IQ",
    ),
    "تركي": (
        # a first name; a nationality is never place-cued («من تركي» is "of Turki")
        "قال رجل الأعمال في القاهرة إنه لا يخاف من تركي آل الشيخ رئيس هيئة الرياضة",
        "قال مسؤول تركي إن أنقرة سترد على الهجوم",
        "TR",
    ),
    "سيرت": (
        "سيرت الإمارات قافلة مساعدات إلى النازحين في ليبيا",
        "قصفت الطائرات مواقع في سيرت جنوب شرقي البلاد",
        "TR",
    ),
    "الشامية": (
        "قدم المطعم في لندن أطباق المطبخ التركي والأكلات الشامية",
        "اندلع حريق في سوق داخل الشامية جنوب المدينة",
        "IQ",
    ),
}


def codes(text: str) -> list[str]:
    return [label.code for label in classify_regions("", text)]


def counted(text: str, word: str) -> set[str]:
    """Countries for which `word` counted as evidence (about or only mentioned)."""
    regions = locate("", text)
    return {
        label.code
        for label in (*regions.about, *regions.mentioned)
        if any(word[:-1] in e.text for e in label.evidence)
    }


def test_every_common_word_has_a_case() -> None:
    curated = yaml.safe_load(data_file("places_curated.yaml").read_text(encoding="utf-8"))
    assert set(curated["common_words"]) == set(CASES)


@pytest.mark.parametrize("word", sorted(CASES))
def test_a_common_word_is_a_place_only_with_a_cue(word: str) -> None:
    as_word, as_place, country = CASES[word]
    assert word in as_word or word[:-1] in as_word
    assert country not in counted(as_word, word)
    assert country in counted(as_place, word)


def test_a_firm_mention_of_the_country_supports_the_word() -> None:
    # no cue right before «حديثة», but the article is plainly about Iraq
    assert codes("قالت الحكومة العراقية إن حديثة تحتاج إلى مشاريع إعمار") == ["IQ"]


def test_a_bare_la_is_not_a_locative_proclitic() -> None:
    # «لهيت» "for (Miami) Heat"; «بهيت» "in Hit" is a place
    assert "IQ" not in counted("سجل اللاعب 20 نقطة في خسارة لهيت أمام بوسطن", "هيت")
    assert "IQ" in counted("انفجرت عبوة ناسفة بهيت صباح اليوم", "هيت")
