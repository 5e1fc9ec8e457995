"""The silent losses found by the audit of issue 18, each against a local news web
(tests/unit/ingest/localweb.py, fixture pages in tests/fixtures/ingest/losses): every test here
fails on the ingester as it was before the fix, and names the loss it guards."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
import yaml

from streams import metrics
from streams.ids import canonical_url
from streams.ingest.dedup import url_key
from streams.ingest.extract import (
    canonical_link,
    content_hash,
    decode_page,
    extract,
    is_placeholder,
    structured_text,
)
from streams.ingest.http import Fetcher
from streams.ingest.policy import Backoff, RobotsRules
from streams.ingest.service import Ingester
from streams.ingest.sources import Source, parse_sources
from streams.validation import schema_errors
from tests.unit.ingest.localweb import (
    FIXTURES,
    Answer,
    LocalWeb,
    MemorySink,
    MemoryStore,
    article,
    fetcher_config,
)

PARAS = [
    "أعلنت قيادة العمليات المشتركة إطلاق عملية أمنية واسعة لملاحقة بقايا الخلايا المسلحة في صحراء الأنبار الغربية.",
    "وقال المتحدث باسم القيادة إن قطعات من الجيش والحشد تشارك في العملية بإسناد من طيران الجيش والقوة الجوية.",
    "وأضاف أن العملية تهدف إلى تأمين الطريق الدولي الرابط بين بغداد والحدود الأردنية ومنع تسلل المسلحين.",
]

config = fetcher_config


def sources(text: str) -> list[Source]:
    return parse_sources(yaml.safe_load(text))


def one_feed(base: str, path: str = "/rss.xml", name: str = "outlet", **extra: Any) -> list[Source]:
    more = "".join(f"\n    {k}: {v}" for k, v in extra.items())
    return sources(
        f"schema_version: 1\nsources:\n  - name: {name}\n    feeds: ['{base}{path}']{more}\n"
    )


def item(path: str, title: str, description: str | None = None) -> dict[str, str]:
    entry = {"title": title, "link": "{BASE}" + path}
    if description is not None:
        entry["description"] = description
    return entry


def by_path(sink: MemorySink, base: str) -> dict[str, dict[str, Any]]:
    return {m["url"].removeprefix(base): m for m in sink.messages}


# ---------------------------------------------------------------- 1. JavaScript placeholders
@pytest.mark.parametrize(
    ("text", "placeholder"),
    [
        ("جار التحميل...", True),
        ("جاري التحميل", True),
        ("يرجى تفعيل جافا سكريبت لعرض هذه الصفحة.", True),
        ("Loading...", True),
        ("عاجل | انفجار يهز منطقة الكرادة وسط بغداد", False),
        (" ".join(PARAS) + " جار التحميل", False),  # a real text mentioning it is no placeholder
        (None, False),
    ],
)
def test_placeholder_texts(text: str | None, placeholder: bool) -> None:
    assert is_placeholder(text) is placeholder


def test_structured_text_reads_json_ld_and_next_data() -> None:
    ld_page = (FIXTURES / "js-shell-jsonld.html").read_text(encoding="utf-8")
    next_page = (FIXTURES / "js-shell-next.html").read_text(encoding="utf-8")
    ld, nxt = structured_text(ld_page)
    assert ld is not None and ld.startswith("افتتحت محافظة نينوى") and nxt is None
    assert ld.count("\n") == 2  # paragraphs kept
    ld, nxt = structured_text(next_page)
    assert ld is None and nxt is not None
    assert nxt.startswith("وصلت إلى مطار النجف الدولي") and "<p>" not in nxt
    assert "الرئيسية" not in nxt  # the menu's short strings are not the article
    assert structured_text("<script type='application/ld+json'>{broken</script>") == (None, None)


async def test_js_rendered_pages_never_publish_their_placeholder() -> None:
    """Loss 1: «جار التحميل...» was published as the body, and its content hash then dropped
    every later placeholder page of the outlet as a duplicate."""
    async with LocalWeb() as w:
        w.fixture("/live/3101", "js-shell-jsonld.html")
        w.fixture("/live/3102", "js-shell-next.html")
        w.fixture("/live/3103", "js-shell-bare.html")
        w.fixture("/live/3104", "js-shell-bare.html")
        w.fixture("/live/3105", "js-shell-bare.html")
        w.set("/live/3106", article("عملية أمنية في صحراء الأنبار", PARAS))
        summary = "ملخص من الخلاصة: " + PARAS[1]
        w.feed(
            "/rss.xml",
            [  # newest first, as feeds list them
                item("/live/3106", "عملية أمنية في صحراء الأنبار"),
                item("/live/3105", "خبر بلا ملخص"),
                item("/live/3104", "خبر آخر بلا ملخص"),
                item("/live/3103", "خبر بملخص", summary),
                item("/live/3102", "وصول دفعة من الحجاج العراقيين إلى مطار النجف"),
                item("/live/3101", "افتتاح جسر جديد على نهر دجلة في الموصل"),
            ],
        )
        store, sink = MemoryStore(), MemorySink()
        async with Fetcher(config()) as fetcher:
            report = await Ingester(one_feed(w.base), fetcher, store, sink).run_once()
    published = by_path(sink, w.base)
    assert sorted(published) == ["/live/3101", "/live/3102", "/live/3103", "/live/3106"]
    for message in sink.messages:
        assert "جار التحميل" not in message["body"] and "تفعيل جافا" not in message["body"]
        assert schema_errors("raw-article", message) == []
    # JSON-LD articleBody and Next.js data are the article; sent as text (the worker's own
    # reading of the page would find the placeholder again).
    assert published["/live/3101"]["body"].startswith("افتتحت محافظة نينوى صباح اليوم")
    assert published["/live/3101"]["content_type"] == "text/plain"
    assert published["/live/3102"]["body"].startswith("وصلت إلى مطار النجف الدولي")
    assert published["/live/3103"]["body"] == summary
    assert published["/live/3106"]["content_type"] == "text/html"
    # Nothing to publish for the bare shells without a summary — and no duplicate either.
    assert (report.new, report.skipped, report.duplicates) == (4, 2, 0)
    assert not store.state.seen_content(content_hash("outlet", "جار التحميل..."))


# ---------------------------------------------------------------- 2. canonical links
@pytest.mark.parametrize(
    ("page", "canonical", "expected"),
    [
        (
            "https://e.com/news/1.html",
            "https://e.com/news/1.html?x=1",
            "https://e.com/news/1.html?x=1",
        ),
        ("https://e.com/news/1.html", "/news/1-slug.html", "https://e.com/news/1-slug.html"),
        ("https://e.com/news/1.html", "https://e.com/", None),  # the home page
        ("https://e.com/news/1.html", "https://www.e.com", None),
        ("https://e.com/news/1.html", "/index.php", None),
        ("https://e.com/news/1.html", "/news/", None),  # the section above the page
        ("https://e.com/a/b/c/1.html", "/a/b", None),
        ("https://e.com/news/1.html", "/?p=123", "https://e.com/?p=123"),  # an id in the query
        ("https://e.com/news/1.html", "https://other.org/news/1.html", None),  # other site
    ],
)
def test_canonical_link_refuses_home_and_section_pages(
    page: str, canonical: str, expected: str | None
) -> None:
    html = f'<html><head><link rel="canonical" href="{canonical}"></head><body></body></html>'
    assert canonical_link(html, page) == expected


async def test_a_canonical_to_the_home_or_a_listing_does_not_collapse_articles() -> None:
    """Loss 2: a template's canonical pointing at the home page (or a listing) made every
    article of the site one URL: all but the first were dropped as duplicates."""
    canonicals = {
        "/news/6001.html": "{BASE}/",
        "/news/6002.html": "{BASE}/news/",
        "/news/6003.html": "{BASE}/latest.html",  # the source's own listing page
        "/news/6004.html": "{BASE}/section.php?cat=3",  # fails the listing's link pattern
        "/news/6005.html": "{BASE}/news/6005.html",  # a good one, as most are
    }
    async with LocalWeb() as w:
        for n, (path, canonical) in enumerate(canonicals.items()):
            head = f'<link rel="canonical" href="{canonical}">'
            w.set(path, article(f"خبر رقم {n}", [f"الفقرة الخاصة بالخبر {n}.", *PARAS], head=head))
        links = "".join(f'<a href="{p}">خبر</a>' for p in canonicals)
        w.set("/latest.html", f"<html><body>{links}</body></html>")
        doc = f"""schema_version: 1
