"""Raw page (plain-text dump or HTML) → ParsedArticle.

Plain-text dumps of Arabic news pages carry site chrome around the article: a breaking-news
ticker («آخر الأخبار» followed by a line of concatenated headlines), font controls («+A -A»),
share/print links and copyright lines. The parser drops that chrome, then reads the page
header around a «section | day, time |» line (if there is one): the headline above it, the
dateline «<outlet> - <place>» below it, and the body after that.

HTML goes through trafilatura (precision-oriented extraction), whose text then gets the same
line-level treatment; structured dates (meta tags, JSON-LD, <time>) come first.
"""

from __future__ import annotations

import html as html_lib
import importlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from functools import lru_cache
from typing import Any

import orjson

from streams.classify.breaking import BREAKING_MARKS
from streams.errors import RasidError
from streams.model import ParsedArticle
from streams.text.arabic import normalize
from streams.text.dates import find_first_date, find_stated_today, parse_arabic_datetime

__all__ = ["ParseError", "parse_article"]


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _printable(text: str) -> bool:
    """Whether `text` is printable but for tabs and line breaks (then it has no C0 control)."""
    return text.replace("\n", "").replace("\t", "").replace("\r", "").isprintable()


class ParseError(RasidError, ValueError):
    """Nothing usable remains of the page (no body text after stripping the chrome)."""


# ---------------------------------------------------------------------------------------------
# Line classification

# Headings of link blocks (tickers, "most read", "read also"); the heading and the rest of its
# block are chrome.
_BLOCK_HEADINGS = frozenset(
    normalize(h)
    for h in (
        "آخر الأخبار",
        "اخر الاخبار",
        "آخر الأخبار العاجلة",
        "الأخبار العاجلة",
        "أخبار عاجلة",
        "عاجل",
        "شريط الأخبار",
        "أحدث الأخبار",
        "أهم الأخبار",
        "الأكثر قراءة",
        "الأكثر مشاهدة",
        "الأكثر تداولا",
        "الأكثر تداولاً",
        "اقرأ أيضا",
        "اقرأ أيضاً",
        "إقرأ أيضاً",
        "اقرأ المزيد",
        "أخبار ذات صلة",
        "مواضيع ذات صلة",
        "ذات صلة",
        "أخبار متعلقة",
        "قد يعجبك أيضا",
        "المزيد من الأخبار",
    )
)

# Lines made only of these words are share/print/font/follow links.
_CHROME_WORDS = frozenset(
    normalize(w)
    for w in (
        "طباعة",
        "اطبع",
        "مشاركة",
        "شارك",
        "شاركها",
        "شارك الخبر",
        "الخبر",
        "المقال",
        "إرسال",
        "ارسل",
        "حفظ",
        "نسخ",
        "الرابط",
        "رابط",
        "مختصر",
        "تكبير",
        "تصغير",
        "الخط",
        "حجم",
        "عبر",
        "على",
        "تابعنا",
        "تابعونا",
        "فيسبوك",
        "فيس",
        "بوك",
        "تويتر",
        "واتساب",
        "واتس",
        "اب",
        "تيليجرام",
        "تلغرام",
        "تليغرام",
        "انستغرام",
        "يوتيوب",
        "البريد",
        "الإلكتروني",
        "facebook",
        "twitter",
        "whatsapp",
        "telegram",
        "linkedin",
        "email",
        "print",
        "share",
        "x",
    )
)
_FOLLOW_PREFIXES = tuple(normalize(p) for p in ("تابعنا", "تابعونا", "تابعوا", "للاشتراك"))
_COPYRIGHT_MARKERS = tuple(
    normalize(m)
    for m in ("©", "جميع الحقوق محفوظة", "حقوق النشر", "copyright", "all rights reserved")
)
_COPYRIGHT = re.compile("|".join(map(re.escape, _COPYRIGHT_MARKERS)))  # one scan for all
_FONT_CONTROLS = re.compile(r"(?:[+\-]?a[+\-]?){2,}")
_FONT_STARTS = ("+", "-", "a")
_WORDS = re.compile(r"[^\W\d_]+|\d+")
_TRIM = " \t\u00a0\u200e\u200f\u061c\ufeff\u202a\u202b\u202c\u202d\u202e"
_AGO_WORDS = re.compile(r"(?<![^\W\d_])(?:منذ|قبل)(?![^\W\d_])")
_CLOCK = re.compile(r"\d{1,2} ?: ?\d{2}")
_DATELINE_SEP = re.compile(r"\s+[-–—]\s+|\s*[-–—]\s+|\s+[-–—]\s*")
# Names that are a source, not a place, in «<place> - <source>» datelines.
_SOURCES = frozenset(
    normalize(s)
    for s in (
        "وكالات",
        "متابعة",
        "خاص",
        "رويترز",
        "أ ف ب",
        "فرانس برس",
        "أسوشيتد برس",
        "الأناضول",
        "د ب أ",
        "شينخوا",
        "سبوتنيك",
    )
)
_INLINE_DATELINE = re.compile(
    r"^(?P<place>[^\s\d\-–—:،,.()«»\"]{2,}(?: [^\s\d\-–—:،,.()«»\"]{2,})?)"
    r" ?(?:\((?P<source>[^)]{1,30})\))? ?[-–—] ?\S"
)

