"""Feed documents (RSS 0.9x/1.0/2.0, Atom) and listing pages → the items they point to.

feedparser copes with every RSS dialect, Atom and broken XML (it then sets `bozo` but still
returns what it recovered); a document with no entries that is not a feed at all is a
FeedError. The bytes are decoded here first, as pages are (extract.decode_page): feedparser
believes the HTTP charset, and an outlet's windows-1256 feed served as ISO-8859-1 would
otherwise be published as mojibake.
"""

from __future__ import annotations

import email.utils
import html
import importlib
import re
import time as time_mod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from streams.errors import RasidError
from streams.ingest.extract import decode_page
from streams.ingest.sources import Listing


class FeedError(RasidError, ValueError):
    """The document is not a feed (or nothing could be recovered from it)."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    url: str
    title: str | None = None
    summary: str | None = None  # plain text (the feed's description / content)
    published_at: datetime | None = None
    lang: str | None = None
    updated: datetime | None = None  # the entry's own updated time (Atom), for revisions


_TAG = re.compile(r"<[^>]+>")
_BLOCK_END = re.compile(r"</(p|div|li|h[1-6]|blockquote)>|<br\s*/?>", re.IGNORECASE)


def html_to_text(fragment: str) -> str:
    """Feed summaries are HTML fragments: keep paragraph breaks, drop tags and entities."""
    text = _BLOCK_END.sub("\n", fragment)
    text = html.unescape(_TAG.sub(" ", text))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def parse_time(value: str | None, tz: tzinfo) -> datetime | None:
    """RFC 822 (RSS) or RFC 3339 (Atom) text → aware datetime; zone-less times are `tz`."""
    if not value or not value.strip():
        return None
    value = value.strip()
    parsed: datetime | None = None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(
                value.replace(" ", "T", 1) if "T" not in value else value
            )
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed


def _entry_time(entry: Mapping[str, Any], tz: tzinfo) -> datetime | None:
    for key in ("published", "updated", "created", "dc_date"):
        moment = parse_time(entry.get(key), tz)
        if moment is not None:
            return moment
    for key in ("published_parsed", "updated_parsed"):
        struct = entry.get(key)
        if isinstance(struct, time_mod.struct_time):  # feedparser normalised it to UTC
            return datetime(*struct[:6], tzinfo=UTC)
    return None


def _entry_updated(entry: Mapping[str, Any], tz: tzinfo) -> datetime | None:
    # dict.get: feedparser's own get() answers `published` for a missing `updated`.
    raw = dict.get(entry, "updated") if isinstance(entry, dict) else entry.get("updated")
    moment = parse_time(raw if isinstance(raw, str) else None, tz)
    parsed = dict.get(entry, "updated_parsed") if isinstance(entry, dict) else None
    if moment is None and isinstance(parsed, time_mod.struct_time):
        moment = datetime(*parsed[:6], tzinfo=UTC)
    return moment


_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def _as_utf8(content: bytes, content_type: str | None) -> bytes:
    """Feed bytes decoded like a page (BOM, strict UTF-8, declared charsets checked for
    Arabic mojibake, a guess), re-encoded as UTF-8 with a declaration saying so."""
    text, _ = decode_page(content, content_type)
    text = _XML_DECL.sub('<?xml version="1.0" encoding="utf-8"?>', text.lstrip("\ufeff"), count=1)
    return text.encode("utf-8")


def _entry_summary(entry: Mapping[str, Any]) -> str | None:
    # Full content (content:encoded, Atom content) beats the short description.
    for content in entry.get("content") or []:
        value = content.get("value") if isinstance(content, Mapping) else None
        if isinstance(value, str) and value.strip():
            return html_to_text(value) or None
    summary = entry.get("summary")
    if isinstance(summary, str) and summary.strip():
        return html_to_text(summary) or None
    return None


def _entry_url(entry: Mapping[str, Any], base: str) -> str | None:
    link = entry.get("link")
    if not isinstance(link, str) or not link.strip():
        for candidate in entry.get("links") or []:
            if candidate.get("rel", "alternate") == "alternate" and candidate.get("href"):
                link = candidate["href"]
                break
        else:
            guid = entry.get("id")
            link = guid if isinstance(guid, str) and guid.startswith("http") else None
    if not link:
        return None
    url = urljoin(base, link.strip())
    return url if urlsplit(url).scheme in {"http", "https"} else None


def parse_feed(
    content: bytes, *, url: str, tz: tzinfo, content_type: str | None = None
) -> list[FeedItem]:
    """Feed bytes (any encoding) → its items with an http(s) link, in document order."""
    media = (content_type or "application/xml").split(";", 1)[0].strip() or "application/xml"
    headers = {"content-location": url, "content-type": f"{media}; charset=utf-8"}
    doc = feedparser.parse(
        _as_utf8(content, content_type), response_headers=headers, sanitize_html=False
    )
    entries = doc.get("entries") or []
    if not entries and not doc.get("version"):
        raise FeedError(f"not a feed: {doc.get('bozo_exception')}")
    feed_lang = (doc.get("feed") or {}).get("language")
    items: list[FeedItem] = []
    seen: set[str] = set()
    for entry in entries:
        link = _entry_url(entry, url)
        if link is None or link in seen:
            continue
        seen.add(link)
        title = entry.get("title")
        items.append(
            FeedItem(
                url=link,
                title=html_to_text(title) or None if isinstance(title, str) else None,
                summary=_entry_summary(entry),
                published_at=_entry_time(entry, tz),
                lang=feed_lang if isinstance(feed_lang, str) and feed_lang else None,
                updated=_entry_updated(entry, tz),
            )
        )
    return items


def parse_listing(content: str, *, listing: Listing) -> list[FeedItem]:
    """A listing page's article links: absolute http(s) URLs on the listing's site (www. or
    not) matching its link_pattern (any but the home page when it has none), with the anchor
    text as title."""
    lxml_html = importlib.import_module("lxml.html")  # untyped library: keep it Any
    try:
        tree = lxml_html.document_fromstring(content)
    except Exception as exc:  # lxml raises several types on hostile markup
        raise FeedError(f"unreadable listing page: {exc}") from exc
    host = (urlsplit(listing.url).hostname or "").lower().removeprefix("www.")
    items: list[FeedItem] = []
    seen: set[str] = set()
    for anchor in tree.iter("a"):
        href = anchor.get("href")
        if not href:
            continue
        url = urljoin(listing.url, href.strip()).split("#", 1)[0]
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or url in seen:
            continue
        if (parts.hostname or "").lower().removeprefix("www.") != host:
            continue  # an outlet's listing yields that outlet's articles only
        if listing.link_pattern is not None:
            if not listing.link_pattern.search(url):
                continue
        elif parts.path in {"", "/"}:
            continue
        seen.add(url)
        text = " ".join(str(anchor.text_content()).split())
        items.append(FeedItem(url=url, title=text or None))
    return items
