"""Sitemaps and news sitemaps (streams/ingest/sitemaps.py), feed discovery
(streams/ingest/discovery.py) and the sources-file keys of the extra kinds (sources.py)."""

from __future__ import annotations

import gzip
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.ingest.discovery import discover_feeds, same_site
from streams.ingest.sitemaps import (
    SitemapEntry,
    SitemapError,
    SitemapRef,
    gunzip_bounded,
    parse_sitemap,
    recent_children,
    recent_entries,
)
from streams.ingest.sources import SourcesError, parse_sources

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ingest" / "sitemaps"
BASE = "https://www.example.com"
NOW = datetime(2024, 12, 1, 8, 0, tzinfo=UTC)
DAY2 = timedelta(hours=48)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().replace(b"{BASE}", BASE.encode())


# ---------------------------------------------------------------- parsing
def test_index_lists_same_site_children_with_lastmod() -> None:
    sitemap = parse_sitemap(fixture("sitemap-index.xml"), url=f"{BASE}/sitemap.xml")
    assert sitemap.kind == "index" and sitemap.entries == ()
    assert sitemap.children == (
        SitemapRef(f"{BASE}/sitemaps/news.xml.gz", datetime(2024, 12, 1, 7, tzinfo=UTC)),
        SitemapRef(f"{BASE}/sitemaps/pages-2024-12.xml", datetime(2024, 12, 1, 6, tzinfo=UTC)),
        SitemapRef(f"{BASE}/sitemaps/pages-2019-01.xml", datetime(2019, 1, 31, tzinfo=UTC)),
    )  # elsewhere.example and the empty <loc> are dropped
    # Only recent children are read, newest first; the 2019 archive is not.
    assert recent_children(sitemap.children, now=NOW, max_age=DAY2) == [
        f"{BASE}/sitemaps/news.xml.gz",
        f"{BASE}/sitemaps/pages-2024-12.xml",
    ]
    assert len(recent_children(sitemap.children, now=NOW, max_age=DAY2, limit=1)) == 1


def test_news_sitemap_entries() -> None:
    sitemap = parse_sitemap(fixture("news.xml"), url=f"{BASE}/sitemaps/news.xml")
    assert sitemap.kind == "urlset"
    first, second, old = sitemap.entries  # the other site's entry is dropped
    assert first == SitemapEntry(
        url=f"{BASE}/news/1001.html",
        title="القبض على خلية إرهابية في ديالى",
        published_at=datetime.fromisoformat("2024-12-01T09:30:00+03:00"),
        language="ar",
        news=True,
    )
    assert (second.url, second.published_at, second.news) == (f"{BASE}/news/1004.html", None, True)
    item = first.to_item()
    assert (item.url, item.title, item.lang) == (first.url, first.title, "ar")
    assert item.published_at == first.published_at and item.summary is None
    # The old entry is skipped; the undated news entry is kept (news sitemaps are recent).
    assert [e.url for e in recent_entries(sitemap.entries, now=NOW, max_age=DAY2)] == [
        first.url,
        second.url,
    ]
    assert old.url.endswith("/news/old-1.html")


def test_plain_sitemap_needs_a_recent_lastmod() -> None:
    sitemap = parse_sitemap(fixture("pages.xml"), url=f"{BASE}/sitemaps/pages.xml")
    assert [e.url for e in sitemap.entries] == [
        f"{BASE}/news/1006.html",
        f"{BASE}/about.html",
        f"{BASE}/news/1002.html",
        f"{BASE}/news/relative.html",
    ]
    # about.html has no date (plain sitemap: not taken), 1002 is two months old.
    assert [e.url for e in recent_entries(sitemap.entries, now=NOW, max_age=DAY2)] == [
        f"{BASE}/news/relative.html",  # 2024-12-01 00:00, read in the given zone (UTC)
        f"{BASE}/news/1006.html",  # 05:00Z: oldest first, the order the outlet wrote them
    ]


@pytest.mark.parametrize(
    ("moments", "limit", "expected"),
    [
        ([NOW - timedelta(hours=1), NOW - timedelta(hours=3)], 10, [1, 0]),
        ([NOW - timedelta(hours=49), NOW], 10, [1]),
        ([NOW + timedelta(days=3), NOW], 10, [1]),  # far future: a bogus date
        ([NOW - timedelta(hours=n) for n in range(10)], 3, [2, 1, 0]),  # the newest few
        ([NOW], 0, []),
    ],
)
def test_recent_entries_window_order_and_limit(
    moments: list[datetime], limit: int, expected: list[int]
) -> None:
    entries = [SitemapEntry(f"{BASE}/{n}", lastmod=m) for n, m in enumerate(moments)]
    found = recent_entries(entries, now=NOW, max_age=DAY2, limit=limit)
    assert [e.url for e in found] == [f"{BASE}/{n}" for n in expected]