_PROBE = datetime(2000, 1, 1, 12, tzinfo=UTC)
_MAX_TITLE_CHARS = 300
_MAX_META_CHARS = 100
_META_SEARCH_LINES = 15


class _Line:
    """One non-blank line. Its words are split only when a check needs them: most lines are
    body paragraphs that the cheap checks below settle without splitting them (the word regex
    was the single largest cost of parsing)."""

    __slots__ = ("_first", "_joined", "_words", "block", "norm", "text")

    def __init__(self, text: str, block: int, norm: str) -> None:
        self.text = text
        self.block = block  # lines of one block are not separated by a blank line
        self.norm = norm  # the line of the normalised page: every check below looks at it
        self._words: list[str] | None = None
        self._joined: str | None = None
        self._first: str | None = None  # first_word() once known, "" for none (never a word)

    @property
    def words(self) -> list[str]:
        """_words(norm)."""
        if self._words is None:
            self._words = _words(self.norm)
        return self._words

    @property
    def joined(self) -> str:
        """The words joined by single spaces, for comparing lines with the headline."""
        if self._joined is None:
            self._joined = " ".join(self.words)
        return self._joined

    def first_word(self) -> str | None:
        """words[0] (None if there is none), without splitting the line (the chrome test and
        the headline comparison both ask: searched once)."""
        first = self._first
        if first is None:
            m = _WORDS.search(self.norm)
            first = self._first = "" if m is None else m.group()
        return first or None

    def last_word(self) -> str | None:
        """words[-1], without splitting the line: the words of its last few space-separated
        chunks (None when none of those has a word: the caller then splits the line)."""
        norm = self.norm
        cut = len(norm)
        for _ in range(_TAIL_CHUNKS):
            start = norm.rfind(" ", 0, cut) + 1
            # A word never spans a space, so the chunk's words are the line's own.
            found = _WORDS.findall(norm, start, cut)
            if found:
                return str(found[-1])
            if start == 0:
                return None
            cut = start - 1
        return None


_TAIL_CHUNKS = 4


def _words(norm: str) -> list[str]:
    return _WORDS.findall(norm)


@lru_cache(maxsize=64)
def _short_norm(text: str) -> tuple[str, tuple[str, ...]]:
    norm = normalize(text)
    return norm, tuple(_WORDS.findall(norm))


def _norm_of(text: str) -> str:
    """normalize(text); remembered for short texts, which several checks look at in turn (the
    header lines and short posts: section line, headline, dateline, date)."""
    return _short_norm(text)[0] if len(text) <= _MAX_TITLE_CHARS else normalize(text)


def _words_of(text: str) -> Sequence[str]:
    """_words(normalize(text)), remembered like `_norm_of`."""
    if len(text) <= _MAX_TITLE_CHARS:
        return _short_norm(text)[1]
    return _words(normalize(text))


# Beyond this many words (no real headline has them) a headline is compared the plain way, so
# a hostile one costs no more than before: one word search of the line per word adds up.
_HEADLINE_WORDS = 40


