"""The ingester's extra source kinds end to end against a local HTTP server (127.0.0.1, in this
process): a Telegram channel preview, sitemaps named by robots.txt (an index, a gzip news
sitemap, a plain one) and a feed discovered on a home page; state and sink in memory."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from streams import metrics
from streams.ids import article_id
from streams.ingest.dedup import DedupState, record_errors
from streams.ingest.http import Fetcher, FetcherConfig
from streams.ingest.policy import HostPolicy
from streams.ingest.pollers import MoreSources
from streams.ingest.service import Ingester, PollReport
from streams.ingest.sources import parse_sources
from streams.validation import schema_errors

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "ingest"
CHANNEL = "akhbar_iraq_test"
NOW = datetime(2024, 12, 1, 8, 0, tzinfo=UTC)  # the fixture posts are from 06:02 to 06:55 UTC
OLDER_PAGE = """<html><head><link rel="prev" href="/s/akhbar_iraq_test?before=1199"></head><body>
<div class="tgme_widget_message_wrap"><div class="tgme_widget_message" data-post="akhbar_iraq_test/1199">
<div class="tgme_widget_message_text">خبر من قبل ثلاثة أيام</div>
<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="#">
<time datetime="2024-11-28T06:00:00+00:00"></time></a></span></div></div>
<div class="tgme_widget_message_wrap"><div class="tgme_widget_message" data-post="akhbar_iraq_test/1200">
<div class="tgme_widget_message_text">خبر آخر من قبل ثلاثة أيام</div>
<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="#">
<time datetime="2024-11-28T07:00:00+00:00"></time></a></span></div></div>
</body></html>"""
HOME = """<html><head><title>الرئيسية</title>
<link rel="alternate" type="application/rss+xml" title="أحدث الأخبار" href="/feeds/discovered.xml">
<link rel="alternate" type="application/rss+xml" href="https://elsewhere.example/rss">
</head><body><p>الصفحة الرئيسية</p></body></html>"""
DISCOVERED_FEED = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title><link>{BASE}/</link>
<item><title>محافظ البصرة يفتتح مشروعا لتحلية مياه الشرب</title><link>{BASE}/news/1002.html</link>
<pubDate>Sun, 01 Dec 2024 07:15:00 +0300</pubDate></item>
</channel></rss>"""

# The local test server: its site, and loopback addresses allowed.
LOOPBACK = HostPolicy.of(["127.0.0.1"], allow_private=True)


@dataclass
class Server:
    """Serves the fixtures; `telegram` is the current preview page (tests edit it)."""

    base: str = ""
    telegram: str = (FIXTURES / "telegram" / f"{CHANNEL}.html").read_text(encoding="utf-8")
    requests: list[str] = field(default_factory=list)

    def hits(self, path_qs: str) -> int:
        return sum(1 for r in self.requests if r == path_qs)

    def _file(self, name: str) -> bytes:
        return (FIXTURES / name).read_bytes().replace(b"{BASE}", self.base.encode())

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        html = "text/html; charset=utf-8"
        path = request.path
        if path == "/robots.txt":
            text = f"User-agent: *\nDisallow: /private/\nSitemap: {self.base}/sitemap_index.xml\n"
            return web.Response(text=text, content_type="text/plain")
        if path == f"/s/{CHANNEL}":
            page = OLDER_PAGE if request.query.get("before") == "1201" else self.telegram
            return web.Response(text=page, content_type="text/html")
        if path == "/sitemap_index.xml":
            return web.Response(
                body=self._file("sitemaps/sitemap-index.xml"), content_type="application/xml"
            )
        if path == "/sitemaps/news.xml.gz":  # a .gz file, not a gzip Content-Encoding
            body = gzip.compress(self._file("sitemaps/news.xml"))
            return web.Response(body=body, content_type="application/x-gzip")
        if path == "/sitemaps/pages-2024-12.xml":
            return web.Response(body=self._file("sitemaps/pages.xml"), content_type="text/xml")
        if path == "/":
            return web.Response(text=HOME, content_type="text/html")
        if path == "/feeds/discovered.xml":
            body = DISCOVERED_FEED.replace("{BASE}", self.base).encode()
            return web.Response(body=body, content_type="application/rss+xml")
        pages = {
            "/news/1001.html": ("news-1001.html", html),
            "/news/1004.html": ("news-1004.html", html),
            "/news/1006.html": ("news-1006.html", html),
            "/news/relative.html": ("news-1003-iso-8859-6.html", "text/html"),
            "/news/1002.html": ("news-1002-windows-1256.html", "text/html"),
        }
        if path in pages:
            name, content_type = pages[path]
            return web.Response(body=self._file(name), headers={"Content-Type": content_type})
        return web.Response(status=404, text="not found")


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", state.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield state
    finally:
        await runner.cleanup()


