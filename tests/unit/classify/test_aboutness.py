"""Regions an article is about vs countries it only mentions (issue 15)."""

from __future__ import annotations

import pytest

from streams.classify.places import locate


@pytest.mark.parametrize(
    ("title", "body", "about", "mentioned"),
    [
        (
            # a Dubai business story that mentions America once, late in the body
            "موانئ دبي تعلن أرباحا قياسية",
            "أعلنت شركة موانئ دبي العالمية أرباحا قياسية للعام الماضي بفضل نمو حركة الحاويات "
            "في ميناء جبل علي. وقال رئيس الشركة إن التوسع سيستمر خلال العام المقبل رغم تباطؤ "
            "التجارة العالمية، مضيفا أن الشركة تدرس فرصا جديدة للاستثمار وأن صادراتها إلى "
            "أمريكا ارتفعت.",
            ["AE"],
            ["US"],
        ),
        (
            # named in the title: about it, even if the body mentions it once
            "العراق وتركيا يبحثان ملف المياه",
            "بحث وزير الموارد المائية العراقي مع السفير التركي في بغداد ملف المياه.",
            ["IQ", "TR"],
            [],
        ),
        (
            # where it happens (first sentence) and named twice: about them; China once, later
            "اجتماع لوزراء الخارجية العرب",
            "ناقش الوزراء في القاهرة الأوضاع في اليمن، وأكدوا دعمهم لجهود السلام في اليمن "
            "والحلول السياسية للأزمة في المنطقة. وحضر الاجتماع ممثلون عن عدة دول، "
            "كما تطرق البيان الختامي إلى العلاقات مع الصين.",
            ["EG", "YE"],
            ["CN"],
        ),
        (
            # a country named once, late, and nowhere prominent is not what an article is
            # about, even when no other country is named (MIN_TOP)
            "دراسة جديدة عن النوم",
            "توصل باحثون إلى أن النوم الجيد يحسن الذاكرة لدى البالغين. وشملت الدراسة آلاف"
            " المتطوعين على مدى عشر سنوات، وقال الباحثون إن النتائج تؤكد أهمية النوم المبكر"
            " وإن الدراسة أجريت في فرنسا.",
            [],
            ["FR"],
        ),
        (
            # the title names it: about it, though the body names another country far more
            # often (HEADLINE_RELATIVE)
            "أسف فرنسي لإعلان ترامب فرض رسوم على الصلب",
            "وقع الرئيس الأمريكي دونالد ترامب قرار فرض رسوم على واردات الصلب إلى الولايات"
            " المتحدة. وقال البيت الأبيض إن القرار سيصبح نافذا بعد 15 يوما، وأوضح مسؤول"
            " أمريكي أن الولايات المتحدة ستتفاوض مع شركائها، فيما قالت واشنطن إن القرار نهائي.",
            ["FR", "US"],
            [],
        ),
        (
            # a later desk line starts another story appended to the page: its country is
            # only mentioned, however often it is named there
            "مصر تطلق برنامج الطروحات الحكومية",
            "دبي، الإمارات العربية المتحدة (CNN)-- أعلنت وزارة المالية المصرية بدء برنامج"
            " طروحات الشركات الحكومية في البورصة المصرية.\n"
            "دبي، الإمارات العربية المتحدة (CNN)-- أكد الرئيس التركي رجب طيب أردوغان أن تركيا"
            " سددت ديونها، وأن اقتصاد تركيا قوي، وأن الليرة التركية ستتعافى.",
            ["EG"],
            ["AE", "TR"],  # AE: the desk lines'
        ),
    ],
)
def test_about_and_mentioned(title: str, body: str, about: list[str], mentioned: list[str]) -> None:
    regions = locate(title, body)
    assert sorted(r.code for r in regions.about) == about
    assert sorted(r.code for r in regions.mentioned) == mentioned


def test_one_place_named_twice_counts_once() -> None:
    # «ريال مدريد الإسباني»: the club's city and its nationality are one mention of Spain
    once = locate("", "فاز فريق ريال مدريد على منافسه في المباراة").about
    twice = locate("", "فاز فريق ريال مدريد الإسباني على منافسه في المباراة").about
    assert [(r.code, r.score) for r in once] == [(r.code, r.score) for r in twice]
    assert len(twice[0].evidence) == 2  # both names are still shown


def test_a_list_of_three_countries_is_examples() -> None:
    body = (
        "قالت المنظمة إن الأطفال في مناطق النزاع يعانون أكثر من أي وقت مضى. وتتصدر سوريا"
        " وأفغانستان والصومال مناطق النزاع الأخطر على الأطفال."
    )
    assert [r.code for r in locate("", body).about] == []
    assert sorted(r.code for r in locate("", body).mentioned) == ["AF", "SO", "SY"]