class _Headline:
    """The headline to compare lines with (`_same_joined`), with what the cheap test needs."""

    __slots__ = ("_seen", "joined", "words")

    def __init__(self, joined: str) -> None:
        self.joined = joined
        self.words = joined.split(" ") if joined else []
        self._seen: dict[_Line, bool] = {}  # a line is looked for as the headline, then dropped

    def same(self, line: _Line) -> bool:
        found = self._seen.get(line)
        if found is None:
            found = self._seen[line] = self._same(line)
        return found

    def _same(self, line: _Line) -> bool:
        """`_same_joined(line.joined, self.joined)`; most lines are ruled out without splitting
        them into words: equal to or inside the headline, the line's first and last words are
        in it; containing the headline, every word of the headline is in the line."""
        h = self.joined
        if not h:
            return False
        first = line.first_word()
        if first is None:
            return False  # no words: joined is ""
        if first in h:
            last = line.last_word()
            if last is None or last in h:
                return _same_joined(line.joined, h)
        norm = line.norm
        # (`norm.__contains__` over the words: the same test as `w in norm`, without a frame)
        if len(self.words) > _HEADLINE_WORDS or all(map(norm.__contains__, self.words)):
            return _same_joined(line.joined, h)
        return False


def _split_lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    block = 0
    blank_run = False
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # One normalisation for the whole text (no character folds to a line break, so its lines
    # are the original's); a line's edges fold to spaces or nothing, hence the strip().
    for raw, norm_raw in zip(text.split("\n"), normalize(text).split("\n"), strict=True):
        stripped = raw.strip().strip(_TRIM).strip()
        if not stripped:
            if lines and not blank_run:
                block += 1
            blank_run = True
            continue
        blank_run = False
        lines.append(_Line(stripped, block, norm_raw.strip()))
    return lines


def _is_block_heading(line: _Line) -> bool:
    norm = line.norm.strip(" :：-–—|•·»«")
    return len(norm) <= 40 and norm in _BLOCK_HEADINGS


def _is_chrome_line(line: _Line) -> bool:
    text, norm = line.text, line.norm
    # `norm` is stripped, so its first character is the compact form's: font controls start
    # with one of these.
    if norm[:1] in _FONT_STARTS and _FONT_CONTROLS.fullmatch(norm.replace(" ", "")):
        return True
    first = line.first_word()
    if first is None:
        return True  # only punctuation or symbols
    if first in _CHROME_WORDS and all(w in _CHROME_WORDS for w in line.words):
        return True
    if norm.startswith(_FOLLOW_PREFIXES) and len(line.words) <= 12:
        return True
    return len(text) <= 200 and _COPYRIGHT.search(norm) is not None


def _has_date_or_clock(text: str) -> bool:
    return bool(_CLOCK.search(_norm_of(text))) or find_first_date(text) is not None


def _is_dated(text: str) -> bool:
    """A short phrase that parses as a date or time (relative forms included)."""
    if len(_words_of(text)) > 12:
        return False
    return parse_arabic_datetime(text, tz=UTC, reference=_PROBE) is not None


def _meta(text: str) -> tuple[str | None, str] | None:
    """(section, date/time text) of a «section | day, time |» or a short date line."""
    if len(text) > _MAX_META_CHARS:
        return None
    if "|" in text:
        parts = [p.strip() for p in text.split("|") if p.strip()]
        dated = [p for p in parts if _is_dated(p)]
        if not dated:
            return None
        first = parts[0]
        section = None
        if first not in dated and len(_words_of(first)) <= 4:
            section = first
        return section, " ".join(dated)
    norm = _norm_of(text)
    if len(_words_of(text)) > 12:
        return None
    if _has_date_or_clock(text):
        return None, text
    if norm.startswith(("منذ ", "قبل ")) and _is_dated(text):
        return None, text
    return None


def _is_titleish(text: str) -> bool:
    if not 10 <= len(text) <= _MAX_TITLE_CHARS:
        return False
    if len(_words_of(text)) < 3:
        return False
    return _dateline_place(text) is None


def _dateline_place(text: str) -> str | None:
    """The place of a standalone «<outlet> - <place>» / «<place> - <source>» line."""
    if len(text) > 60:
        return None
    parts = [p.strip() for p in _DATELINE_SEP.split(text) if p.strip()]
    if len(parts) != 2:
        return None
    for part in parts:
        words = _words_of(part)
        if not 1 <= len(words) <= 3 or any(w.isdigit() for w in words):
            return None
    first, last = parts
    if _norm_of(last) in _SOURCES and _norm_of(first) not in _SOURCES:
        return first
    return last