sources:
  - name: outlet
    listings: [{{url: "{w.base}/latest.html", link_pattern: '/news/\\d+\\.html$'}}]
"""
        store, sink = MemoryStore(), MemorySink()
        async with Fetcher(config()) as fetcher:
            report = await Ingester(sources(doc), fetcher, store, sink).run_once()
    assert report.duplicates == 0 and report.new == 5
    assert sorted(by_path(sink, w.base)) == sorted(canonicals)
    assert len({m["id"] for m in sink.messages}) == 5


# ---------------------------------------------------------------- 3. 429 / 408 / 503
@pytest.mark.parametrize("status", [429, 503, 408])
async def test_a_page_answering_not_now_is_retried_and_the_host_rests(status: int) -> None:
    """Loss 3: a 429 (or 408) on an article page was filed as permanent, the URL remembered as
    unavailable and never asked again; a Retry-After was ignored for the rest of the host."""
    rests = status in {429, 503}
    async with LocalWeb() as w:
        busy = Answer(b"busy", status=status, headers={"Retry-After": "1"})
        w.sequence("/news/7001.html", [busy, Answer(article("الخبر الأول", PARAS).encode())])
        w.set("/news/7002.html", article("الخبر الثاني", PARAS[1:]))
        w.feed(
            "/rss.xml",
            [item("/news/7002.html", "الخبر الثاني"), item("/news/7001.html", "الخبر الأول")],
        )
        store, sink = MemoryStore(), MemorySink()
        now = [1000.0]
        srcs = one_feed(w.base)

        def ingester(fetcher: Fetcher, store: MemoryStore) -> Ingester:
            backoff = Backoff(base=1, jitter=0)
            return Ingester(srcs, fetcher, store, sink, backoff=backoff, clock=lambda: now[0])

        async with Fetcher(config()) as fetcher:
            first = await ingester(fetcher, store).run_once()
        assert first.new == (0 if rests else 1) and first.retry >= 1
        assert not store.state.seen_url(f"{w.base}/news/7001.html")  # not given up
        assert f"{w.base}/news/7001.html" in store.state.backoffs
        if rests:  # the whole host rests: 7002 was not asked for, and that survives a restart
            assert w.hits_of("/news/7002.html") == []
            assert list(store.state.host_rest) == [w.base]
            async with Fetcher(config()) as fetcher:
                again = await ingester(fetcher, store.rebuilt()).run_once()
            assert again.new == 0 and len(w.hits_of("/news/7001.html")) == 1
            assert w.hits_of("/news/7002.html") == []
        await asyncio.sleep(1.1)  # the Retry-After (the backoff honours it too) is over
        now[0] += 10
        async with Fetcher(config()) as fetcher:
            later = await ingester(fetcher, store.rebuilt()).run_once()
    published = by_path(sink, w.base)
    assert sorted(published) == ["/news/7001.html", "/news/7002.html"]
    assert later.new == (2 if rests else 1)
    assert [h.status for h in w.hits_of("/news/7001.html")] == [status, 200]


async def test_a_failing_feed_backoff_survives_a_restart() -> None:
    async with LocalWeb() as w:
        w.set("/rss.xml", "error", status=500)
        now, wall = [5000.0], [1_700_000_000.0]

        def ingester(fetcher: Fetcher, store: MemoryStore) -> Ingester:
            return Ingester(
                one_feed(w.base),
                fetcher,
                store,
                MemorySink(),
                backoff=Backoff(base=60, jitter=0),
                clock=lambda: now[0],
                wall=lambda: wall[0],
            )

        store = MemoryStore()
        async with Fetcher(config()) as fetcher:
            await ingester(fetcher, store).run_once()
            await ingester(fetcher, store.rebuilt()).run_once()  # restarted at once: waits
            assert len(w.hits_of("/rss.xml")) == 1
            now[0], wall[0] = 10.0, wall[0] + 61  # a new process clock, a minute later
            await ingester(fetcher, store.rebuilt()).run_once()
            assert len(w.hits_of("/rss.xml")) == 2
        # Two failures in a row: the source's gauge says so.
        gauge = metrics.INGEST_SOURCE_FAILING.labels(source="outlet")._value.get()
        assert gauge == 2


# ---------------------------------------------------------------- 4. robots.txt (RFC 9309)
ROBOTS = """
User-agent: *
Disallow: /news/
Allow: /news/public-
Disallow: /*?print=
Disallow: /*.pdf$
"""


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/news/9.html", False),
        ("/news/public-9.html", True),  # the longer Allow wins (robotparser: first match)
        ("/story/9?print=1", False),  # wildcard (robotparser: ignored)
        ("/story/9?page=1", True),
        ("/files/a.pdf", False),  # end anchor
        ("/files/a.pdf?dl=1", True),
        ("/other", True),
    ],
)
def test_robots_rules_follow_rfc_9309(path: str, allowed: bool) -> None:
    rules = RobotsRules.from_response(200, ROBOTS, now=0)
    assert rules.allowed("RasidBot", "https://e.com" + path) is allowed


async def test_robots_wildcards_and_longest_match_are_obeyed_when_fetching() -> None:
    """Loss 4: `*` and `$` rules were ignored and the first match won: a disallowed print
    view was fetched, an allowed article under a disallowed folder was not."""
    async with LocalWeb() as w:
        w.set("/robots.txt", ROBOTS, headers={"Content-Type": "text/plain"})
        w.set("/news/public-8001.html", article("خبر مسموح", PARAS))
        w.set("/story/8002", article("نسخة للطباعة", PARAS[1:]))
        w.feed(
            "/rss.xml",
            [
                item("/news/public-8001.html", "خبر مسموح"),
                item("/story/8002?print=1", "نسخة للطباعة", "ملخص نسخة الطباعة من الخلاصة."),
            ],
        )
        sink = MemorySink()
        async with Fetcher(config()) as fetcher:
            await Ingester(one_feed(w.base), fetcher, MemoryStore(), sink).run_once()
    published = by_path(sink, w.base)
    assert published["/news/public-8001.html"]["content_type"] == "text/html"
    assert w.hits_of("/story/8002") == []  # never asked for: the summary stands in
    assert published["/story/8002?print=1"]["body"] == "ملخص نسخة الطباعة من الخلاصة."


# ---------------------------------------------------------------- 5. mislabelled charsets
def test_decode_overrules_a_latin_label_on_arabic_bytes() -> None:
    raw = (FIXTURES / "page-windows-1256-labelled-latin1.html").read_bytes()
    for content_type in ("text/html", "text/html; charset=ISO-8859-1"):
        text, codec = decode_page(raw, content_type)
        assert codec == "windows-1256" and "حملة لتطعيم الأطفال" in text
    latin = "Café crème brûlée à la française, déjà vu. " * 10
    assert decode_page(latin.encode("latin-1"), "text/html; charset=iso-8859-1")[0] == latin


async def test_a_windows_1256_feed_with_a_wrong_charset_is_read_as_arabic() -> None:
    """Loss 5: feedparser believed the HTTP charset (ISO-8859-1) of a windows-1256 feed and
    published «æÒíÑ ÇáäÝØ» instead of «وزير النفط»."""
    async with LocalWeb() as w:
        raw = (FIXTURES / "feed-windows-1256.xml").read_bytes()
        for path, content_type in [
            ("/latin1.xml", "application/rss+xml; charset=iso-8859-1"),
            ("/plain.xml", "text/xml"),
        ]:
            w.set(path, raw, headers={"Content-Type": content_type})
        doc = f"""schema_version: 1
sources:
  - {{name: latin1, fetch_pages: false, feeds: ["{w.base}/latin1.xml"]}}
  - {{name: plain, fetch_pages: false, feeds: ["{w.base}/plain.xml"]}}
"""
        store, sink = MemoryStore(), MemorySink()
        async with Fetcher(config()) as fetcher:
            await Ingester(sources(doc), fetcher, store, sink).run_once()
    assert len(sink.messages) == 2  # one per URL: the second source's copies are duplicates
    bodies = {m["title"]: m["body"] for m in sink.messages}
    assert sorted(bodies) == sorted(
        ["وزير النفط يعلن زيادة صادرات البصرة", "افتتاح مدرسة جديدة في قضاء الزبير"]
    )
    assert "موانئ البصرة" in bodies["وزير النفط يعلن زيادة صادرات البصرة"]
    assert "مديرية تربية البصرة" in bodies["افتتاح مدرسة جديدة في قضاء الزبير"]
    for message in sink.messages:
        assert not any("\u00c0" <= c <= "\u00ff" for c in message["body"] + message["title"])
        assert message["lang"] == "ar"


# ---------------------------------------------------------------- 6. table and <br> layouts
@pytest.mark.parametrize(
    ("fixture", "first_words"),
    [
        ("table-layout.html", "أعلنت مديرية توزيع كهرباء نينوى"),
        ("table-br-layout.html", "الرمادي - حذرت مديرية الموارد المائية"),
    ],
)
def test_table_layouts_are_read_by_the_second_pass(fixture: str, first_words: str) -> None:
    html = (FIXTURES / fixture).read_text(encoding="utf-8")
    found = extract(html, url="https://e.com/news/1.html", default_lang="ar")
    assert found.method == "recall" and found.text is not None
    assert first_words in found.text
    for chrome in ("رياضة", "أرشيف", "العالم", "خبر ثان", "جميع الحقوق"):  # menus, footers
        assert chrome not in found.text
    assert found.text.count("\n") >= 2  # the <br> paragraphs stay paragraphs


async def test_table_layout_pages_are_published() -> None:
    """Loss 6: trafilatura found nothing in a table layout: with no feed summary the item was
    skipped."""
    async with LocalWeb() as w:
        w.fixture("/n/4101", "table-layout.html")
        w.fixture("/n/4102", "table-br-layout.html")
        w.feed("/rss.xml", [item("/n/4101", "انقطاع الكهرباء"), item("/n/4102", "الفرات")])
        sink = MemorySink()
        async with Fetcher(config()) as fetcher:
            report = await Ingester(one_feed(w.base), fetcher, MemoryStore(), sink).run_once()
    assert report.new == 2 and report.skipped == 0
    published = by_path(sink, w.base)
    assert "مديرية توزيع كهرباء نينوى" in published["/n/4101"]["body"]
    assert "سد حديثة" in published["/n/4102"]["body"]
    assert all(m["content_type"] == "text/plain" for m in sink.messages)


# ---------------------------------------------------------------- also
@pytest.mark.parametrize(
    "url",
    [
        "https://e.com/a/1.html?xtor=RSS-3",
        "https://e.com/a/1.html?at_medium=rss&at_campaign=feed",
        "https://e.com/a/1.html?utm_source=x&xtor=AL-1&at_medium=m",
    ],
)
def test_at_internet_tracking_parameters_are_stripped(url: str) -> None:
    assert canonical_url(url) == "https://e.com/a/1.html"
    assert url_key(url) == url_key("https://e.com/a/1.html")


async def test_the_same_url_in_two_sources_is_published_once() -> None:
    async with LocalWeb() as w:
        w.set("/news/shared.html", article("خبر في مصدرين", PARAS), delay=0.3)
        w.feed("/a.xml", [item("/news/shared.html", "خبر في مصدرين")])
        w.feed("/b.xml", [item("/news/shared.html", "خبر في مصدرين")])
        doc = f"""schema_version: 1
sources:
  - {{name: a, feeds: ["{w.base}/a.xml"]}}
  - {{name: b, feeds: ["{w.base}/b.xml"]}}
"""
        store, sink = MemoryStore(), MemorySink()
        async with Fetcher(config()) as fetcher:
            ingester = Ingester(sources(doc), fetcher, store, sink)
            await ingester.run_once()
            await ingester.run_once()
    assert len(sink.messages) == 1
    assert len(w.hits_of("/news/shared.html")) == 1


async def test_a_page_that_always_times_out_backs_off_then_is_given_up() -> None:
    async with LocalWeb() as w:
        w.set("/news/stuck.html", article("صفحة عالقة", PARAS), delay=3.0)
        w.feed("/rss.xml", [item("/news/stuck.html", "صفحة عالقة")])
        store, sink, now = MemoryStore(), MemorySink(), [0.0]
        async with Fetcher(config(timeout=0.3)) as fetcher:
            ingester = Ingester(
                one_feed(w.base),
                fetcher,
                store,
                sink,
                backoff=Backoff(base=10, jitter=0),
                clock=lambda: now[0],
                page_max_attempts=3,
            )
            asked = []
            for t in (0, 5, 11, 25, 35, 1000, 5000):  # backoffs 10 s, then 20 s: asked at 0, 11, 35
                now[0] = t
                report = await ingester.run_once()
                asked.append(len(w.hits_of("/news/stuck.html")))
    assert asked == [1, 1, 2, 2, 3, 3, 3]
    assert report.retry == 0 and sink.messages == []
    assert store.state.seen_url(f"{w.base}/news/stuck.html")  # given up, remembered as such
    assert f"{w.base}/news/stuck.html" not in store.state.backoffs


async def test_sigterm_mid_poll_ends_at_once_and_publishes_nothing_twice() -> None:
    async with LocalWeb() as w:
        w.set("/news/fast.html", article("خبر سريع", PARAS))
        w.set("/news/slow.html", article("خبر بطيء", PARAS[1:]), delay=20.0)
        w.feed(
            "/rss.xml",
            [item("/news/slow.html", "خبر بطيء"), item("/news/fast.html", "خبر سريع")],
        )
        store, sink = MemoryStore(), MemorySink()
        async with Fetcher(config(timeout=30.0)) as fetcher:
            ingester = Ingester(one_feed(w.base), fetcher, store, sink)
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(0.5, stop.set)
            started = time.monotonic()
            clean = await ingester.run_until_stopped(stop, grace=8.0)
            elapsed = time.monotonic() - started
            assert clean and elapsed < 3.0, elapsed
            assert [m["url"].rsplit("/", 1)[1] for m in sink.messages] == ["fast.html"]
            # The feed's validators were not kept: the next run reads it whole.
            assert store.state.validators_for(f"{w.base}/rss.xml").etag is None
            w.set("/news/slow.html", article("خبر بطيء", PARAS[1:]))
            await ingester.run_once()
    urls = [m["url"].rsplit("/", 1)[1] for m in sink.messages]
    assert urls == ["fast.html", "slow.html"]


async def test_once_reports_statuses_per_source_and_polls_log_a_heartbeat(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with LocalWeb() as w:
        w.set("/news/1.html", article("خبر", PARAS))
        w.feed("/good.xml", [item("/news/1.html", "خبر")])
        w.set("/slow.xml", "<rss/>", delay=3.0)
        doc = f"""schema_version: 1
sources:
  - {{name: good, feeds: ["{w.base}/good.xml"], interval_seconds: 60}}
  - {{name: bad, feeds: ["{w.base}/missing.xml"], interval_seconds: 60}}
  - {{name: slow, feeds: ["{w.base}/slow.xml"], interval_seconds: 60}}
"""
        before = metrics.INGEST_SOURCE_FAILURES.labels(source="bad", status="404")._value.get()
        async with Fetcher(config(timeout=0.5)) as fetcher:
            ingester = Ingester(sources(doc), fetcher, MemoryStore(), MemorySink())
            total = await ingester.run_once()
            reports = {n: r.summary() for n, r in ingester.last_reports.items()}
            assert reports["good"]["statuses"] == {"200": 2} and reports["good"]["new"] == 1
            assert reports["bad"]["statuses"] == {"404": 1} and reports["bad"]["errors"] == 1
            assert reports["slow"]["statuses"] == {"timeout": 1}
            assert total.summary()["statuses"] == {"200": 2, "404": 1, "timeout": 1}
            after = metrics.INGEST_SOURCE_FAILURES.labels(source="bad", status="404")._value.get()
            assert after == before + 1
            # The long-running loop logs one line per poll, new articles or not.
            stop = asyncio.Event()
            with caplog.at_level(logging.INFO, logger="streams.ingest.service"):
                task = asyncio.ensure_future(ingester.run(stop))
                for _ in range(100):
                    polled = {r.source for r in caplog.records if r.msg == "polled"}  # type: ignore[attr-defined]
                    if polled == {"good", "bad", "slow"}:
                        break
                    await asyncio.sleep(0.05)
                stop.set()
                await asyncio.wait_for(task, 5)
    heartbeats = [r for r in caplog.records if r.msg == "polled"]
    assert {r.source for r in heartbeats} == {"good", "bad", "slow"}  # type: ignore[attr-defined]
    good = next(r for r in heartbeats if r.source == "good")  # type: ignore[attr-defined]
    assert good.new == 0 and good.statuses == {"304": 1}  # type: ignore[attr-defined]
