"""Feeds, listing pages, page decoding and extraction: pure functions over fixture bytes."""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from streams.ingest.extract import (
    canonical_link,
    content_hash,
    decode_page,
    detect_language,
    extract,
    slim_html,
)
from streams.ingest.feeds import FeedError, html_to_text, parse_feed, parse_listing, parse_time
from streams.ingest.sources import Listing

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "ingest"
BASE = "http://news.example"
BAGHDAD = timezone(timedelta(hours=3))


def feed(name: str) -> bytes:
    return (FIX / name).read_bytes().replace(b"{BASE}", BASE.encode())


def test_rss2_items_in_order_with_times_and_summaries() -> None:
    items = parse_feed(feed("rss2.xml"), url=f"{BASE}/rss", tz=BAGHDAD)
    assert [i.url.removeprefix(BASE) for i in items][:3] == [
        "/news/1001.html?utm_source=rss&utm_medium=feed",
        "/news/1002.html",
        "/news/1003.html",
    ]
    assert len(items) == 9
    first = items[0]
    assert first.title == "وزارة الداخلية العراقية تعلن اعتقال خلية في الأنبار"
    assert first.summary == "أعلنت وزارة الداخلية العراقية اعتقال خلية في الأنبار."  # tags gone
    assert first.published_at == datetime(2024, 12, 1, 9, 30, tzinfo=BAGHDAD)
    assert first.lang == "ar-IQ"
    # No zone in the feed: the source's timezone applies.
    assert items[1].published_at == datetime(2024, 12, 1, 10, 15, tzinfo=BAGHDAD)
    assert items[2].published_at == datetime(2024, 12, 2, 8, 0, tzinfo=UTC)
    assert items[3].published_at is None and items[3].summary is None
    # content:encoded beats the description and keeps its paragraphs.
    slow = next(i for i in items if i.url.endswith("/news/slow.html"))
    assert slow.summary is not None and slow.summary.count("\n") == 1


def test_atom_entries() -> None:
    items = parse_feed(feed("atom.xml"), url=f"{BASE}/atom", tz=BAGHDAD)
    assert [i.url for i in items] == [
        f"{BASE}/print/1004",
        f"{BASE}/news/1005.html/amp?utm_source=atom",
    ]
    assert items[0].published_at == datetime(2024, 12, 3, 10, 0, tzinfo=BAGHDAD)
    assert items[1].published_at == datetime(2024, 12, 3, 11, 0, tzinfo=UTC)  # updated only
    assert items[1].summary == "نسخة AMP من خبر المعرض."


def test_rss1_rdf_and_rss091_in_windows_1256() -> None:
    rdf = parse_feed(feed("rss1.rdf"), url=f"{BASE}/rdf", tz=UTC)
    assert [i.url for i in rdf] == [f"{BASE}/news/1006.html"]
    assert rdf[0].published_at == datetime(2024, 12, 4, 7, 45, tzinfo=BAGHDAD)
    old = parse_feed(feed("rss091.xml"), url=f"{BASE}/091", tz=UTC)
    assert old[0].title == "محافظ البصرة يفتتح مشروعا لتحلية مياه الشرب"
    assert old[0].summary == "افتتح محافظ البصرة مشروعا جديدا."


def test_malformed_feed_yields_what_can_be_recovered() -> None:
    items = parse_feed(feed("malformed.xml"), url=f"{BASE}/bad", tz=UTC)
    # The item without a link is dropped; the other survives the bare '&', the undefined
    # entity and the unclosed tags.
    assert [i.url for i in items] == [f"{BASE}/news/broken-markup.html"]
    assert items[0].summary is not None and "ووسم غير مغلق" in items[0].summary


@pytest.mark.parametrize("content", [feed("not-a-feed.html"), b"", b"\x00\x01\x02garbage"])
def test_not_a_feed_is_a_feed_error(content: bytes) -> None:
    with pytest.raises(FeedError):
        parse_feed(content, url=f"{BASE}/x", tz=UTC)