def _inline_dateline(paragraph: str) -> str | None:
    """«القاهرة (رويترز) - …» or «دمشق - …» at the start of the first paragraph."""
    m = _INLINE_DATELINE.match(paragraph)
    if m is None:
        return None
    place = m.group("place")
    if _norm_of(place) in _SOURCES:
        return None
    return place


def _joined(text: str) -> str:
    return " ".join(_words_of(text))


def _same_joined(na: str, nb: str) -> bool:
    """Whether two texts (as `_joined` words) are the same line, or one nearly all of the other."""
    if not na or not nb:
        return False
    if na == nb:
        return True
    shorter, longer = sorted((na, nb), key=len)
    return len(shorter) >= 15 and shorter in longer and len(shorter) >= 0.6 * len(longer)


def _first_sentence(text: str, limit: int = 160) -> str:
    m = re.search(r"[.!؟?]\s", text)
    if m is not None and m.start() < limit:
        return text[: m.start() + 1].strip()
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit].strip()


# ---------------------------------------------------------------------------------------------
# Plain text


def _aware(moment: datetime | None, tz: tzinfo) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=tz)
    return moment.astimezone(tz)


def _resolve_published(
    meta_when: str | None,
    header: Sequence[str],
    first_paragraph: str | None,
    fetched_at: datetime | None,
    tz: tzinfo,
) -> datetime | None:
    """An explicit header date wins; relative header times use the article's own «today»."""
    stated = find_stated_today(first_paragraph) if first_paragraph else None
    meta_list = [meta_when] if meta_when else []
    for line in [*meta_list, *header]:
        explicit = find_first_date(line)
        if explicit is None:
            continue
        noon = datetime.combine(explicit, time(12), tzinfo=tz)
        found = parse_arabic_datetime(line, tz=tz, reference=noon)
        if (
            found is not None
            and meta_when
            and line != meta_when
            and not _CLOCK.search(_norm_of(line))
        ):
            # Date on one line, time on the section line: combine them.
            timed = parse_arabic_datetime(meta_when, tz=tz, reference=noon)
            if timed is not None and timed.date() == explicit:
                return timed
        if found is not None:
            return found
    if meta_when:
        is_ago = bool(_AGO_WORDS.search(_norm_of(meta_when)))
        anchor: datetime | None
        if stated is not None and not is_ago:
            anchor = datetime.combine(stated, time(12), tzinfo=tz)
        else:
            anchor = fetched_at
        if anchor is not None:
            found = parse_arabic_datetime(meta_when, tz=tz, reference=anchor)
            if found is not None:
                return found
    if stated is not None:
        return datetime.combine(stated, time(0), tzinfo=tz)
    return None


@dataclass(frozen=True, slots=True)
class _Parts:
    title: str
    paragraphs: tuple[str, ...]
    section: str | None
    dateline: str | None
    published_at: datetime | None


_SHORT_POST_LINES = 4  # an input of at most this many lines may be all headline


