"""Arabic date and time parsing for news pages.

Arabic outlets write dates with two month systems, often both at once: the Syriac names used
in Iraq and the Levant («1 كانون الأول 2024») and the Latin-derived names used in Egypt and
the Gulf («1 ديسمبر 2024»), or combined («1 كانون الأول (ديسمبر) 2024»). Digits may be ASCII
or Arabic-Indic, times may carry «ص»/«م» (a.m./p.m.), and listing pages use relative forms
(«اليوم, 10:39», «أمس», «منذ ساعتين»).

All matching runs on `normalize`d text, so hamza, taa marbuta, diacritics and digit variants
do not matter. The functions never raise on bad input: they return None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from streams.text.arabic import normalize

__all__ = ["find_first_date", "find_stated_today", "parse_arabic_datetime"]

_MIN_YEAR = 1970
_MAX_YEAR = 2100

_MONTH_NAMES: dict[int, tuple[str, ...]] = {
    1: ("كانون الثاني", "كانون ثاني", "يناير", "جانفي"),
    2: ("شباط", "فبراير", "فيفري"),
    3: ("آذار", "مارس"),
    4: ("نيسان", "أبريل", "إبريل", "ابريل", "أفريل"),
    5: ("أيار", "مايو", "ماي"),
    6: ("حزيران", "يونيو", "يونيه", "جوان"),
    7: ("تموز", "يوليو", "يوليه", "يوليوز", "جويلية"),
    8: ("آب", "أغسطس", "اغسطس", "أوت", "غشت"),
    9: ("أيلول", "سبتمبر", "شتنبر"),
    10: ("تشرين الأول", "تشرين أول", "أكتوبر", "اكتوبر"),
    11: ("تشرين الثاني", "تشرين ثاني", "نوفمبر", "نونبر"),
    12: ("كانون الأول", "كانون أول", "ديسمبر", "دجنبر"),
}
_MONTHS: dict[str, int] = {
    normalize(name): month for month, names in _MONTH_NAMES.items() for name in names
}

# Python weekday numbers: Monday is 0.
_WEEKDAY_NAMES: dict[str, int] = {
    "الأحد": 6,
    "الإثنين": 0,
    "الاثنين": 0,
    "الاتنين": 0,
    "الثلاثاء": 1,
    "الثلاثا": 1,
    "الأربعاء": 2,
    "الاربعا": 2,
    "الخميس": 3,
    "الجمعة": 4,
    "السبت": 5,
}
_WEEKDAYS: dict[str, int] = {normalize(k): v for k, v in _WEEKDAY_NAMES.items()}

# Clock-time qualifiers and how they shift a 12-hour clock.
_AMPM_NAMES: dict[str, str] = {
    "ص": "am",
    "صباحاً": "am",
    "صباحا": "am",
    "صباح": "am",
    "صباحًا": "am",
    "فجراً": "am",
    "فجرا": "am",
    "الفجر": "am",
    "am": "am",
    "a.m.": "am",
    "م": "pm",
    "مساءً": "pm",
    "مساءا": "pm",
    "مساء": "pm",
    "عصراً": "pm",
    "عصرا": "pm",
    "العصر": "pm",
    "pm": "pm",
    "p.m.": "pm",
    "ظهراً": "noon",
    "ظهرا": "noon",
    "الظهر": "noon",
    "ليلاً": "night",
    "ليلا": "night",
    "الليل": "night",
}
_AMPM: dict[str, str] = {normalize(k): v for k, v in _AMPM_NAMES.items()}

# Units of «منذ …»: (length, form) where form is singular, dual or plural.
_UNIT_NAMES: dict[str, tuple[timedelta, str]] = {
    "ثانية": (timedelta(seconds=1), "one"),
    "ثانيتين": (timedelta(seconds=1), "two"),
    "ثانيتان": (timedelta(seconds=1), "two"),
    "ثوان": (timedelta(seconds=1), "many"),
    "ثواني": (timedelta(seconds=1), "many"),
    "دقيقة": (timedelta(minutes=1), "one"),
    "دقيقتين": (timedelta(minutes=1), "two"),
    "دقيقتان": (timedelta(minutes=1), "two"),
    "دقائق": (timedelta(minutes=1), "many"),
    "ساعة": (timedelta(hours=1), "one"),
    "ساعتين": (timedelta(hours=1), "two"),
    "ساعتان": (timedelta(hours=1), "two"),
    "ساعات": (timedelta(hours=1), "many"),
    "يوم": (timedelta(days=1), "one"),
    "يومين": (timedelta(days=1), "two"),
    "يومان": (timedelta(days=1), "two"),
    "أيام": (timedelta(days=1), "many"),
    "أسبوع": (timedelta(weeks=1), "one"),
    "أسبوعين": (timedelta(weeks=1), "two"),
    "أسبوعان": (timedelta(weeks=1), "two"),
    "أسابيع": (timedelta(weeks=1), "many"),
}
_UNITS: dict[str, tuple[timedelta, str]] = {normalize(k): v for k, v in _UNIT_NAMES.items()}
# An unspecified plural («منذ ساعات», "a few hours") counts as three units.
_FEW = 3.0

_NUMBER_NAMES: dict[str, float] = {
    "واحد": 1,
    "واحدة": 1,
    "اثنين": 2,
    "اثنتين": 2,
    "اثنان": 2,
    "ثلاث": 3,
    "ثلاثة": 3,
    "أربع": 4,
    "أربعة": 4,
    "خمس": 5,
    "خمسة": 5,
    "ست": 6,
    "ستة": 6,
    "سبع": 7,
    "سبعة": 7,
    "ثمان": 8,
    "ثماني": 8,
    "ثمانية": 8,
    "تسع": 9,
    "تسعة": 9,
    "عشر": 10,
    "عشرة": 10,
    "نصف": 0.5,
    "ربع": 0.25,
}
_NUMBERS: dict[str, float] = {normalize(k): v for k, v in _NUMBER_NAMES.items()}

_NOT_LETTER_BEFORE = r"(?<![^\W\d_])"
_NOT_LETTER_AFTER = r"(?![^\W\d_])"


def _alternation(words: Iterable[str]) -> str:
    """Regex alternation of (normalised, space-collapsed) words, longest first."""
    return "|".join(re.escape(w).replace(r"\ ", " ") for w in sorted(words, key=len, reverse=True))


_MONTH_ALT = _alternation(_MONTHS)
_WEEKDAY_ALT = _alternation(_WEEKDAYS)
_AMPM_ALT = _alternation(_AMPM)
_UNIT_ALT = _alternation(_UNITS)
_NUMBER_ALT = _alternation(_NUMBERS)

# One month name, or two naming the same month: «كانون الاول (ديسمبر)», «ديسمبر/كانون الاول».
_MONTH_GROUP = (
    rf"[(\[]? ?(?P<m1>{_MONTH_ALT}){_NOT_LETTER_AFTER} ?[)\]]?"
    rf"(?: ?[/\-–]? ?[(\[]? ?(?P<m2>{_MONTH_ALT}){_NOT_LETTER_AFTER} ?[)\]]?)?"
)
_NAMED_DATE = re.compile(
    rf"(?<!\d)(?P<d>\d{{1,2}})(?!\d) ?[-/.]? ?(?:من )?(?:شهر )?{_MONTH_GROUP}"
    rf"(?: ?[-/.,،]? ?(?:(?:من )?(?:عام|سنه|لعام|لسنه) )?(?P<y>\d{{4}})(?!\d))?"
)
_YMD_DATE = re.compile(
    r"(?<![\d/.\-])(?P<y>\d{4})(?P<s>[/\-.])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})(?![\d/])"
)
_DMY_DATE = re.compile(
    r"(?<![\d/.\-])(?P<d>\d{1,2})(?P<s>[/\-.])(?P<m>\d{1,2})(?P=s)(?P<y>\d{4})(?![\d/])"
)
_TIME = re.compile(
    r"(?<![\d:])(?P<h>[01]?\d|2[0-3]) ?: ?(?P<mi>[0-5]\d)(?: ?: ?(?P<s>[0-5]\d))?(?![\d:])"
    rf"(?: ?(?P<ampm>{_AMPM_ALT}){_NOT_LETTER_AFTER})?"
)
_HOUR_ONLY = re.compile(
    rf"{_NOT_LETTER_BEFORE}الساعه (?P<h>[01]?\d|2[0-3])(?![\d:])"
    rf"(?: ?(?P<ampm>{_AMPM_ALT}){_NOT_LETTER_AFTER})?"
)
_AGO = re.compile(rf"{_NOT_LETTER_BEFORE}(?:منذ|قبل) ")
_AGO_PART = re.compile(
    rf"(?:(?P<n>\d+|(?:{_NUMBER_ALT}){_NOT_LETTER_AFTER}) ?)?(?P<u>{_UNIT_ALT}){_NOT_LETTER_AFTER}"
    rf"(?: ?و ?(?P<frac>نصف|ربع){_NOT_LETTER_AFTER})?"
)
_AGO_JOIN = re.compile(r" ?و ?")
_RELATIVE_DAY = re.compile(
    rf"{_NOT_LETTER_BEFORE}(?:(?P<two>اول امس|اول من امس|امس الاول)"
    rf"|(?P<one>(?:بال|ال|و)?امس|البارحه)|(?P<zero>(?:و|ف)?اليوم)){_NOT_LETTER_AFTER}"
)
_WEEKDAY = re.compile(rf"{_NOT_LETTER_BEFORE}(?P<wd>{_WEEKDAY_ALT}){_NOT_LETTER_AFTER}")
# What may sit between «اليوم»/«أمس» and the date it names: «اليوم الأحد (1 …».
_STATED_GAP = re.compile(rf" ?(?:يوم )?(?:(?:{_WEEKDAY_ALT}){_NOT_LETTER_AFTER})? ?[(\[،,:\-–]? ?")
_ISO_START = re.compile(r"\d{4}-\d{2}-\d{2}")
_SPACES = re.compile(r"\s+")
_OTHER_SPACE = re.compile(r"[^\S ]")  # whitespace but the plain space
_DIGIT = re.compile(r"\d")  # every date expression has one
# Every «اليوم»/«أمس» form of _RELATIVE_DAY contains one of these: cheap `in` tests first.
_RELATIVE_DAY_CORES = ("امس", "اليوم", "البارحه")


@dataclass(frozen=True, slots=True)
class _DateHit:
    start: int
    end: int
    day: int
    month: int
    year: int | None


def _prepare(text: str) -> str:
    """Normalised text with every whitespace run collapsed to one space."""
    # A parser asks about the same header line several times (a date? a time? a stated today?).
    return _prepare_short(text) if len(text) <= _MEMO_MAX_CHARS else _prepare_text(text)


_MEMO_MAX_CHARS = 300


def _prepare_text(text: str) -> str:
    norm = normalize(text)
    if "  " not in norm and _OTHER_SPACE.search(norm) is None:
        return norm.strip()  # its only whitespace is single spaces: nothing to collapse
    return _SPACES.sub(" ", norm).strip()


_prepare_short = lru_cache(maxsize=64)(_prepare_text)


def _valid(year: int, month: int, day: int) -> bool:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _named_hit(m: re.Match[str]) -> _DateHit | None:
    day = int(m.group("d"))
    month = _MONTHS[m.group("m1")]
    year = int(m.group("y")) if m.group("y") else None
    if year is None:
        if not 1 <= day <= 31:
            return None
    elif not _valid(year, month, day):
        return None
    return _DateHit(m.start(), m.end(), day, month, year)


def _numeric_hit(m: re.Match[str]) -> _DateHit | None:
    day, month, year = int(m.group("d")), int(m.group("m")), int(m.group("y"))
    if not _valid(year, month, day):
        return None
    return _DateHit(m.start(), m.end(), day, month, year)


def _scan_dates(norm: str) -> Iterator[_DateHit]:
    """Every valid date expression in prepared text, in no particular order."""
    if _DIGIT.search(norm) is None:
        return
    for m in _NAMED_DATE.finditer(norm):
        hit = _named_hit(m)
        if hit is not None:
            yield hit
    for pattern in (_YMD_DATE, _DMY_DATE):
        for m in pattern.finditer(norm):
            hit = _numeric_hit(m)
            if hit is not None:
                yield hit


def _date_at(norm: str, pos: int) -> _DateHit | None:
    """A full date expression starting exactly at `pos`."""
    m = _NAMED_DATE.match(norm, pos)
    if m is not None and m.group("y"):
        return _named_hit(m)
    for pattern in (_YMD_DATE, _DMY_DATE):
        m = pattern.match(norm, pos)
        if m is not None:
            return _numeric_hit(m)
    return None


def find_first_date(text: str) -> date | None:
    """The first full date expression (day, month and year) in `text`, or None.

    Recognises named months of both systems (also combined), «2024/12/01», «2024-12-01»
    and «01-12-2024» / «1/12/2024» (day first, as Arabic sources write it).
    """
    try:
        hits = [h for h in _scan_dates(_prepare(text)) if h.year is not None]
        if not hits:
            return None
        first = min(hits, key=lambda h: h.start)
        assert first.year is not None
        return date(first.year, first.month, first.day)
    except (TypeError, ValueError, OverflowError, AttributeError):
        return None


def find_stated_today(text: str) -> date | None:
    """The date a text itself calls today: «اليوم الأحد (1 كانون الأول 2024)» → 2024-12-01.

    «أمس السبت (30 تشرين الثاني 2024)» states yesterday, so today is the day after.
    """
    try:
        norm = _prepare(text)
        if not any(core in norm for core in _RELATIVE_DAY_CORES):
            return None
        for m in _RELATIVE_DAY.finditer(norm):
            gap = _STATED_GAP.match(norm, m.end())
            hit = _date_at(norm, gap.end() if gap else m.end())
            if hit is None or hit.year is None:
                continue
            back = 2 if m.group("two") else 1 if m.group("one") else 0
            return date(hit.year, hit.month, hit.day) + timedelta(days=back)
        return None
    except (TypeError, ValueError, OverflowError, AttributeError):
        return None


def _reference(reference: datetime | None, tz: tzinfo) -> datetime:
    if reference is None:
        return datetime.now(tz)
    if reference.tzinfo is None or reference.utcoffset() is None:
        return reference.replace(tzinfo=tz)
    return reference.astimezone(tz)


def _parse_iso(text: str, tz: tzinfo) -> datetime | None:
    stripped = text.strip()
    if not _ISO_START.fullmatch(stripped[:10]):
        return None
    try:
        parsed = datetime.fromisoformat(stripped.replace("z", "Z"))
    except ValueError:
        return None
    if not _MIN_YEAR <= parsed.year <= _MAX_YEAR:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=tz)
    return parsed.astimezone(tz)


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _hour_24(hour: int, qualifier: str | None) -> int:
    kind = _AMPM.get(qualifier) if qualifier else None
    if kind is None or hour > 12:
        return hour
    if kind == "am":
        return 0 if hour == 12 else hour
    if kind == "pm":
        return hour if hour == 12 else hour + 12
    if kind == "noon":  # «1 ظهرا» is 13:00, «11 ظهرا» late morning
        return hour + 12 if 1 <= hour <= 5 else hour
    # night: «10 ليلا» is 22:00, «2 ليلا» 02:00, «12 ليلا» midnight
    if hour == 12:
        return 0
    return hour + 12 if hour >= 6 else hour


def _clock(norm: str) -> time | None:
    m = _TIME.search(norm)
    if m is not None:
        hour = _hour_24(int(m.group("h")), m.group("ampm"))
        return time(hour, int(m.group("mi")), int(m.group("s") or 0))
    m = _HOUR_ONLY.search(norm)
    if m is not None:
        return time(_hour_24(int(m.group("h")), m.group("ampm")))
    return None


def _ago(norm: str) -> timedelta | None:
    """The span of a «منذ ساعتين» / «قبل 5 دقائق» expression, or None."""
    for m in _AGO.finditer(norm):
        total = timedelta()
        pos = m.end()
        found = False
        while True:
            part = _AGO_PART.match(norm, pos)
            if part is None:
                break
            unit, form = _UNITS[part.group("u")]
            raw = part.group("n")
            if raw is not None:
                count = float(raw) if raw.isdigit() else _NUMBERS[raw]
            else:
                count = {"one": 1.0, "two": 2.0}.get(form, _FEW)
            if part.group("frac"):
                count += _NUMBERS[part.group("frac")]
            total += unit * count
            found = True
            pos = part.end()
            join = _AGO_JOIN.match(norm, pos)
            if join is None:
                break
            pos = join.end()
        if found:
            return total
    return None


def _parse(text: str, tz: tzinfo, reference: datetime | None) -> datetime | None:
    if not isinstance(text, str) or not text.strip():
        return None
    iso = _parse_iso(text, tz)
    if iso is not None:
        return iso
    norm = _prepare(text)
    ref = _reference(reference, tz)

    day: date | None = None
    hits = sorted(_scan_dates(norm), key=lambda h: (h.start, h.year is None))
    if hits:
        hit = hits[0]
        if hit.year is not None:
            day = date(hit.year, hit.month, hit.day)
        else:  # «1 كانون الأول»: the latest such day not after the reference (plus a day)
            year = ref.year
            if (hit.month, hit.day) > (ref.month, ref.day + 1):
                year -= 1
            if not _valid(year, hit.month, hit.day):
                return None
            day = date(year, hit.month, hit.day)
        norm = _blank(norm, hit.start, hit.end)

    if day is None:
        delta = _ago(norm)
        if delta is not None:
            return (ref - delta).replace(microsecond=0)

    if day is None:
        rel = _RELATIVE_DAY.search(norm)
        if rel is not None:
            back = 2 if rel.group("two") else 1 if rel.group("one") else 0
            day = ref.date() - timedelta(days=back)

    if day is None:
        wd = _WEEKDAY.search(norm)
        if wd is not None:  # the latest such weekday on or before the reference
            back = (ref.weekday() - _WEEKDAYS[wd.group("wd")]) % 7
            day = ref.date() - timedelta(days=back)

    clock = _clock(norm)
    if day is None and clock is None:
        return None
    if day is None:
        day = ref.date()
    return datetime.combine(day, clock or time(0), tzinfo=tz)


def parse_arabic_datetime(
    text: str, *, tz: tzinfo, reference: datetime | None = None
) -> datetime | None:
    """Parse an Arabic date/time expression into an aware datetime in `tz`, or None.

    Handles «الأحد 1 كانون الأول 2024 - 10:39 م», «12 (كانون الأول) ديسمبر 2024»,
    «2024/12/01 10:39», ISO 8601, «اليوم, 10:39», «أمس», «أول أمس», «منذ ساعتين»,
    «قبل 5 دقائق», a bare weekday or a bare time. Relative forms are resolved against
    `reference` (default: now), taken in `tz`; naive times are local to `tz`. A date without
    a time is midnight. Weekday names next to a full date are ignored.
    """
    try:
        return _parse(text, tz, reference)
    except (TypeError, ValueError, OverflowError, AttributeError, KeyError):
        return None
