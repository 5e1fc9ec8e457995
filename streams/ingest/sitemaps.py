"""Sitemaps (sitemaps.org 0.9) and Google news sitemaps → the recent articles they list.

robots.txt `Sitemap:` lines (read by the fetcher's robots rules, policy.py) and `/sitemap.xml`
name them; a sitemap index names child sitemaps; a urlset lists pages with `lastmod` and, in a
news sitemap, `news:news` (title, publication date, language). Pure: no I/O.

Safety: the XML parser resolves no entities, loads no DTD and touches no network (an entity
bomb stays a few unexpanded references); gzip is decompressed only up to a byte limit (a zip
bomb stops there); counts are capped. Only recent entries matter to a monitoring service:
see `recent_entries`.
"""

from __future__ import annotations

import importlib
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urljoin, urlsplit

from streams.ingest.discovery import site_of
from streams.ingest.feeds import FeedError, FeedItem, parse_time

MAX_BYTES = 10_000_000  # decompressed; the protocol allows 50 MB, news sitemaps are small
MAX_ENTRIES = 5_000  # per document (the protocol allows 50,000)
MAX_CHILDREN = 500  # per index, before the recency filter
MAX_DEPTH = 2  # index → index → urlset, no deeper
MAX_URL = 2048
MAX_TITLE = 2000
_GZIP_MAGIC = b"\x1f\x8b"
_FUTURE_SLACK = timedelta(days=1)  # clocks and time zones differ; further ahead is bogus


class SitemapError(FeedError):
    """Not a sitemap (not XML, or neither <urlset> nor <sitemapindex>), or too large."""


@dataclass(frozen=True, slots=True)
class SitemapRef:
    """A child sitemap named by an index."""

    url: str
    lastmod: datetime | None = None


@dataclass(frozen=True, slots=True)
class SitemapEntry:
    url: str
    lastmod: datetime | None = None
    title: str | None = None  # news:title
    published_at: datetime | None = None  # news:publication_date
    language: str | None = None  # news:publication/news:language
    news: bool = False  # the entry carries news:news

    @property
    def moment(self) -> datetime | None:
        return self.published_at or self.lastmod

    def to_item(self) -> FeedItem:
        """As a feed item (URL, maybe title/date/language): it takes the page-fetch path; a
        later `lastmod` makes the ingester look at the page again for a revision."""
        return FeedItem(
            url=self.url,
            title=self.title,
            published_at=self.moment,
            lang=self.language,
            updated=self.lastmod,
        )


@dataclass(frozen=True, slots=True)
class Sitemap:
    kind: str  # "index" or "urlset"
    children: tuple[SitemapRef, ...] = ()
    entries: tuple[SitemapEntry, ...] = ()


def gunzip_bounded(data: bytes, limit: int = MAX_BYTES) -> bytes:
    """Decompress gzip bytes, refusing (SitemapError) anything that would exceed `limit`."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise SitemapError(f"bad gzip: {exc}") from exc
    if len(out) > limit or inflater.unconsumed_tail:
        raise SitemapError(f"more than {limit} bytes once decompressed")
    return out


def _local(node: Any) -> str:
    tag = node.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(node: Any, name: str) -> Any | None:
    for child in node:
        if _local(child) == name:
            return child
    return None


def _text(node: Any | None, limit: int = MAX_URL) -> str | None:
    """An element's own text nodes only: an unexpanded entity reference adds nothing."""
    if node is None:
        return None
    # node.text and the children's tails; an entity child's own text ("&x;") is left out
    parts = [node.text or "", *(child.tail or "" for child in node)]
    value = " ".join("".join(parts).split())
    return value[:limit] or None


def _url(value: str | None, base: str) -> str | None:
    if not value or len(value) > MAX_URL:
        return None
    if value.startswith(("https://", "http://")):  # the protocol's rule; urljoin is slow
        return value
    url = urljoin(base, value)
    return url if urlsplit(url).scheme in {"http", "https"} and len(url) <= MAX_URL else None


def _lang(value: str | None) -> str | None:
    if not value:
        return None
    head = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return head if head.isalpha() and 2 <= len(head) <= 3 else None


def _xml_parser() -> Any:
    etree = importlib.import_module("lxml.etree")  # untyped library: keep it Any
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
        recover=True,  # CMS sitemaps with a stray `&` still give their entries
    )