def _parse_lines(
    text: str, *, title: str | None, fetched_at: datetime | None, tz: tzinfo
) -> _Parts:
    lines = _split_lines(text)
    n = len(lines)

    meta_idx: int | None = None
    section: str | None = None
    meta_when: str | None = None
    for i in range(min(n, _META_SEARCH_LINES)):
        found = _meta(lines[i].text)
        if found is not None:
            meta_idx = i
            section, meta_when = found
            break

    # The headline right above the section/time line is never ticker content.
    protect = {meta_idx, meta_idx - 1} if meta_idx is not None else set()
    single_block = n > 0 and lines[-1].block == 0
    drop: set[int] = set()
    breaking: set[int] = set()  # lines dropped as the items of an «عاجل» heading
    for i, line in enumerate(lines):
        if i in drop or i in protect:
            continue
        if _is_block_heading(line):
            drop.add(i)
            j = i + 1
            while (
                j < n
                and lines[j].block == line.block
                and j not in protect
                and j - i <= (1 if single_block else 10)
            ):
                drop.add(j)
                if tuple(line.words) in BREAKING_MARKS:
                    breaking.add(j)
                j += 1
        elif _is_chrome_line(line):
            drop.add(i)

    kept = [i for i in range(n) if i not in drop]

    # Headline: the first substantial line before the section/time line, else after it.
    before = [i for i in kept if meta_idx is not None and i < meta_idx]
    after = [i for i in kept if meta_idx is None or i > meta_idx]
    candidates = [i for i in before if _is_titleish(lines[i].text)]
    if not candidates:
        # Only the very first line: skipping a long opening paragraph would lose it.
        candidates = [i for i in after[:1] if _is_titleish(lines[i].text)]
    title_idx: int | None = None
    given = _Headline(_joined(title)) if title is not None else None
    if given is not None:
        title_idx = next((i for i in kept[:_META_SEARCH_LINES] if given.same(lines[i])), None)
        if title_idx is None and before and candidates and candidates[0] in before:
            title_idx = candidates[0]  # the page's own wording of the given headline
    elif candidates:
        title_idx = candidates[0]

    start = title_idx if title_idx is not None else -1
    header_end = max(start, meta_idx if meta_idx is not None else -1)
    between = [i for i in kept if start < i < header_end and i != meta_idx]
    rest = [i for i in kept if i > header_end]

    dateline: str | None = None
    dateline_idx: int | None = None
    for i in [*between, *rest[:2]]:
        place = _dateline_place(lines[i].text)
        if place is not None:
            dateline, dateline_idx = place, i
            break

    header = [lines[i].text for i in between if i != dateline_idx]
    lead = [i for i in between if i != dateline_idx and len(lines[i].words) >= 6]
    body_idx = [i for i in [*lead, *rest] if i != dateline_idx]
    if title is not None or title_idx is not None:
        headline = given if given is not None else _Headline(lines[start].joined)
        body_idx = [i for i in body_idx if not headline.same(lines[i])]
    paragraphs = [lines[i].text for i in body_idx]
    if not paragraphs and title is None and title_idx is None and n <= _SHORT_POST_LINES:
        # A short post (a tweet, a breaking line, a programme teaser) whose lines were all
        # taken for a section/time line or a dateline («#رقم_اليوم | …», «برنامج – حلقة …»):
        # it is the only text there is, so it is the article, never a dead letter (issue 15:
        # 38 of ASND's 7,243 posts were). So is the line under a lone «عاجل |»: in a short
        # post that is the breaking news, not a ticker. Other chrome stays dropped.
        use = sorted({*kept, *breaking})
        paragraphs = [lines[i].text for i in use if len(lines[i].words) >= 2]

    if title is not None:
        final_title = title.strip()
    elif title_idx is not None:
        final_title = lines[title_idx].text
    elif paragraphs:
        final_title = _first_sentence(paragraphs[0])
    else:
        final_title = ""
    if dateline is None and paragraphs:
        dateline = _inline_dateline(paragraphs[0])

    published = _resolve_published(
        meta_when, header, paragraphs[0] if paragraphs else None, _aware(fetched_at, tz), tz
    )
    return _Parts(final_title, tuple(paragraphs), section, dateline, published)


def _finish(parts: _Parts) -> ParsedArticle:
    body = "\n\n".join(p.strip() for p in parts.paragraphs if p.strip()).strip()
    if not body:
        # A short post (a ticker item, a tweet) is all headline: it is its own body.
        body = parts.title.strip()
    if not body:
        raise ParseError("no article text left after removing page chrome")
    return ParsedArticle(
        title=parts.title.strip(),
        body=body,
        section=parts.section,
        published_at=parts.published_at,
        dateline=parts.dateline,
    )


# ---------------------------------------------------------------------------------------------
# HTML

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_HTML_SNIFF = re.compile(r"\s*(?:<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])", re.I)
_BLOCK_TAGS = (
    "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "br", "tr", "section", "article",
    "header", "footer", "time", "blockquote", "ul", "ol", "table", "dd", "dt", "figcaption",
)  # fmt: skip
# Not <form>: ASP.NET sites wrap the whole page in one.
_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "iframe", "nav", "aside")
_PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "date",
    "dc.date.issued",
    "dc.date",
    "sailthru.date",
)
_TAG = re.compile(r"<[^>]*>")
_SPACE_RUN = re.compile(r"\s+")


