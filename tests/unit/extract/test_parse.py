"""Raw page → ParsedArticle: the Baghdad Today dump, generic dumps, HTML, failures."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from streams.extract.parse import ParseError, parse_article
from streams.model import ParsedArticle
from streams.text.arabic import normalize

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
BAGHDAD = timezone(timedelta(hours=3))
SAMPLE = (FIXTURES / "baghdadtoday-2024-12-01-sayyida-zaynab.txt").read_text(encoding="utf-8")
HTML_PAGE = (FIXTURES / "arabic-news-page.html").read_text(encoding="utf-8")

SAMPLE_TITLE = "الفصائل تعلق على أحداث سوريا: منطقة السيدة زينب خط احمر ولن نتوانى بالدفاع عنها"
TICKER_BITS = [
    "القمة الخليجية",
    "الكويت",
    "تيك توك",
    "العفو العام",
    "مذكرة تفاهم",
    "آخر الأخبار",
]


def _sample(fetched_at: datetime | None = None) -> ParsedArticle:
    return parse_article(SAMPLE, tz=BAGHDAD, fetched_at=fetched_at)


# --- the Baghdad Today sample --------------------------------------------------------------


@pytest.mark.parametrize(
    "fetched_at",
    [
        None,
        datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        datetime(2024, 12, 1, 8, 0, tzinfo=BAGHDAD),
        datetime(2020, 1, 1),  # naive
    ],
)
def test_sample_metadata(fetched_at: datetime | None) -> None:
    article = _sample(fetched_at)
    assert article.title == SAMPLE_TITLE
    assert article.section == "أمن"
    assert article.dateline == "بغداد"
    # «اليوم, 10:39» is the article's own today: «اليوم الاحد (1 كانون الأول 2024)»
    assert article.published_at == datetime(2024, 12, 1, 10, 39, tzinfo=BAGHDAD)
    assert article.published_at is not None
    assert article.published_at.utcoffset() == timedelta(hours=3)


@pytest.mark.parametrize("bit", [*TICKER_BITS, "+A", "-A", "أمن |", "10:39"])
def test_sample_has_no_chrome(bit: str) -> None:
    article = _sample()
    assert bit not in article.title
    assert bit not in article.body


def test_sample_body() -> None:
    body = _sample().body
    paragraphs = body.split("\n\n")
    assert len(paragraphs) == 7
    assert paragraphs[0].startswith("اكد مصدر مقرب من الفصائل")
    assert paragraphs[-1].endswith("بحسب وصفه.")
    assert body == body.strip()
    assert all(p == p.strip() and p for p in paragraphs)
    assert "بغداد اليوم - بغداد" not in body  # the dateline line
    assert SAMPLE_TITLE not in body
    assert "\xa0" not in body[:1]


def test_sample_given_title_wins() -> None:
    article = parse_article(SAMPLE, tz=BAGHDAD, title="  عنوان من الخلاصة  ")
    assert article.title == "عنوان من الخلاصة"
    assert SAMPLE_TITLE not in article.body  # the page's own headline is still not body text
    assert article.body.startswith("اكد مصدر")


def test_sample_in_other_timezone() -> None:
    article = parse_article(SAMPLE, tz=UTC)
    assert article.published_at == datetime(2024, 12, 1, 10, 39, tzinfo=UTC)


# --- other plain-text layouts -----------------------------------------------------------------

GENERIC = """انطلاق معرض الكتاب الدولي في القاهرة بمشاركة واسعة

القاهرة - افتتح وزير الثقافة المصري، صباح اليوم، فعاليات معرض القاهرة الدولي للكتاب.

ويشارك في المعرض أكثر من ألف ناشر من خمسين دولة.
"""

EXPLICIT_DATE = """عاجل
انقطاع الكهرباء عن مناطق واسعة من البصرة

انقطاع التيار الكهربائي عن أحياء البصرة بسبب موجة الحر
الأربعاء ١٧ تموز ٢٠٢٤ - ٠٣:٢٠ م
البصرة - متابعة
طباعة مشاركة
أعلنت مديرية توزيع كهرباء البصرة عن انقطاع التيار في عدد من الأحياء.
وقالت المديرية في بيان إن الفرق الفنية تعمل على إعادة التيار.
تابعنا على تيليجرام
© 2024 جميع الحقوق محفوظة
"""

RELATIVE_ONLY = """ارتفاع أسعار الذهب في الأسواق المحلية بشكل ملحوظ

اقتصاد | اليوم, 09:15 |

سجلت أسعار الذهب ارتفاعا جديدا في أسواق العاصمة.

