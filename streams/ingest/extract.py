"""Fetched page bytes → text (any charset) → the article: title, text, language, canonical
link, content hash. trafilatura does the extraction; when it finds little (a JavaScript page's
«جار التحميل...», a table or <br> layout) the page's JSON-LD `articleBody`, its Next.js data
and a recall-mode second pass over the page with its layout tables undone are tried; the
feed's summary is the last fallback (service.py).
"""

from __future__ import annotations

import codecs
import hashlib
import html as html_lib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson

from streams.extract.parse import trafilatura_document
from streams.text.arabic import normalize

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_:.-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_:.-]+)["']""")
# Labels pages use that Python knows under another name, or that browsers read differently
# (WHATWG: a page that says latin-1 is decoded as windows-1252).
_ALIASES = {
    "iso-8859-1": "windows-1252",
    "latin1": "windows-1252",
    "us-ascii": "windows-1252",
    "arabic": "iso-8859-6",
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-6-e": "iso-8859-6",
    "x-mac-arabic": "mac-arabic",
    "cp1256": "windows-1256",
}
_ARABIC_LETTER = re.compile(r"[\u0621-\u064A]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
# What Arabic single-byte text turns into when read as Latin-1 / windows-1252: mostly
# accented Latin letters and symbols of U+00A0-U+00FF.
_LATIN1_SUPPLEMENT = re.compile(r"[\u00a0-\u00ff]")
_ARABIC_CODECS = ("windows-1256", "iso8859-6")


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _arabic_score(text: str) -> float:
    letters = len(_ARABIC_LETTER.findall(text)) + len(_LATIN_LETTER.findall(text))
    return len(_ARABIC_LETTER.findall(text)) / letters if letters else 0.0


def _mojibake(text: str) -> bool:
    """Arabic bytes decoded as a Latin single-byte charset: few Arabic letters, and Latin-1
    supplement characters (ÇáÈÕÑÉ …) where the Arabic letters should be."""
    sample = text[:20000]
    arabic = len(_ARABIC_LETTER.findall(sample))
    odd = len(_LATIN1_SUPPLEMENT.findall(sample))
    return odd >= 20 and odd > 2 * arabic


def _arabic_reading(content: bytes) -> tuple[str, str] | None:
    """The Arabic single-byte reading of the bytes, if one gives mostly Arabic text."""
    best: tuple[float, str, str] | None = None
    for name in _ARABIC_CODECS:
        text = content.decode(name, errors="replace")
        score = _arabic_score(text[:20000]) - text.count("\ufffd") / max(len(text), 1)
        if score >= 0.5 and (best is None or score > best[0]):
            best = (score, name, text)
    return None if best is None else (best[2], best[1])


def decode_page(content: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Page or feed bytes → (text, codec used). Order: byte-order mark, strict UTF-8, the HTTP
    charset, the XML declaration's encoding, the page's <meta> charset, then a guess
    (charset-normalizer, with the two Arabic single-byte encodings tried by hand); undecodable
    bytes become U+FFFD, never an error. A declared Latin charset whose reading looks like
    Arabic mojibake (an outlet's windows-1256 served as ISO-8859-1) is overruled when an
    Arabic charset reads the bytes as Arabic."""
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if content.startswith(bom):
            return content.decode(name, errors="replace").lstrip("\ufeff"), name
    # Valid UTF-8 with non-ASCII bytes is UTF-8 whatever the labels say: single-byte Arabic
    # text almost never forms valid UTF-8 sequences by chance, and mislabelled pages abound.
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared: list[str | None] = []
    if content_type:
        m = _HEADER_CHARSET.search(content_type)
        declared.append(_codec(m.group(1)) if m else None)
    m3 = _XML_ENCODING.match(content[:512])
    declared.append(_codec(m3.group(1).decode("ascii", "replace")) if m3 else None)
    m2 = _META_CHARSET.search(content[:8192])
    declared.append(_codec(m2.group(1).decode("ascii", "replace")) if m2 else None)
    for label in declared:
        if label is None:
            continue
        try:
            text = content.decode(label)
        except UnicodeDecodeError:
            continue  # the declaration lies; try the next clue
        if label not in _ARABIC_CODECS and _mojibake(text):
            arabic = _arabic_reading(content)
            if arabic is not None:
                return arabic
        return text, label
    candidates = ["windows-1256", "iso8859-6"]
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(content[:65536]).best()
        if best is not None and _codec(best.encoding):
            candidates.insert(0, str(_codec(best.encoding)))
    except Exception:  # a guesser must never stop a fetch
        pass
    # Prefer the reading that gives the most Arabic letters and the fewest replacement chars.
    scored = []
    for name in dict.fromkeys(candidates):
        text = content.decode(name, errors="replace")
        scored.append((_arabic_score(text) - text.count("\ufffd") / max(len(text), 1), name, text))
    _, name, text = max(scored, key=lambda t: t[0])
    return text, name


_LANG_ATTR = re.compile(r"<html[^>]*\slang\s*=\s*[\"']?([A-Za-z]{2,3})", re.IGNORECASE)
_CANONICAL = re.compile(r"<link[^>]+rel\s*=\s*[\"']?canonical[\"']?[^>]*>", re.IGNORECASE)
_HREF = re.compile(r"href\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_SCRIPT = re.compile(r"<script\b(?![^>]*application/ld\+json)[^>]*>.*?</script\s*>", re.I | re.S)
_DROP = re.compile(r"<(style|svg|noscript|iframe)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.I | re.S)


def detect_language(text: str, html: str | None, default: str) -> str:
    """The page's declared language (<html lang>), else 'ar' for mostly Arabic text, else
    the source's configured language."""
    if html is not None:
        m = _LANG_ATTR.search(html[:4096])
        if m:
            return m.group(1).lower()
    score = _arabic_score(text[:5000])
    if score >= 0.5:
        return "ar"
    return default


def _is_section_of(canonical_path: str, page_path: str) -> bool:
    """The canonical is the site's home page or a folder above the page (/news/ for
    /news/1001.html): a listing, not this article."""
    path = canonical_path.rstrip("/")
    if path in {"", "/index.html", "/index.php", "/index.htm", "/default.aspx"}:
        return True
    page = page_path.rstrip("/")
    return page != path and page.startswith(path + "/")


def canonical_link(html: str, page_url: str) -> str | None:
    """The page's <link rel=canonical>, if it is an http(s) URL on the page's own site (a
    canonical pointing elsewhere is more often a template error than a real duplicate) that
    names an article: a canonical to the home page or to a section above the page is a
    template error too, and trusting it would make every article of the site one URL."""
    for tag in _CANONICAL.finditer(html[:200_000]):
        m = _HREF.search(tag.group(0))
        if not m:
            continue
        url = urljoin(page_url, html_lib.unescape(str(m.group(1)).strip()))
        a, b = urlsplit(url), urlsplit(page_url)
        site = (a.hostname or "").removeprefix("www.").removeprefix("amp.")
        own = (b.hostname or "").removeprefix("www.").removeprefix("amp.")
        if a.scheme in {"http", "https"} and site == own:
            if not a.query and _is_section_of(a.path, b.path):
                return None
            return url
    return None


def slim_html(html: str) -> str:
    """Drop what never holds article text (scripts other than JSON-LD, styles, SVG, comments)
    so the page fits in a Kafka message; the worker's parser reads everything that is left."""
    return _DROP.sub("", _SCRIPT.sub("", html))


def content_hash(source: str, text: str) -> str:
    """Hash of an outlet's article text after normalisation: the same article under another
    URL (or re-encoded) gives the same hash."""
    words = " ".join(normalize(text).split())
    return hashlib.sha256(f"{source}\x1f{words}".encode()).hexdigest()[:32]


# Below this many characters (whitespace collapsed) an extracted text is "thin": the page
# may be a JavaScript shell, a table layout trafilatura could not read, or a real one-line
# «عاجل»; other readings of the page (and the feed's summary) are then compared.
THIN_CHARS = 200
# Texts shorter than this are never deduplicated by content: two different articles of an
# outlet can share a one-line text (or a placeholder), and the URL already dedups them.
MIN_DEDUP_CHARS = 120
# What JavaScript-rendered pages show before their script runs.
_PLACEHOLDER = re.compile(
    r"جار[يٍ]?\s+(?:ال)?تحميل|يتم\s+(?:ال)?تحميل|(?:الرجاء|يرجى)\s+(?:الانتظار|تفعيل)"
    r"|جافا\s*سكريبت|\bloading\b|please\s+wait|enable\s+javascript|javascript\s+(?:is\s+)?required",
    re.IGNORECASE,
)
_JSON_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_LD_TYPE = re.compile(r"""type\s*=\s*["']?application/ld\+json""", re.IGNORECASE)
_NEXT_ID = re.compile(r"""id\s*=\s*["']?__NEXT_DATA__""", re.IGNORECASE)
_TEXT_KEYS = frozenset(
    {"articlebody", "body", "content", "text", "fulltext", "bodytext", "html", "contenthtml"}
)
_MAX_JSON_CHARS = 3_000_000  # a script larger than this is not read
_MAX_JSON_NODES = 50_000  # nor walked further than this
_LAYOUT_TAG = re.compile(r"<(/?)(?:table|tbody|thead|tfoot|tr|td|th)\b[^>]*>", re.IGNORECASE)
_BR_RUN = re.compile(r"(?:<br\s*/?>\s*){2,}", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_BLOCK_BREAK = re.compile(r"</(?:p|div|li|h[1-6]|blockquote)>|<br\s*/?>", re.IGNORECASE)


def text_size(text: str | None) -> int:
    return len(" ".join(text.split())) if text else 0


def is_thin(text: str | None) -> bool:
    return text_size(text) < THIN_CHARS


def is_placeholder(text: str | None) -> bool:
    """A thin text that is only a loading notice («جار التحميل...», "enable JavaScript")."""
    return bool(text) and is_thin(text) and _PLACEHOLDER.search(text or "") is not None


def _fragment_text(value: str) -> str:
    """An HTML fragment (or plain text) from page data → plain text with paragraph breaks."""
    text = html_lib.unescape(_TAGS.sub(" ", _BLOCK_BREAK.sub("\n", value)))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _strings(data: Any, keys: frozenset[str]) -> Iterator[str]:
    """String values under the given keys anywhere in a JSON document (bounded walk)."""
    stack: list[Any] = [data]
    nodes = 0
    while stack and nodes < _MAX_JSON_NODES:
        item = stack.pop()
        nodes += 1
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, str):
                    if str(key).lower() in keys and len(value) >= 20:
                        yield value
                elif isinstance(value, dict | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def structured_text(html: str) -> tuple[str | None, str | None]:
    """(JSON-LD `articleBody`, the longest text-like string of Next.js `__NEXT_DATA__`):
    what a JavaScript-rendered page carries for crawlers and for its own script."""
    ld: str | None = None
    nxt: str | None = None
    for m in _JSON_SCRIPT.finditer(html[:_MAX_JSON_CHARS]):
        attrs, body = m.group(1), m.group(2)
        kind = "ld" if _LD_TYPE.search(attrs) else "next" if _NEXT_ID.search(attrs) else None
        if kind is None or len(body) > _MAX_JSON_CHARS:
            continue
        try:
            data = orjson.loads(body.strip().removeprefix("<!--").removesuffix("-->"))
        except orjson.JSONDecodeError:
            continue
        keys = frozenset({"articlebody"}) if kind == "ld" else _TEXT_KEYS
        for value in _strings(data, keys):
            text = _fragment_text(value)
            if kind == "ld" and text_size(text) > text_size(ld):
                ld = text
            elif kind == "next" and text_size(text) > text_size(nxt):
                nxt = text
    return ld, nxt


def delayout(html: str) -> str:
    """Layout tables → divs and runs of <br> → paragraph breaks: old outlets' templates in a
    shape trafilatura reads (it skips tables, and a <br>-separated text is one long line)."""
    return _BR_RUN.sub("</p><p>", _LAYOUT_TAG.sub(lambda m: f"<{m.group(1)}div>", html))


def _recall_text(html: str, url: str) -> str | None:
    """The second pass: trafilatura over the page with its layout undone, in its balanced
    mode (no chrome) and, when that is still thin, in its recall mode."""
    undone = delayout(html)
    best: str | None = None
    for recall in (False, True):
        try:
            import trafilatura

            doc = trafilatura.bare_extraction(
                undone,
                url=url,
                favor_recall=recall,
                with_metadata=False,
                include_comments=False,
                include_tables=False,
                include_images=False,
                include_links=False,
            )
        except Exception:  # a third-party extractor on hostile markup: anything can happen
            continue
        text = getattr(doc, "text", None) if doc is not None else None
        if isinstance(text, str) and text.strip() and text_size(text) > text_size(best):
            best = text
        if not is_thin(best):
            break
    return best


@dataclass(frozen=True, slots=True)
class Extracted:
    title: str | None
    text: str | None  # None: the extractor found no article in the page
    lang: str
    canonical: str | None
    # Where the text came from: "page" (trafilatura, as the worker reads the page), "jsonld",
    # "next_data" or "recall" (readings the worker's parser does not make: the ingester then
    # sends the text, not the page). None with text None.
    method: str | None = None


def extract(html: str, *, url: str, default_lang: str) -> Extracted:
    """trafilatura on a decoded page; when that gives a thin text or a placeholder, the
    page's structured data and a recall-mode pass are tried and the fullest reading wins.
    Never raises: broken markup gives text None."""
    text: str | None = None
    title: str | None = None
    doc = trafilatura_document(html, url=url)
    if doc is not None:
        raw_text = getattr(doc, "text", None)
        raw_title = getattr(doc, "title", None)
        text = raw_text if isinstance(raw_text, str) and raw_text.strip() else None
        title = raw_title.strip() if isinstance(raw_title, str) and raw_title.strip() else None
    method: str | None = "page" if text is not None else None
    if is_thin(text):  # only then: the second readings cost a parse each
        if is_placeholder(text):
            text, method = None, None
        ld, nxt = structured_text(html)
        candidates = [(ld, "jsonld"), (nxt, "next_data")]
        if all(is_thin(c) for c, _ in candidates):  # the second pass only when still needed
            candidates.append((_recall_text(html, url), "recall"))
        for candidate, how in candidates:
            if candidate is None or is_placeholder(candidate):
                continue
            # Another reading wins only when clearly fuller (a real one-line page stays).
            if text is None or text_size(candidate) > max(2 * text_size(text), THIN_CHARS):
                text, method = candidate, how
    return Extracted(
        title=title,
        text=text,
        lang=detect_language(text or "", html, default_lang),
        canonical=canonical_link(html, url),
        method=method,
    )