class MemoryStore:
    def __init__(self, log: list[tuple[str, bytes]] | None = None) -> None:
        self.log = list(log or [])
        self.state = DedupState()
        for key, value in self.log:
            self.state.apply(key, value)

    async def put(self, records: list[tuple[str, bytes]]) -> None:
        for key, value in records:
            assert record_errors(value) == [], (key, value)
            self.state.apply(key, value)
            self.log.append((key, value))


class MemorySink:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def publish(self, message: dict[str, Any]) -> str:
        assert schema_errors("raw-article", message) == [], message
        self.messages.append(message)
        return article_id(message)


def sources(base: str) -> list[Any]:
    return parse_sources(
        yaml.safe_load(
            f"""
schema_version: 1
defaults: {{timezone: Asia/Baghdad}}
sources:
  - name: tg
    telegram: ["{CHANNEL}"]
  - name: sm
    home: "{base}/"
    sitemaps: robots
  - name: disc
    home: "{base}/"
    discover: true
"""
        )
    )


async def poll(server: Server, store: MemoryStore, sink: MemorySink, **only: Any) -> PollReport:
    config = FetcherConfig(
        user_agent="RasidBot/0.1 (test)",
        timeout=5.0,
        host_interval=0.0,
        host_concurrency=4,
        policy=LOOPBACK,
    )
    chosen = [s for s in sources(server.base) if not only or s.name in only["names"]]
    async with Fetcher(config) as fetcher:
        ingester = Ingester(
            chosen,
            fetcher,
            store,
            sink,
            more=MoreSources(telegram_base=server.base, now=lambda: NOW),
        )
        return await ingester.run_once()


def telegram_fetches(outcome: str) -> float:
    return float(
        metrics.INGEST_FETCHES.labels(source="tg", kind="telegram", outcome=outcome)._value.get()
    )


async def test_telegram_posts_are_published_once_with_revisions(server: Server) -> None:
    store, sink = MemoryStore(), MemorySink()
    before = telegram_fetches("ok")
    report = await poll(server, store, sink, names={"tg"})
    by_id = {m["id"]: m for m in sink.messages}
    # The service message (1201) and the emoji-only photo (1206) are not published; the older
    # page was read (every post on the first was new) but its posts are past the 48 h window.
    assert list(by_id) == [f"telegram:{CHANNEL}/{n}" for n in (1202, 1203, 1204, 1205, 1207)]
    assert (report.new, report.skipped, report.errors) == (5, 3, 0)
    assert server.hits(f"/s/{CHANNEL}?before=1201") == 1
    assert telegram_fetches("ok") == before + 2
    first = by_id[f"telegram:{CHANNEL}/1202"]
    assert first["url"] == f"https://t.me/{CHANNEL}/1202"
    assert first["source"] == "tg" and first["revision"] == 1 and first["schema_version"] == 2
    assert first["title"].startswith("🔴 عاجل | انفجار يهز منطقة الكرادة")
    assert first["published_at"] == "2024-12-01T06:02:41+00:00"
    assert first["telegram"]["views"] == 15300
    forwarded = by_id[f"telegram:{CHANNEL}/1203"]["telegram"]["forwarded_from"]
    assert forwarded == {"name": "وزارة الداخلية (تجريبي)", "url": "https://t.me/wizarat_demo/877"}
    assert by_id[f"telegram:{CHANNEL}/1204"]["telegram"]["media"] == [
        "https://cdn4.cdn-telegram.org/file/photo-1204-demo.jpg"
    ]

    # Polled again, unchanged: nothing; and the first page alone is read (its posts are known).
    again = await poll(server, store, sink, names={"tg"})
    assert (again.new, again.revisions) == (0, 0) and len(sink.messages) == 5
    assert server.hits(f"/s/{CHANNEL}?before=1201") == 1

    # 1202 is edited: revision 2 of the same id, nothing else.
    server.telegram = server.telegram.replace(
        "وأنباء عن سقوط ضحايا", "وسقوط 3 قتلى و7 جرحى"
    ).replace(
        '<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" '
        f'href="https://t.me/{CHANNEL}/1202">',
        '<span class="tgme_widget_message_meta">edited&nbsp;<a class="tgme_widget_message_date" '
        f'href="https://t.me/{CHANNEL}/1202">',
    )
    edited = await poll(server, store, sink, names={"tg"})
    assert (edited.new, edited.revisions) == (0, 1)
    revised = sink.messages[-1]
    assert (revised["id"], revised["revision"]) == (f"telegram:{CHANNEL}/1202", 2)
    assert "وسقوط 3 قتلى و7 جرحى" in revised["title"]
    assert revised["telegram"]["edited"] is True
    unchanged = await poll(server, store, sink, names={"tg"})
    assert (unchanged.new, unchanged.revisions) == (0, 0)

    # Edited once more: revision 3, counted on from the state topic by a restarted process.
    server.telegram = server.telegram.replace("وسقوط 3 قتلى و7 جرحى", "وسقوط 5 قتلى و7 جرحى")
    restarted = MemoryStore(store.log)
    assert (await poll(server, restarted, sink, names={"tg"})).revisions == 1
    assert (sink.messages[-1]["id"], sink.messages[-1]["revision"]) == (
        f"telegram:{CHANNEL}/1202",
        3,
    )
    last = await poll(server, MemoryStore(restarted.log), sink, names={"tg"})
    assert (last.new, last.revisions) == (0, 0)