وعزا تجار السبب إلى ارتفاع الأسعار عالميا.
"""

AGO = """وصول وفد حكومي إلى أربيل لبحث ملف الرواتب المتأخرة

سياسة | منذ ساعتين |

وصل وفد حكومي رفيع إلى أربيل لبحث ملف رواتب موظفي الإقليم.
"""


def test_generic_dump_without_markers() -> None:
    article = parse_article(GENERIC, tz=BAGHDAD)
    assert article.title == "انطلاق معرض الكتاب الدولي في القاهرة بمشاركة واسعة"
    assert article.body.startswith("القاهرة - افتتح")
    assert article.body.endswith("خمسين دولة.")
    assert article.body.count("\n\n") == 1
    assert article.dateline == "القاهرة"  # inline «<place> - …»
    assert article.section is None
    assert article.published_at is None  # «صباح اليوم» alone states no date


def test_explicit_header_date_and_chrome() -> None:
    fetched = datetime(2026, 1, 1, tzinfo=BAGHDAD)
    article = parse_article(EXPLICIT_DATE, tz=BAGHDAD, fetched_at=fetched)
    assert article.title == "انقطاع التيار الكهربائي عن أحياء البصرة بسبب موجة الحر"
    assert article.published_at == datetime(2024, 7, 17, 15, 20, tzinfo=BAGHDAD)
    assert article.dateline == "البصرة"  # «<place> - <source>»
    assert article.body == (
        "أعلنت مديرية توزيع كهرباء البصرة عن انقطاع التيار في عدد من الأحياء."
        "\n\nوقالت المديرية في بيان إن الفرق الفنية تعمل على إعادة التيار."
    )
    for chrome in ("عاجل", "مناطق واسعة", "طباعة", "تابعنا", "©", "متابعة"):
        assert chrome not in article.body


@pytest.mark.parametrize(
    ("fetched_at", "expected"),
    [
        (datetime(2025, 3, 2, 20, 0, tzinfo=BAGHDAD), datetime(2025, 3, 2, 9, 15, tzinfo=BAGHDAD)),
        # 22:00 UTC on 2 March is already 3 March in Baghdad
        (datetime(2025, 3, 2, 22, 0, tzinfo=UTC), datetime(2025, 3, 3, 9, 15, tzinfo=BAGHDAD)),
        (None, None),  # relative time, nothing to anchor it
    ],
)
def test_relative_time_uses_fetched_at(
    fetched_at: datetime | None, expected: datetime | None
) -> None:
    article = parse_article(RELATIVE_ONLY, tz=BAGHDAD, fetched_at=fetched_at)
    assert article.section == "اقتصاد"
    assert article.published_at == expected
    assert article.title == "ارتفاع أسعار الذهب في الأسواق المحلية بشكل ملحوظ"
    assert "09:15" not in article.body


def test_ago_uses_fetched_at() -> None:
    fetched = datetime(2025, 3, 2, 20, 0, tzinfo=BAGHDAD)
    article = parse_article(AGO, tz=BAGHDAD, fetched_at=fetched)
    assert article.section == "سياسة"
    assert article.published_at == datetime(2025, 3, 2, 18, 0, tzinfo=BAGHDAD)
    assert article.body == "وصل وفد حكومي رفيع إلى أربيل لبحث ملف رواتب موظفي الإقليم."


def test_single_block_dump_with_ticker() -> None:
    text = (
        "الأكثر قراءة\n"
        "خبر جانبي عن مباراة كرة القدم في الدوري\n"
        "تعديل وزاري مرتقب يشمل أربع حقائب في الحكومة\n"
        "سياسة | 2025/02/10 |\n"
        "A+ A-\n"
        "أفادت مصادر سياسية بقرب إجراء تعديل وزاري.\n"
    )
    article = parse_article(text, tz=BAGHDAD)
    assert article.title == "تعديل وزاري مرتقب يشمل أربع حقائب في الحكومة"
    assert article.body == "أفادت مصادر سياسية بقرب إجراء تعديل وزاري."
    assert article.published_at == datetime(2025, 2, 10, tzinfo=BAGHDAD)
    assert "مباراة" not in article.title + article.body


@pytest.mark.parametrize(
    "text",
    [
        "عاجل | مقتل ثلاثة عناصر أمن بهجوم في ديالى",
        "قال مسؤول عراقي في بغداد إن الوضع الأمني مستقر.",
    ],
)
def test_short_post_is_its_own_title_and_body(text: str) -> None:
    article = parse_article(text, tz=BAGHDAD)
    assert article.body
    assert article.title
    assert article.title in text
    assert article.body in text


def test_long_first_line_gives_a_sentence_title() -> None:
    text = (
        "أعلنت وزارة الصحة تسجيل إصابات جديدة. "
        + "وأضافت الوزارة أن الوضع الصحي مستقر في جميع المحافظات وأن الفرق تعمل. " * 8
    )
    article = parse_article(text, tz=BAGHDAD)
    assert article.title == "أعلنت وزارة الصحة تسجيل إصابات جديدة."
    assert article.body == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\n  \t ",
        "آخر الأخبار\nخبر أول في الشريط خبر ثاني في الشريط",
        "+A -A\n\nطباعة مشاركة\n\nتابعنا على فيسبوك\n\n© 2024 جميع الحقوق محفوظة",
    ],
)
def test_nothing_usable_raises(text: str) -> None:
    with pytest.raises(ParseError):
        parse_article(text, tz=BAGHDAD)


@pytest.mark.parametrize(
    ("text", "news"),
    [
        # taken for a section/time line («اليوم» is a date)
        ("#رقم_اليوم | 12 مليار دولار حجم التبادل التجاري بين #العراق وتركيا", "12 مليار دولار"),
        # taken for a dateline («X – …»)
        ("#بالأرقام – كلفة إعادة إعمار الموصل القديمة", "كلفة إعادة إعمار"),
        ("برنامج المرصد – الحلقة الأخيرة عن مياه دجلة", "مياه دجلة"),
        # the line under a lone «عاجل |» is the breaking news, not a ticker item
        ("عاجل | \nقوات الأمن تغلق الطرق المؤدية إلى المنطقة الخضراء في #بغداد", "المنطقة الخضراء"),
        ("خبر عاجل\nانفجار قرب ساحة التحرير وسط بغداد", "ساحة التحرير"),
        ("RT @SomeDesk: عاجل | قوات الأمن تغلق الطرق في #بغداد", "تغلق الطرق"),
    ],
)
def test_a_short_post_is_its_own_article(text: str, news: str) -> None:
    """Issue 15: a tweet or breaking line whose only line looked like page furniture was
    dead-lettered as chrome; it is the only text there is, so it is the article."""
    article = parse_article(text, tz=BAGHDAD)
    assert news in article.body
    assert article.title


def test_parse_error_is_value_error() -> None:
    assert issubclass(ParseError, ValueError)


# --- HTML ----------------------------------------------------------------------------------


def test_html_page_through_trafilatura() -> None:
    article = parse_article(
        HTML_PAGE,
        content_type="text/html; charset=utf-8",
        tz=BAGHDAD,
        fetched_at=datetime(2026, 11, 28, tzinfo=UTC),
    )
    assert article.title == "ارتفاع منسوب نهر دجلة يثير مخاوف المزارعين في الموصل"
    # trafilatura drops the byline; the Arabic date there is parsed from the visible text
    assert article.published_at == datetime(2025, 1, 14, 16, 15, tzinfo=BAGHDAD)
    assert article.section == "محليات"
    assert article.dateline == "الموصل"
    paragraphs = article.body.split("\n\n")
    assert len(paragraphs) == 4
    assert paragraphs[0].startswith("الموصل - أبدى مزارعون")
    assert paragraphs[-1].endswith("جنوبي المحافظة.")


@pytest.mark.parametrize(
    "chrome",
    [
        "الرئيسية",
        "رياضة",
        "آخر الأخبار",
        "رواتب الموظفين",
        "بورصة الكفاح",
        "الأكثر قراءة",
        "القمة الخليجية",
        "تيك توك",
        "طباعة",
        "تابعنا",
        "جميع الحقوق محفوظة",
        "شبكة الرافدين",
    ],
)
def test_html_page_has_no_chrome(chrome: str) -> None:
    article = parse_article(HTML_PAGE, content_type="text/html", tz=BAGHDAD)
    assert chrome not in article.body
    assert chrome not in article.title


def test_html_structured_date_wins() -> None:
    page = HTML_PAGE.replace(
        '<meta name="viewport"',
        '<meta property="article:published_time" content="2025-01-14T13:00:00+00:00">\n'
        '<meta property="article:section" content="تقارير">\n<meta name="viewport"',
    )
    article = parse_article(page, content_type="text/html", tz=BAGHDAD)
    assert article.published_at == datetime(2025, 1, 14, 16, 0, tzinfo=BAGHDAD)
    assert article.title == "ارتفاع منسوب نهر دجلة يثير مخاوف المزارعين في الموصل"


def test_html_given_title_wins() -> None:
    article = parse_article(HTML_PAGE, content_type="text/html", title="عنوان الخلاصة", tz=UTC)
    assert article.title == "عنوان الخلاصة"
    assert article.body.startswith("الموصل - أبدى")


def test_html_is_sniffed_when_type_is_unknown() -> None:
    article = parse_article(HTML_PAGE, content_type="application/octet-stream", tz=BAGHDAD)
    assert article.title == "ارتفاع منسوب نهر دجلة يثير مخاوف المزارعين في الموصل"
    assert "<p>" not in article.body


def test_broken_html_still_parses() -> None:
    broken = (
        "<html><head><title>عنوان الصفحة</title><body><div class='x'>"
        "<h1>حريق في سوق الشورجة وسط بغداد<p>اندلع حريق كبير في سوق الشورجة، "
        "صباح اليوم الاثنين (3 شباط 2025)، وهرعت فرق الدفاع المدني إلى المكان."
        "<p>ولم تسجل إصابات بشرية <b>حتى الآن<div></span></td>"
    )
    article = parse_article(broken, content_type="text/html", tz=BAGHDAD)
    assert article.title == "حريق في سوق الشورجة وسط بغداد"
    assert "اندلع حريق كبير" in article.body
    assert "<" not in article.body
    # no time anywhere: the article's stated «today» at midnight
    assert article.published_at == datetime(2025, 2, 3, tzinfo=BAGHDAD)


@pytest.mark.parametrize(
    "page",
    [
        "",
        "<html></html>",
        "<<<>>><div",
        "\x00\x01<html><body><p>",
        "<html><body><nav><a>الرئيسية</a></nav><p>© 2025 جميع الحقوق محفوظة</p></body></html>",
        "<?xml version='1.0' encoding='utf-8'?><html><body></body></html>",
        "<html><body><script>var x = '<p>نص</p>';</script></body></html>",
    ],
)
def test_unusable_html_raises_parse_error_only(page: str) -> None:
    with pytest.raises(ParseError):
        parse_article(page, content_type="text/html", tz=BAGHDAD)


def test_long_opening_paragraph_is_not_lost() -> None:
    first = "أكد المتحدث باسم الحكومة في مؤتمر صحفي عقده في بغداد " * 8
    text = f"{first.strip()}\n\nوأضاف أن الحكومة ماضية في تنفيذ برنامجها.\n"
    article = parse_article(text, tz=BAGHDAD)
    assert article.body.startswith(first[:40])
    assert "ماضية في تنفيذ برنامجها" in article.body


def test_html_page_wrapped_in_a_form() -> None:
    page = HTML_PAGE.replace("<main>", "<form id='aspnetForm'><main>").replace(
        "</main>", "</main></form>"
    )
    article = parse_article(page, content_type="text/html", tz=BAGHDAD)
    assert article.title == "ارتفاع منسوب نهر دجلة يثير مخاوف المزارعين في الموصل"
    assert article.published_at == datetime(2025, 1, 14, 16, 15, tzinfo=BAGHDAD)


def test_html_without_trafilatura_falls_back_to_visible_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import streams.extract.parse as parse_module

    monkeypatch.setattr(parse_module, "_trafilatura", lambda body: (None, None, None, []))
    article = parse_article(HTML_PAGE, content_type="text/html", tz=BAGHDAD)
    assert article.title == "ارتفاع منسوب نهر دجلة يثير مخاوف المزارعين في الموصل"
    assert article.section == "محليات"
    assert article.published_at == datetime(2025, 1, 14, 16, 15, tzinfo=BAGHDAD)
    assert article.body.startswith("الموصل - أبدى")
    for chrome in ("الرئيسية", "آخر الأخبار", "طباعة", "الأكثر قراءة", "تيك توك", "تابعنا"):
        assert chrome not in article.body


# --- the line checks that do not split a line into words --------------------------------------

_WORDS = re.compile(r"[^\W\d_]+|\d+")  # the parser's words

LINES = [
    "القاهرة - افتتح وزير الثقافة المصري، صباح اليوم، فعاليات معرض الكتاب .",
    "وقال المتحدث: «الخط الأحمر» هو 45 كيلومترا",
    "الـ45 يوما",
    "كلمة . - . ، !",
    "«» ... ، !",
    "",
    "a1b2 c_d",
    "كلمة" + " ." * 20,  # the last word is further back than the chunks looked at
    "+A -A",
    "A+ A-",
    "a",
    "طباعة مشاركة",
    "شارك الخبر على فيسبوك تويتر واتساب",
    "تابعنا على تيليجرام",
    "تابعونا على " + "كلمة " * 12,
    "© 2024 جميع الحقوق محفوظة",
    "جميع الحقوق محفوظة " + "كلمة " * 50,
    "الفصائل تعلق على أحداث سوريا: منطقة السيدة زينب خط احمر",
    "الفصائل تعلق على أحداث سوريا: منطقة السيدة زينب خط احمر ولن نتوانى بالدفاع عنها",
    "قال مصدر إن الفصائل تعلق على أحداث سوريا: منطقة السيدة زينب خط احمر ولن نتوانى",
]
HEADLINES = [
    "الفصائل تعلق على أحداث سوريا: منطقة السيدة زينب خط احمر ولن نتوانى بالدفاع عنها",
    "منطقة السيدة زينب خط احمر",
    "وقال المتحدث الخط الأحمر هو 45 كيلومترا",
    "الـ45 يوما",
    "تعلق على أحداث سوريا: منطقة السيدة زينب خط احمر ولن نتوانى بالدفاع عنها",
    "",
    "كلمة " * 45,  # more words than the cheap test looks at
]


def _line(text: str) -> Any:
    from streams.extract import parse

    return parse._Line(text, 0, normalize(text).strip())


@pytest.mark.parametrize("text", LINES)
def test_first_and_last_word_without_splitting(text: str) -> None:
    from streams.extract import parse

    line = _line(text)
    words = _WORDS.findall(line.norm)
    assert line.words == words
    assert line.first_word() == (words[0] if words else None)
    last = line.last_word()
    if last is not None:
        assert last == words[-1]
    else:  # only when its last few space-separated chunks have no word
        tail = line.norm.split(" ")[-parse._TAIL_CHUNKS :]
        assert not _WORDS.findall(" ".join(tail))


@pytest.mark.parametrize("headline", HEADLINES)
def test_headline_test_agrees_with_comparing_joined_words(headline: str) -> None:
    from streams.extract import parse

    h = parse._Headline(parse._joined(headline))
    for text in LINES:
        line = _line(text)
        expected = parse._same_joined(" ".join(_WORDS.findall(line.norm)), h.joined)
        assert h.same(line) is expected, text
        assert h.same(line) is expected  # the remembered answer


def _old_is_chrome_line(text: str, norm: str) -> bool:
    """The chrome test as first written: on all the words of the line."""
    from streams.extract import parse

    if parse._FONT_CONTROLS.fullmatch(norm.replace(" ", "")):
        return True
    words = _WORDS.findall(norm)
    if not words:
        return True
    if all(w in parse._CHROME_WORDS for w in words):
        return True
    if len(words) <= 12 and norm.startswith(parse._FOLLOW_PREFIXES):
        return True
    return len(text) <= 200 and any(m in norm for m in parse._COPYRIGHT_MARKERS)


@pytest.mark.parametrize("text", [t for t in LINES if t])
def test_chrome_test_agrees_with_the_word_by_word_one(text: str) -> None:
    from streams.extract import parse

    line = _line(text)
    assert parse._is_chrome_line(line) is _old_is_chrome_line(line.text, line.norm)


def test_headline_test_finds_equal_contained_and_containing_lines() -> None:
    from streams.extract import parse

    found = {
        (h, text)
        for h in HEADLINES
        for text in LINES
        if parse._Headline(parse._joined(h)).same(_line(text))
    }
    assert (HEADLINES[0], LINES[-2]) in found  # the same words
    assert (HEADLINES[0], LINES[-3]) in found  # the line is most of the headline
    # the headline is most of the line, whose first word is not in it
    assert (HEADLINES[4], LINES[-2]) in found
    assert (HEADLINES[3], LINES[2]) in found  # digits and letters
    assert (HEADLINES[1], LINES[-2]) not in found  # contained, but too short a part
    assert (HEADLINES[6], LINES[16]) in found


_C0 = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@pytest.mark.parametrize("noise", ["", "\x00", "\x07", "\x0b", "\x1b[0m", "\x7f", "\u00a0\x1f"])
def test_control_characters_are_dropped_wherever_they_are(noise: str) -> None:
    # A page that is printable but for tabs and line breaks skips the control scan; one with a
    # control beside other non-printable characters (a tab, «\r\n», a joiner) still loses it.
    page = "عنوان الخبر هنا\n\n\tقال مسؤول عراقي{}\u200cفي بغداد\r\nإن الاجتماع انتهى\n"
    noisy = parse_article(page.format(noise), tz=BAGHDAD)
    assert noisy == parse_article(page.format(_C0.sub("", noise)), tz=BAGHDAD)
    assert not _C0.search(noisy.body + noisy.title)
    assert "عراقي" + _C0.sub("", noise) + "\u200cفي بغداد" in noisy.body