def test_gzip_sitemaps_are_read() -> None:
    packed = gzip.compress(fixture("news.xml"))
    assert len(parse_sitemap(packed, url=f"{BASE}/news.xml.gz").entries) == 3


def _bomb(megabytes: int) -> bytes:
    """gzip of `megabytes` MB of zeros, made a megabyte at a time (never held whole)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * 1_000_000
    return b"".join(packer.compress(chunk) for _ in range(megabytes)) + packer.flush()


def test_a_zip_bomb_stops_at_the_limit() -> None:
    bomb = _bomb(200)  # 200 MB once inflated, ~200 kB packed
    assert len(bomb) < 1_000_000
    with pytest.raises(SitemapError, match="more than"):
        gunzip_bounded(bomb, 2_000_000)
    with pytest.raises(SitemapError):
        parse_sitemap(bomb, url=f"{BASE}/s.xml.gz", max_bytes=2_000_000)
    assert gunzip_bounded(gzip.compress(b"abc"), 3) == b"abc"
    with pytest.raises(SitemapError, match="bad gzip"):
        gunzip_bounded(b"\x1f\x8b" + b"junk" * 10)


def test_an_oversized_plain_sitemap_is_refused() -> None:
    with pytest.raises(SitemapError, match="more than"):
        parse_sitemap(b" " * 101 + fixture("pages.xml"), url=BASE, max_bytes=100)


def test_entities_are_not_expanded() -> None:
    laughs = "".join(
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' if n else '<!ENTITY lol0 "lol">'
        for n in range(10)
    )
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [{laughs}]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{BASE}/a&lol9;</loc></url><url><loc>{BASE}/b</loc></url></urlset>"
    ).encode()
    started = time.perf_counter()
    try:
        entries = parse_sitemap(bomb, url=BASE).entries
    except SitemapError:  # refusing the document is as good
        entries = ()
    assert time.perf_counter() - started < 1.0
    assert all("lol" not in e.url for e in entries)
    assert [e.url for e in entries][:1] in ([], [f"{BASE}/a"])
    # Internal and external entities stay unexpanded references: no file is read.
    payload = (
        '<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x "EXPANDED">'
        '<!ENTITY ext SYSTEM "file:///etc/hostname">]>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>{BASE}/a&x;</loc></url><url><loc>{BASE}/b&ext;</loc></url></urlset>"
    ).encode()
    assert [e.url for e in parse_sitemap(payload, url=BASE).entries] == [
        f"{BASE}/a",
        f"{BASE}/b",
    ]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not xml at all",
        b"<html><body>404</body></html>",
        b"<rss version='2.0'><channel></channel></rss>",
        b"\x00\x01\x02",
    ],
)
def test_not_a_sitemap_is_a_sitemap_error(content: bytes) -> None:
    with pytest.raises(SitemapError):
        parse_sitemap(content, url=BASE)


def test_broken_xml_gives_what_it_can() -> None:
    truncated = fixture("pages.xml")[:200]  # cut inside the second <url>
    sitemap = parse_sitemap(truncated, url=BASE)
    assert [e.url for e in sitemap.entries][:1] == [f"{BASE}/news/1006.html"]
    bare_amp = f"<urlset><url><loc>{BASE}/a?x=1&y=2</loc></url></urlset>".encode()
    assert parse_sitemap(bare_amp, url=BASE).kind == "urlset"  # no crash


def test_a_site_can_be_given_for_the_entries() -> None:
    sitemap = parse_sitemap(
        fixture("pages.xml"), url="https://cdn.example.net/s.xml", site=f"{BASE}/"
    )
    # the relative <loc> resolves against the sitemap's URL: another site, dropped
    assert len(sitemap.entries) == 3
    alone = parse_sitemap(fixture("pages.xml"), url="https://cdn.example.net/s.xml")
    assert [e.url for e in alone.entries] == ["https://cdn.example.net/news/relative.html"]


# ---------------------------------------------------------------- feed discovery
HOME = f"{BASE}/ar/"


@pytest.mark.parametrize(
    ("head", "expected", "extra"),
    [
        (
            '<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss.xml">',
            [f"{BASE}/rss.xml"],
            (),
        ),
        (
            '<link rel="alternate" type="application/atom+xml" href="atom.xml">',
            [f"{BASE}/ar/atom.xml"],  # relative to the page
            (),
        ),
        (
            '<base href="https://www.example.com/feeds/">'
            '<link rel="Alternate" type="Application/RSS+XML; charset=utf-8" href="all">',
            [f"{BASE}/feeds/all"],
            (),
        ),
        ('<link rel="alternate" type="text/html" href="/en/">', [], ()),  # a translation
        ('<link rel="stylesheet" type="application/rss+xml" href="/x.xml">', [], ()),
        (
            '<link rel="alternate" type="application/rss+xml" href="https://example.com/a.xml">'
            '<link rel="alternate" type="application/rss+xml" href="https://example.com/a.xml#x">',
            ["https://example.com/a.xml"],  # www. or not is the same site; no repeats
            (),
        ),
        (
            '<link rel="alternate" type="application/rss+xml" href="https://feeds.cdn.net/x">',
            [],  # another site
            (),
        ),
        (
            '<link rel="alternate" type="application/rss+xml" href="https://feeds.cdn.net/x">',
            ["https://feeds.cdn.net/x"],
            ("Feeds.CDN.net",),  # the operator listed the host
        ),
        ('<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">', [], ()),
        ('<link rel="alternate" type="application/rss+xml">', [], ()),
    ],
)
def test_discover_feeds(head: str, expected: list[str], extra: tuple[str, ...]) -> None:
    html = f"<html><head>{head}</head><body><p>الصفحة الرئيسية</p></body></html>"
    assert discover_feeds(html, page_url=HOME, extra_hosts=extra) == expected


def test_discovery_is_bounded_and_never_raises() -> None:
    links = "".join(
        f'<link rel="alternate" type="application/rss+xml" href="/f{n}.xml">' for n in range(50)
    )
    assert len(discover_feeds(f"<head>{links}</head>", page_url=HOME)) == 10
    assert discover_feeds("", page_url=HOME) == []
    assert discover_feeds("\x00<<<", page_url=HOME) == []


@pytest.mark.parametrize(
    ("url", "other", "extra", "same"),
    [
        ("https://www.a.com/x", "http://a.com/", (), True),
        ("https://b.a.com/x", "https://a.com/", (), False),
        ("https://b.a.com/x", "https://a.com/", ("b.a.com",), True),
        ("not a url", "https://a.com/", (), False),
    ],
)
def test_same_site(url: str, other: str, extra: tuple[str, ...], same: bool) -> None:
    assert same_site(url, other, extra) is same


# ---------------------------------------------------------------- the sources file
def doc(**source: Any) -> dict[str, Any]:
    return {"schema_version": 1, "sources": [{"name": "s", **source}]}


@pytest.mark.parametrize(
    ("source", "fields"),
    [
        (
            {"telegram": ["akhbar_iraq_test", "Other_Channel"]},
            {"telegram": ("akhbar_iraq_test", "Other_Channel"), "feeds": ()},
        ),
        (
            {"sitemaps": ["https://e.com/news-sitemap.xml"]},
            {"sitemaps": ("https://e.com/news-sitemap.xml",), "sitemaps_from_robots": False},
        ),
        (
            {"sitemaps": "robots", "home": "https://e.com/"},
            {"sitemaps": (), "sitemaps_from_robots": True, "home": "https://e.com/"},
        ),
        (
            {"sitemaps": ["robots", "https://e.com/s.xml"], "home": "https://e.com/"},
            {"sitemaps": ("https://e.com/s.xml",), "sitemaps_from_robots": True},
        ),
        (
            {"discover": True, "home": "https://e.com/", "discover_hosts": ["Feeds.E-CDN.com"]},
            {"discover": True, "discover_hosts": ("feeds.e-cdn.com",)},
        ),
        (
            {"feeds": ["https://e.com/rss"], "telegram": ["abcd"], "discover": False},
            {"feeds": ("https://e.com/rss",), "telegram": ("abcd",), "discover": False},
        ),
    ],
)
def test_sources_with_the_new_kinds(source: dict[str, Any], fields: dict[str, Any]) -> None:
    (parsed,) = parse_sources(doc(**source))
    assert {k: getattr(parsed, k) for k in fields} == fields


@pytest.mark.parametrize(
    "source",
    [
        {"telegram": []},
        {"telegram": ["abc"]},  # too short
        {"telegram": ["1abcd"]},  # must start with a letter
        {"telegram": ["@abcd"]},
        {"telegram": ["ab-cd"]},
        {"telegram": ["a" * 33]},
        {"telegram": ["abcd", "abcd"]},
        {"telegram": "abcd"},
        {"sitemaps": "robots"},  # robots.txt of which site? needs home
        {"sitemaps": ["robots"]},
        {"sitemaps": ["ftp://e.com/s.xml"]},
        {"sitemaps": []},
        {"sitemaps": "https://e.com/s.xml"},  # a list, or the word robots
        {"discover": True},  # needs home
        {"discover": False, "home": "https://e.com/"},  # nothing to poll
        {"home": "https://e.com/"},
        {"discover": True, "home": "e.com"},
        {"discover": True, "home": "https://e.com/", "discover_hosts": ["a b"]},
    ],
)
def test_invalid_new_keys_are_rejected(source: dict[str, Any]) -> None:
    with pytest.raises(SourcesError):
        parse_sources(doc(**source))