def parse_sitemap(
    content: bytes,
    *,
    url: str,
    site: str | None = None,
    tz: tzinfo = UTC,
    max_bytes: int = MAX_BYTES,
    max_entries: int = MAX_ENTRIES,
) -> Sitemap:
    """A sitemap document (gzip or not) → its child sitemaps or its entries, on `site`'s
    site only (default: the sitemap's own; an outlet's sitemap lists that outlet's pages).
    Dates without a zone are read in `tz`. SitemapError if it is no sitemap or too large."""
    host = site_of(site or url)
    if content[:2] == _GZIP_MAGIC:
        content = gunzip_bounded(content, max_bytes)
    elif len(content) > max_bytes:
        raise SitemapError(f"more than {max_bytes} bytes")
    etree = importlib.import_module("lxml.etree")
    try:
        root = etree.fromstring(content, _xml_parser())
    except Exception as exc:  # lxml raises several types on hostile input
        raise SitemapError(f"not XML: {exc}") from exc
    if root is None:
        raise SitemapError("not XML")
    kind = _local(root)
    if kind == "sitemapindex":
        refs: list[SitemapRef] = []
        for node in root:
            if _local(node) != "sitemap":
                continue
            loc = _url(_text(_child(node, "loc")), url)
            if loc is None or site_of(loc) != host:
                continue
            refs.append(SitemapRef(loc, parse_time(_text(_child(node, "lastmod")), tz)))
            if len(refs) >= MAX_CHILDREN:
                break
        return Sitemap("index", children=tuple(refs))
    if kind != "urlset":
        raise SitemapError(f"not a sitemap: root <{kind or '?'}>")
    entries: list[SitemapEntry] = []
    for node in root:
        if _local(node) != "url":
            continue
        loc = _url(_text(_child(node, "loc")), url)
        if loc is None or site_of(loc) != host:
            continue
        news = _child(node, "news")
        publication = _child(news, "publication") if news is not None else None
        entries.append(
            SitemapEntry(
                url=loc,
                lastmod=parse_time(_text(_child(node, "lastmod")), tz),
                title=_text(_child(news, "title"), MAX_TITLE) if news is not None else None,
                published_at=(
                    parse_time(_text(_child(news, "publication_date")), tz)
                    if news is not None
                    else None
                ),
                language=_lang(_text(_child(publication, "language")))
                if publication is not None
                else None,
                news=news is not None,
            )
        )
        if len(entries) >= max_entries:
            break
    return Sitemap("urlset", entries=tuple(entries))


def _fresh(moment: datetime, now: datetime, max_age: timedelta) -> bool:
    return now - max_age <= moment <= now + _FUTURE_SLACK


def recent_entries(
    entries: Iterable[SitemapEntry], *, now: datetime, max_age: timedelta, limit: int = 200
) -> list[SitemapEntry]:
    """The entries worth fetching, oldest first (the order the outlet wrote them): dated
    (news:publication_date, else lastmod) within `max_age` of `now`; an undated entry only
    from a news sitemap (which lists just the last two days by Google's rules) — an undated
    entry of a plain sitemap could be any of 50,000 archive pages. At most `limit`, the
    newest."""
    dated: list[tuple[datetime, int, SitemapEntry]] = []
    undated: list[SitemapEntry] = []
    for n, entry in enumerate(entries):
        moment = entry.moment
        if moment is None:
            if entry.news:
                undated.append(entry)
        elif _fresh(moment, now, max_age):
            dated.append((moment, n, entry))
    dated.sort(key=lambda t: (t[0], t[1]))
    chosen = [e for _, _, e in dated] + undated
    return chosen[-limit:] if limit > 0 else []


def recent_children(
    refs: Iterable[SitemapRef], *, now: datetime, max_age: timedelta, limit: int = 5
) -> list[str]:
    """Child sitemaps worth reading: changed within `max_age` (newest first), then undated
    ones (in index order), at most `limit` in all; an index of monthly archives thus costs
    one or two fetches, not hundreds."""
    refs = list(refs)
    dated = sorted(
        (r for r in refs if r.lastmod is not None and _fresh(r.lastmod, now, max_age)),
        key=lambda r: r.lastmod or now,
        reverse=True,
    )
    undated = [r for r in refs if r.lastmod is None]
    return list(dict.fromkeys(r.url for r in [*dated, *undated]))[:limit]