async def test_a_failing_preview_is_counted_and_backed_off(server: Server) -> None:
    store, sink = MemoryStore(), MemorySink()
    doc = yaml.safe_load('schema_version: 1\nsources: [{name: tg, telegram: ["gone_channel"]}]')
    config = FetcherConfig(
        user_agent="RasidBot/0.1 (test)", timeout=5.0, host_interval=0.0, policy=LOOPBACK
    )
    before = telegram_fetches("client_error")
    async with Fetcher(config) as fetcher:
        ingester = Ingester(
            parse_sources(doc), fetcher, store, sink, more=MoreSources(telegram_base=server.base)
        )
        report = await ingester.run_once()
        assert report.errors == 1 and sink.messages == []
        assert telegram_fetches("client_error") == before + 1
        # the source's failing gauge sees its channel, not only feeds and listings
        assert metrics.INGEST_SOURCE_FAILING.labels(source="tg")._value.get() == 1
        await ingester.run_once()  # within the backoff: not asked again
    assert server.hits("/s/gone_channel") == 1


async def test_sitemaps_from_robots_txt_take_the_page_path(server: Server) -> None:
    store, sink = MemoryStore(), MemorySink()
    report = await poll(server, store, sink, names={"sm"})
    urls = sorted(m["url"].removeprefix(server.base) for m in sink.messages)
    # news (gzip): 1001 (dated), 1004 (undated news entry); pages: 1006, relative.html;
    # old entries, the undated plain entry and the 2019 archive sitemap are left alone.
    assert urls == ["/news/1001.html", "/news/1004.html", "/news/1006.html", "/news/relative.html"]
    assert report.new == 4 and report.errors == 0
    assert server.hits("/sitemaps/pages-2019-01.xml") == 0
    assert server.hits("/news/old-1.html") == server.hits("/about.html") == 0
    assert server.hits("/news/1002.html") == 0
    by_url = {m["url"].removeprefix(server.base): m for m in sink.messages}
    # Fetched pages go as HTML, with the news sitemap's title and date.
    assert by_url["/news/1001.html"]["content_type"] == "text/html"
    assert by_url["/news/1001.html"]["title"] == "القبض على خلية إرهابية في ديالى"
    assert by_url["/news/1001.html"]["published_at"] == "2024-12-01T09:30:00+03:00"
    assert "استضاف مجلس النواب العراقي" in by_url["/news/relative.html"]["body"]
    # Polled again: every entry is known, no page is fetched again.
    pages_before = sum(server.hits(p) for p in by_url)
    again = await poll(server, store, sink, names={"sm"})
    assert again.new == 0 and len(sink.messages) == 4
    assert sum(server.hits(p) for p in by_url) == pages_before


async def test_feeds_discovered_on_the_home_page_are_polled(server: Server) -> None:
    store, sink = MemoryStore(), MemorySink()
    report = await poll(server, store, sink, names={"disc"})
    assert report.new == 1
    (message,) = sink.messages
    assert message["url"] == f"{server.base}/news/1002.html"
    assert message["title"] == "محافظ البصرة يفتتح مشروعا لتحلية مياه الشرب"
    assert server.hits("/feeds/discovered.xml") == 1
    assert server.hits("/") == 1
    assert (await poll(server, store, sink, names={"disc"})).new == 0
