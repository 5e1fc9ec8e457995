"""Fetched page bytes → text (any charset) → the article: title, text, language, canonical
link, content hash. trafilatura does the extraction; the feed's summary is the fallback.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from streams.extract.parse import trafilatura_document
from streams.text.arabic import normalize

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_:.-]+)", re.IGNORECASE)
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


def decode_page(content: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Page bytes → (text, codec used). Order: byte-order mark, strict UTF-8, the HTTP
    charset, the page's <meta> charset, then a guess (charset-normalizer, with the two Arabic
    single-byte encodings tried by hand); undecodable bytes become U+FFFD, never an error."""
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
    m2 = _META_CHARSET.search(content[:8192])
    declared.append(_codec(m2.group(1).decode("ascii", "replace")) if m2 else None)
    for label in declared:
        if label is None:
            continue
        try:
            return content.decode(label), label
        except UnicodeDecodeError:
            continue  # the declaration lies; try the next clue
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


def canonical_link(html: str, page_url: str) -> str | None:
    """The page's <link rel=canonical>, if it is an http(s) URL on the page's own site (a
    canonical pointing elsewhere is more often a template error than a real duplicate)."""
    for tag in _CANONICAL.finditer(html[:200_000]):
        m = _HREF.search(tag.group(0))
        if not m:
            continue
        url = urljoin(page_url, str(m.group(1)).strip())
        a, b = urlsplit(url), urlsplit(page_url)
        site = (a.hostname or "").removeprefix("www.").removeprefix("amp.")
        own = (b.hostname or "").removeprefix("www.").removeprefix("amp.")
        if a.scheme in {"http", "https"} and site == own:
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


@dataclass(frozen=True, slots=True)
class Extracted:
    title: str | None
    text: str | None  # None: the extractor found no article in the page
    lang: str
    canonical: str | None


def extract(html: str, *, url: str, default_lang: str) -> Extracted:
    """trafilatura on a decoded page. Never raises: broken markup gives text None."""
    text: str | None = None
    title: str | None = None
    doc = trafilatura_document(html, url=url)
    if doc is not None:
        raw_text = getattr(doc, "text", None)
        raw_title = getattr(doc, "title", None)
        text = raw_text if isinstance(raw_text, str) and raw_text.strip() else None
        title = raw_title.strip() if isinstance(raw_title, str) and raw_title.strip() else None
    return Extracted(
        title=title,
        text=text,
        lang=detect_language(text or "", html, default_lang),
        canonical=canonical_link(html, url),
    )
