"""Arabic date/time parsing: month systems, digits, relative forms, times, garbage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from streams.text.dates import find_first_date, find_stated_today, parse_arabic_datetime

BAGHDAD = timezone(timedelta(hours=3))
# Sunday 1 December 2024, 15:00 Baghdad time.
REF = datetime(2024, 12, 1, 15, 0, tzinfo=BAGHDAD)

LEVANTINE = [
    ("كانون الثاني", 1),
    ("شباط", 2),
    ("آذار", 3),
    ("نيسان", 4),
    ("أيار", 5),
    ("حزيران", 6),
    ("تموز", 7),
    ("آب", 8),
    ("أيلول", 9),
    ("تشرين الأول", 10),
    ("تشرين الثاني", 11),
    ("كانون الأول", 12),
]
EGYPTIAN = [
    ("يناير", 1),
    ("فبراير", 2),
    ("مارس", 3),
    ("أبريل", 4),
    ("ابريل", 4),
    ("إبريل", 4),
    ("مايو", 5),
    ("يونيو", 6),
    ("يونيه", 6),
    ("يوليو", 7),
    ("يوليه", 7),
    ("أغسطس", 8),
    ("سبتمبر", 9),
    ("أكتوبر", 10),
    ("نوفمبر", 11),
    ("ديسمبر", 12),
]


@pytest.mark.parametrize(("name", "month"), LEVANTINE + EGYPTIAN)
def test_every_month_name(name: str, month: int) -> None:
    text = f"الأحد 15 {name} 2024"
    assert find_first_date(text) == date(2024, month, 15)
    assert parse_arabic_datetime(text, tz=BAGHDAD) == datetime(2024, month, 15, tzinfo=BAGHDAD)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # combined month systems
        ("12 (كانون الأول) ديسمبر 2024", date(2024, 12, 12)),
        ("12 كانون الأول (ديسمبر) 2024", date(2024, 12, 12)),
        ("12 كانون الأول/ديسمبر 2024", date(2024, 12, 12)),
        ("3 ديسمبر - كانون الأول 2024", date(2024, 12, 3)),
        # Arabic-Indic and Persian digits
        ("١ كانون الأول ٢٠٢٤", date(2024, 12, 1)),
        ("۱۵ يناير ۲۰۲۵", date(2025, 1, 15)),  # Persian digits
        ("٢٠٢٤/١٢/٠١", date(2024, 12, 1)),
        # numeric forms
        ("2024/12/01", date(2024, 12, 1)),
        ("2024-12-01", date(2024, 12, 1)),
        ("01-12-2024", date(2024, 12, 1)),
        ("1/12/2024", date(2024, 12, 1)),
        ("01.12.2024", date(2024, 12, 1)),
        # spelling variants, diacritics, «عام», «من»
        ("الخميس ٥ أيّار عام ٢٠٢٢", date(2022, 5, 5)),
        ("في 7 من أكتوبر 2023", date(2023, 10, 7)),
        ("5 كانون ثاني 2021", date(2021, 1, 5)),
        # first of several
        ("بين 2 آب 2020 و 3 أيلول 2021", date(2020, 8, 2)),
        ("صدر في 2023/05/04، وعدل في 1 حزيران 2024", date(2023, 5, 4)),
    ],
)
def test_find_first_date(text: str, expected: date) -> None:
    assert find_first_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "لا يوجد تاريخ هنا",
        "1 كانون الأول",  # no year: not a full date
        "31 شباط 2024",  # no such day
        "2024/13/01",
        "15 جمادى الأولى 1446 هـ",  # Hijri month names are not supported
        "1446/05/29",  # nor Hijri years
        "الساعة 10:39",
        "رقم الهاتف 0770-123-4567",
    ],
)
def test_find_first_date_none(text: str) -> None:
    assert find_first_date(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("اليوم, 10:39", datetime(2024, 12, 1, 10, 39, tzinfo=BAGHDAD)),
        ("اليوم", datetime(2024, 12, 1, tzinfo=BAGHDAD)),
        ("أمس", datetime(2024, 11, 30, tzinfo=BAGHDAD)),
        ("امس 08:05", datetime(2024, 11, 30, 8, 5, tzinfo=BAGHDAD)),
        ("بالأمس", datetime(2024, 11, 30, tzinfo=BAGHDAD)),
        ("البارحة", datetime(2024, 11, 30, tzinfo=BAGHDAD)),
        ("أول أمس", datetime(2024, 11, 29, tzinfo=BAGHDAD)),
        ("منذ ساعة", datetime(2024, 12, 1, 14, 0, tzinfo=BAGHDAD)),
        ("منذ ساعتين", datetime(2024, 12, 1, 13, 0, tzinfo=BAGHDAD)),
        ("منذ 3 ساعات", datetime(2024, 12, 1, 12, 0, tzinfo=BAGHDAD)),
        ("منذ ٥ دقائق", datetime(2024, 12, 1, 14, 55, tzinfo=BAGHDAD)),
        ("منذ دقيقة", datetime(2024, 12, 1, 14, 59, tzinfo=BAGHDAD)),
        ("منذ خمس دقائق", datetime(2024, 12, 1, 14, 55, tzinfo=BAGHDAD)),
        ("منذ ساعة ونصف", datetime(2024, 12, 1, 13, 30, tzinfo=BAGHDAD)),
        ("منذ 2 ساعات و 15 دقيقة", datetime(2024, 12, 1, 12, 45, tzinfo=BAGHDAD)),
        ("قبل يومين", datetime(2024, 11, 29, 15, 0, tzinfo=BAGHDAD)),
        ("10:39", datetime(2024, 12, 1, 10, 39, tzinfo=BAGHDAD)),
        ("الجمعة", datetime(2024, 11, 29, tzinfo=BAGHDAD)),  # latest Friday before Sunday
        ("الأحد 09:00", datetime(2024, 12, 1, 9, 0, tzinfo=BAGHDAD)),
        ("1 آذار", datetime(2024, 3, 1, tzinfo=BAGHDAD)),  # year from the reference
        ("25 كانون الأول", datetime(2023, 12, 25, tzinfo=BAGHDAD)),  # not in the future
    ],
)
def test_relative_forms(text: str, expected: datetime) -> None:
    result = parse_arabic_datetime(text, tz=BAGHDAD, reference=REF)
    assert result == expected
    assert result is not None and result.utcoffset() == timedelta(hours=3)


@pytest.mark.parametrize(
    ("text", "hour", "minute"),
    [
        ("10:39", 10, 39),
        ("10:39 ص", 10, 39),
        ("10:39 م", 22, 39),
        ("10:39 صباحاً", 10, 39),
        ("10:39 مساءً", 22, 39),
        ("10:39 مساء", 22, 39),
        ("12:10 ص", 0, 10),
        ("12:10 م", 12, 10),
        ("١٠:٣٩ م", 22, 39),
        ("22:15", 22, 15),
        ("22:15 م", 22, 15),  # a 24-hour time with a redundant qualifier
        ("10:39 PM", 22, 39),
        ("1:05 ظهراً", 13, 5),
        ("10:00 ليلاً", 22, 0),
        ("الساعة 9 مساءً", 21, 0),
        ("الساعة 7 صباحا", 7, 0),
    ],
)
def test_times_with_am_pm(text: str, hour: int, minute: int) -> None:
    result = parse_arabic_datetime(f"1 كانون الأول 2024 {text}", tz=BAGHDAD)
    assert result == datetime(2024, 12, 1, hour, minute, tzinfo=BAGHDAD)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("الأحد 1 كانون الأول 2024 - 10:39", datetime(2024, 12, 1, 10, 39)),
        ("الاحد ١ كانون الاول ٢٠٢٤ - ١٠:٣٩ م", datetime(2024, 12, 1, 22, 39)),
        ("الثلاثاء 14 كانون الثاني (يناير) 2025 - 04:15 م", datetime(2025, 1, 14, 16, 15)),
        ("2024/12/01 10:39", datetime(2024, 12, 1, 10, 39)),
        ("01-12-2024 22:05:30", datetime(2024, 12, 1, 22, 5, 30)),
        ("نشر في: 5 حزيران 2023 الساعة 11:20 صباحا", datetime(2023, 6, 5, 11, 20)),
        # the weekday is tolerated even when wrong; the date decides
        ("الجمعة 1 كانون الأول 2024", datetime(2024, 12, 1)),
        # an explicit date beats a relative word
        ("اليوم الأحد (1 كانون الأول 2024)", datetime(2024, 12, 1)),
    ],
)
def test_absolute(text: str, expected: datetime) -> None:
    # the reference must not matter for absolute dates
    far = datetime(2030, 6, 6, 6, 6, tzinfo=BAGHDAD)
    result = parse_arabic_datetime(text, tz=BAGHDAD, reference=far)
    assert result == expected.replace(tzinfo=BAGHDAD)


def test_iso_and_timezones() -> None:
    assert parse_arabic_datetime("2024-12-01T10:39:00+03:00", tz=UTC) == datetime(
        2024, 12, 1, 7, 39, tzinfo=UTC
    )
    assert parse_arabic_datetime("2024-12-01T07:39:00Z", tz=BAGHDAD) == datetime(
        2024, 12, 1, 10, 39, tzinfo=BAGHDAD
    )
    cairo = ZoneInfo("Africa/Cairo")
    result = parse_arabic_datetime("1 ديسمبر 2024 10:39", tz=cairo)
    assert result is not None
    assert result.tzinfo is cairo
    assert result.utcoffset() == timedelta(hours=2)


def test_reference_is_taken_in_tz() -> None:
    # 23:30 UTC on 30 Nov is already 1 Dec in Baghdad
    ref = datetime(2024, 11, 30, 23, 30, tzinfo=UTC)
    assert parse_arabic_datetime("اليوم 10:39", tz=BAGHDAD, reference=ref) == datetime(
        2024, 12, 1, 10, 39, tzinfo=BAGHDAD
    )
    naive = datetime(2024, 12, 1, 15, 0)  # naive reference is local to tz
    assert parse_arabic_datetime("منذ ساعة", tz=BAGHDAD, reference=naive) == datetime(
        2024, 12, 1, 14, 0, tzinfo=BAGHDAD
    )


def test_default_reference_is_now() -> None:
    before = datetime.now(BAGHDAD)
    result = parse_arabic_datetime("منذ ساعتين", tz=BAGHDAD)
    after = datetime.now(BAGHDAD)
    assert result is not None
    assert before - timedelta(hours=2, seconds=1) <= result <= after - timedelta(hours=2)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "لا شيء هنا",
        "كلام عشوائي بلا معنى ١٢٣",
        "31 شباط 2024",
        "25:99",
        "منذ",
        "منذ زمن بعيد",
        "\x00\x01\x02",
        "<html><body>",
        "9999-99-99",
        "1 كانون الأول 3024",
        "٣٤٥٦٧٨٩",
    ],
)
def test_garbage_returns_none(text: str) -> None:
    assert parse_arabic_datetime(text, tz=BAGHDAD, reference=REF) is None


def test_non_string_returns_none() -> None:
    assert parse_arabic_datetime(None, tz=BAGHDAD) is None  # type: ignore[arg-type]
    assert find_first_date(12345) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("اكد مصدر، اليوم الاحد (1 كانون الأول 2024)، إعادة الانتشار", date(2024, 12, 1)),
        ("وذكر اليوم ١٥ أيار ٢٠٢٣ أن", date(2023, 5, 15)),
        ("كشف امس السبت (30 تشرين الثاني 2024)، عن", date(2024, 12, 1)),
        ("أعلنت الوزارة اليوم أن الاجتماع سيعقد في 5 آذار 2025", None),  # not «today»
        ("لا تاريخ", None),
    ],
)
def test_find_stated_today(text: str, expected: date | None) -> None:
    assert find_stated_today(text) == expected


# --- cheap checks before the regexes ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "اليوم الأحد",
        "  اليوم  الأحد ",
        "اليوم\tالأحد\n(1 كانون الأول 2024)",
        "اليوم\u00a0الأحد",  # folds to a space
        "اليوم\u2009الأحد\u3000",
        "\u200fاليوم الأحد\u200f",  # dropped marks at the edges
        "ـ اليوم",  # a dropped character before a space
        "",
        "   ",
        "اليوم  الأحد\n" * 40,  # longer than the texts remembered
        "اليوم الأحد " * 40,
    ],
)
def test_prepare_collapses_whitespace_as_the_regex_does(text: str) -> None:
    import re

    from streams.text import dates
    from streams.text.arabic import normalize

    assert dates._prepare(text) == re.sub(r"\s+", " ", normalize(text)).strip()


@pytest.mark.parametrize(
    "phrase",
    ["اول امس", "اول من امس", "امس الاول", "بالامس", "الامس", "وامس", "امس", "البارحه",
     "اليوم", "واليوم", "فاليوم"],
)  # fmt: skip
def test_every_relative_day_form_contains_a_core_word(phrase: str) -> None:
    # find_stated_today skips texts without one of these words before running the regex.
    from streams.text import dates

    assert dates._RELATIVE_DAY.fullmatch(phrase) is not None
    assert any(core in phrase for core in dates._RELATIVE_DAY_CORES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("امس السبت (30 تشرين الثاني 2024) قال", date(2024, 12, 1)),
        ("قال مسؤول اليوم الأحد ١ كانون الأول ٢٠٢٤", date(2024, 12, 1)),
        ("قال مسؤول في بيان", None),  # no «اليوم»/«أمس»: skipped before the regex
        ("اليوم الأحد", None),  # no date
    ],
)
def test_find_stated_today_with_and_without_a_relative_day(
    text: str, expected: date | None
) -> None:
    assert find_stated_today(text) == expected