def _is_html(content_type: str, body: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _HTML_TYPES:
        return True
    return media != "text/plain" and bool(_HTML_SNIFF.match(body[:200]))


@dataclass(frozen=True, slots=True)
class _HtmlInfo:
    title: str | None
    text: str  # the article text (trafilatura's, else the visible text)
    visible: str | None  # visible page text from the headline on, for what trafilatura drops
    published_at: datetime | None  # with a time of day
    published_on: date | None  # day only
    section: str | None


def _tree(body: str) -> Any:
    lxml_html = importlib.import_module("lxml.html")  # untyped library: keep it Any
    parser = lxml_html.HTMLParser(encoding="utf-8", remove_comments=True)
    return lxml_html.document_fromstring(body.encode("utf-8", "replace"), parser=parser)


def _node_text(node: Any) -> str:
    return " ".join(str(node.text_content()).split())


def _structured_date(tree: Any, tz: tzinfo) -> tuple[datetime | None, date | None]:
    """Publication time from meta tags, JSON-LD or <time datetime>: (with time, day only)."""
    values: list[str] = []
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in _PUBLISHED_META and meta.get("content"):
            values.append(str(meta.get("content")))
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = orjson.loads(script.text or "")
        except orjson.JSONDecodeError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                if isinstance(item.get("datePublished"), str):
                    values.append(item["datePublished"])
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
    for node in tree.xpath("//*[@itemprop='datePublished'] | //time[@datetime]"):
        value = node.get("datetime") or node.get("content")
        if value:
            values.append(str(value))
    day_only: date | None = None
    for value in values:
        parsed = parse_arabic_datetime(value, tz=tz, reference=datetime.now(tz))
        if parsed is None:
            continue
        if _CLOCK.search(value):
            return parsed, None
        day_only = day_only or parsed.date()
    return None, day_only


def _visible_text(tree: Any) -> str:
    for bad in tree.xpath("|".join(f"//{t}" for t in _DROP_TAGS)):
        bad.drop_tree()
    for tag in ("header", "footer"):
        for node in tree.xpath(f"//{tag}[not(ancestor::article) and not(.//h1)]"):
            node.drop_tree()
    for node in tree.iter():  # source line breaks inside a block are just spaces
        if node.text:
            node.text = _SPACE_RUN.sub(" ", node.text)
        if node.tail:
            node.tail = _SPACE_RUN.sub(" ", node.tail)
    for node in tree.iter(*_BLOCK_TAGS):
        node.tail = "\n\n" + (node.tail or "")
        if node.tag != "br":
            node.text = "\n\n" + (node.text or "")
    bodies = tree.xpath("//body")
    root = bodies[0] if bodies else tree
    return str(root.text_content())


def _html_title(tree: Any) -> str | None:
    for xpath in ("//h1", "//title"):
        for node in tree.xpath(xpath):
            text = _node_text(node)
            if text:
                return text
    return None


def trafilatura_document(
    html: str, *, url: str | None = None, date_params: dict[str, Any] | None = None
) -> Any | None:
    """trafilatura's bare extraction with Rasid's options (precision over recall, no comments,
    tables, images or links), or None when it finds nothing or fails."""
    try:
        import trafilatura

        return trafilatura.bare_extraction(
            html,
            url=url,
            favor_precision=True,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
            date_extraction_params=date_params,
        )
    except Exception:  # a third-party extractor on hostile markup: anything can happen
        return None


def _trafilatura(body: str) -> tuple[str | None, str | None, date | None, list[str]]:
    """(title, text, date, categories) from trafilatura, or Nones when it finds nothing."""
    doc = trafilatura_document(body, date_params={"extensive_search": False, "original_date": True})
    if doc is None:
        return None, None, None, []
    title = getattr(doc, "title", None)
    text = getattr(doc, "text", None)
    raw_date = getattr(doc, "date", None)
    day: date | None = None
    if isinstance(raw_date, str):
        try:
            day = date.fromisoformat(raw_date[:10])
        except ValueError:
            day = None
    categories = getattr(doc, "categories", None) or []
    return (
        title if isinstance(title, str) and title.strip() else None,
        text if isinstance(text, str) and text.strip() else None,
        day,
        [c for c in categories if isinstance(c, str) and c.strip()],
    )


def _from_headline(text: str, title: str) -> str:
    """`text` from the line that is the headline on (all of it if the headline is missing)."""
    offset = 0
    headline = _joined(title)
    for line in text.splitlines(keepends=True):
        if _same_joined(_joined(line), headline):
            return text[offset:]
        offset += len(line)
    return text


def _html_info(body: str, tz: tzinfo) -> _HtmlInfo:
    t_title, t_text, t_day, categories = _trafilatura(body)
    try:
        tree = _tree(body)
    except Exception:  # lxml refuses the document: strip tags by hand
        tree = None
    if tree is not None:
        with_time, day_only = _structured_date(tree, tz)
        section = None
        for meta in tree.iter("meta"):
            if (meta.get("property") or "").lower() == "article:section" and meta.get("content"):
                section = str(meta.get("content")).strip() or None
                break
        h_title = _html_title(tree)
        visible: str | None = _visible_text(tree)
    else:
        with_time, day_only, section, h_title = None, None, None, None
        visible = html_lib.unescape(_TAG.sub("\n\n", body))
    title = t_title or h_title
    if visible is not None and title is not None:
        visible = _from_headline(visible, title)
    return _HtmlInfo(
        title=title,
        text=t_text if t_text is not None else (visible or ""),
        visible=visible,
        published_at=with_time,
        published_on=day_only or t_day,
        section=section or (categories[0] if categories else None),
    )


def _parse_html(
    body: str, *, title: str | None, fetched_at: datetime | None, tz: tzinfo
) -> ParsedArticle:
    info = _html_info(body, tz)
    wanted = info.title or title  # the page's own headline, to find (and drop) it in the text
    parts = _parse_lines(info.text, title=wanted, fetched_at=fetched_at, tz=tz)
    section, dateline = parts.section, parts.dateline
    if info.visible is not None and info.visible != info.text:
        # trafilatura keeps the article text but drops the byline: date and section live there.
        try:
            page = _parse_lines(info.visible, title=wanted, fetched_at=fetched_at, tz=tz)
        except Exception:
            page = None
        if page is not None:
            section = section or page.section
            dateline = dateline or page.dateline
            if parts.published_at is None:
                parts = _Parts(parts.title, parts.paragraphs, section, dateline, page.published_at)
    published = info.published_at
    if published is None:
        from_text = parts.published_at
        agrees = from_text is not None and from_text.date() == info.published_on
        if info.published_on is None or agrees:
            published = from_text
        else:
            published = datetime.combine(info.published_on, time(0), tzinfo=tz)
    return _finish(
        _Parts(
            title=(title or wanted or parts.title).strip(),
            paragraphs=parts.paragraphs,
            section=section or info.section,
            dateline=dateline,
            published_at=published,
        )
    )


# ---------------------------------------------------------------------------------------------


def parse_article(
    body: str,
    *,
    content_type: str = "text/plain",
    title: str | None = None,
    fetched_at: datetime | None = None,
    tz: tzinfo,
) -> ParsedArticle:
    """Parse a raw page into a ParsedArticle.

    `title` (e.g. from the feed) overrides the headline found in the page. Relative page
    times («اليوم, 10:39») resolve against the day the article itself calls today, else
    against `fetched_at` (naive values are local to `tz`); published_at is None when the page
    gives nothing to go on. Raises ParseError when no article text remains.
    """
    # C0 controls (NUL, …) are never text, and lxml refuses documents that contain them. A page
    # that is printable once its tabs and line breaks are set aside has none: that C test is
    # ~2x cheaper than the regex scan, which then runs only for the other pages.
    if isinstance(body, str) and not _printable(body):
        body = _CONTROL_CHARS.sub("", body)
    if not isinstance(body, str) or not body.strip():
        raise ParseError("empty page")
    if title is not None and not title.strip():
        title = None
    # A bug here propagates on purpose: the worker dead-letters it as processing_error, which
    # on-call should see, rather than as unparseable input.
    if _is_html(content_type, body):
        return _parse_html(body, title=title, fetched_at=fetched_at, tz=tz)
    return _finish(_parse_lines(body, title=title, fetched_at=fetched_at, tz=tz))