def test_relative_links_resolve_against_the_feed_url() -> None:
    doc = b"""<rss version="2.0"><channel><title>t</title>
      <item><title>a</title><link>/news/7.html</link></item>
      <item><title>b</title><guid>https://news.example/news/8.html</guid></item>
      <item><title>c</title><link>javascript:alert(1)</link></item>
    </channel></rss>"""
    items = parse_feed(doc, url="https://news.example/feeds/all.xml", tz=UTC)
    assert [i.url for i in items] == [
        "https://news.example/news/7.html",
        "https://news.example/news/8.html",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sun, 01 Dec 2024 09:30:00 +0300", datetime(2024, 12, 1, 9, 30, tzinfo=BAGHDAD)),
        ("Sun, 01 Dec 2024 06:30:00 GMT", datetime(2024, 12, 1, 6, 30, tzinfo=UTC)),
        ("2024-12-01T09:30:00Z", datetime(2024, 12, 1, 9, 30, tzinfo=UTC)),
        ("2024-12-01 09:30:00", datetime(2024, 12, 1, 9, 30, tzinfo=BAGHDAD)),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_time(text: str, expected: datetime | None) -> None:
    assert parse_time(text, BAGHDAD) == expected


def test_listing_links() -> None:
    html = (FIX / "listing.html").read_text(encoding="utf-8")
    pattern = re.compile(r"/news/\d+\.html$")
    items = parse_listing(html, listing=Listing(f"{BASE}/listing.html", pattern))
    assert [(i.url, i.title) for i in items] == [
        (f"{BASE}/news/1006.html", "أمطار غزيرة تغمر شوارع الموصل وتعطل الدوام الرسمي")
    ]
    # Without a pattern: every same-host link except the home page.
    loose = parse_listing(html, listing=Listing(f"{BASE}/listing.html"))
    assert [i.url for i in loose] == [f"{BASE}/politics", f"{BASE}/news/1006.html"]


def test_html_to_text() -> None:
    assert html_to_text("<p>أ &amp; ب</p><p>ج<br/>د</p>") == "أ & ب\nج\nد"


# ---------------------------------------------------------------- decoding
ARABIC = "محافظ البصرة يفتتح مشروعا لتحلية مياه الشرب في قضاء أبي الخصيب"


@pytest.mark.parametrize(
    ("name", "content_type", "codec"),
    [
        ("news-1001.html", "text/html; charset=utf-8", "utf-8"),
        ("news-1002-windows-1256.html", "text/html", "cp1256"),  # <meta charset>
        ("news-1003-iso-8859-6.html", None, "iso8859-6"),  # nothing declared: guessed
    ],
)
def test_decode_fixture_pages(name: str, content_type: str | None, codec: str) -> None:
    text, used = decode_page((FIX / name).read_bytes(), content_type)
    assert used == codec
    assert "\ufffd" not in text and "<h1>" in text


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (ARABIC.encode("cp1256"), "text/html; charset=windows-1256"),
        (ARABIC.encode("cp1256"), "text/html; charset=CP1256"),
        (ARABIC.encode("iso8859_6"), 'text/html; charset="ISO-8859-6"'),
        (ARABIC.encode("cp1256"), None),  # guessed
        (ARABIC.encode("iso8859_6"), None),  # guessed
        (codecs.BOM_UTF8 + ARABIC.encode(), "text/html; charset=windows-1256"),  # BOM wins
        (ARABIC.encode(), "text/html; charset=windows-1256"),  # lying header: utf-8 still read
        (b'<meta charset="windows-1256">' + ARABIC.encode("cp1256"), "text/html; charset=bogus"),
    ],
)
def test_decode_arabic_encodings(content: bytes, content_type: str | None) -> None:
    text, _ = decode_page(content, content_type)
    assert ARABIC in text


def test_decode_never_raises() -> None:
    text, _ = decode_page(bytes(range(256)) * 4, "text/html; charset=utf-8")
    assert isinstance(text, str)


# ---------------------------------------------------------------- extraction
def test_extract_fixture_page() -> None:
    html = (FIX / "news-1001.html").read_text(encoding="utf-8")
    found = extract(html, url=f"{BASE}/news/1001.html?utm_source=x", default_lang="en")
    assert found.title == "وزارة الداخلية العراقية تعلن اعتقال خلية في الأنبار"
    assert found.text is not None and "اعتقال خلية مؤلفة من خمسة أشخاص" in found.text
    assert "الأكثر قراءة" not in found.text and "جميع الحقوق" not in found.text
    assert found.lang == "ar"
    assert found.canonical == f"{BASE}/news/1001.html"


def test_extract_broken_markup_and_nonsense() -> None:
    html = (FIX / "news-broken-markup.html").read_text(encoding="utf-8")
    found = extract(html, url=f"{BASE}/b", default_lang="ar")
    assert found.text is not None and "اعتقال خلية" in found.text
    assert extract("<<<>>>\x00", url=f"{BASE}/n", default_lang="ar").text is None


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<link rel="canonical" href="/a/1">', f"{BASE}/a/1"),
        (
            "<link href='https://www.news.example/a/2' rel='canonical'>",
            "https://www.news.example/a/2",
        ),
        ('<link rel="canonical" href="https://elsewhere.example/a">', None),  # other site
        ('<link rel="alternate" href="/a/3">', None),
    ],
)
def test_canonical_link(html: str, expected: str | None) -> None:
    assert canonical_link(html, f"{BASE}/amp/a") == expected


@pytest.mark.parametrize(
    ("text", "html", "expected"),
    [
        ("some text", '<html lang="fr">', "fr"),
        ("خبر عاجل من بغداد about Iraq", None, "ar"),
        ("breaking news from Baghdad", None, "en"),
    ],
)
def test_detect_language(text: str, html: str | None, expected: str) -> None:
    assert detect_language(text, html, "en") == expected


def test_slim_html_keeps_json_ld_and_text() -> None:
    html = (
        '<script>var x=1;</script><script type="application/ld+json">{"datePublished":'
        '"2024-12-01T10:00:00+03:00"}</script><style>p{}</style><!-- c --><p>نص</p>'
        "<svg><path d='M0'/></svg>"
    )
    assert slim_html(html) == (
        '<script type="application/ld+json">{"datePublished":"2024-12-01T10:00:00+03:00"}'
        "</script><p>نص</p>"
    )


def test_content_hash_folds_spelling_but_not_source() -> None:
    a = content_hash("s", "منطقةُ السيدة   زينب خطٌّ أحمر")
    assert a == content_hash("s", "منطقة السيدة زينب خط احمر")
    assert a != content_hash("other", "منطقة السيدة زينب خط احمر")
    assert a != content_hash("s", "منطقة السيدة زينب")
