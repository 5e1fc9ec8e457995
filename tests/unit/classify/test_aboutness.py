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
    ],
)
def test_about_and_mentioned(title: str, body: str, about: list[str], mentioned: list[str]) -> None:
    regions = locate(title, body)
    assert sorted(r.code for r in regions.about) == about
    assert sorted(r.code for r in regions.mentioned) == mentioned
